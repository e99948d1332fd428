r"""Monotone basin hopping from a failed start of the practical search.

A start of :func:`.practical.local_search` that ends above the acceptance threshold ends in a local
minimum :math:`\Theta^\circ` of the reduced cost :math:`\|r(\Theta)\|/\|Y\|`. Basin hopping (Wales &
Doye 1997) kicks it, :math:`\Theta_i \leftarrow \Theta^\circ_i + \sigma\|\Theta^\circ_i\|_F\,G_i/\|G_i\|_F`
per head (:math:`G_i` standard Gaussian, :math:`\sigma` = :data:`HOP_SCALE`), runs the plain local
search from there, and keeps the result only if its cost is lower (temperature 0: the *monotone*
variant of Leary 2000, J. Global Optim. 18:367). The chain of one start ends when its best cost has
not fallen for ``patience`` hops, or when a hop is accepted by the threshold.

Why (measured, ``docs/learner.md``, "Basin hopping"): with few examples the basin of the planted
layer is small — at (2, 8, 16) with 3 examples (1.5 n*) a start must have per-head cosine about
0.86 to its planted :math:`\Theta_i` (``benchmarks/results/basin.csv``), which a random start in
:math:`d^2 = 64` dimensions never has (0 of 500 path starts succeeded). A kick of relative size 0.5
(cosine 0.89 to the point kicked) crosses into neighbouring basins; the monotone chain walks down
through them. Ours: nothing here is a guarantee — the answer is judged by the shared certificate.

The chain is :func:`scipy.optimize.basinhopping` at ``T=0`` with this module's kick as
``take_step`` and the local search as the minimiser.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import OptimizeResult, basinhopping

__all__ = ["HOP_SCALE", "HOP_PATIENCE", "HOP_MAX_PARAMS", "hop_patience", "Kick", "hop_chain"]

#: Relative size :math:`\sigma` of a kick, per head. Probe at (2, 8, 16), 1.5 n*, 10 seeds, patience
#: 40, 60 s each (``docs/learner.md``, "Basin hopping"): 0.4, 0.5 and 0.6 all recover most seeds;
#: without restarts of the chain 0.3 is trapped in wrong low minima and 0.7-1.0 act like fresh starts.
HOP_SCALE = 0.5
#: Hops without a lower cost after which a start's chain ends (scipy's ``niter_success``).
HOP_PATIENCE = 40
#: Hop only when the attention parameters :math:`m d^2` are at most this many. Why: at (8, 64, 16),
#: 1.5 n* (32768 parameters), 26 hops from a failed start all stalled at the same plateau (relative
#: residual 0.16 against 0.146; per-head cosines to the planted heads unchanged at 0.2-0.5) at
#: 12 s each — a random kick in :math:`d^2` dimensions is almost orthogonal to the way out.
HOP_MAX_PARAMS = 512


def hop_patience(m: int, d: int, patience: int | None = None) -> int:
    """The chain length rule: ``patience`` if given, else :data:`HOP_PATIENCE` when
    :math:`m d^2 \\le` :data:`HOP_MAX_PARAMS` and 0 (no hops) above."""
    if patience is not None:
        return patience
    return HOP_PATIENCE if m * d * d <= HOP_MAX_PARAMS else 0


class Kick:
    r"""``take_step`` of the chain: :math:`\Theta_i + \sigma\|\Theta_i\|_F\,G_i/\|G_i\|_F` per head.

    Has no ``stepsize`` attribute on purpose: scipy would then adapt it towards an acceptance rate of
    0.5, which a monotone chain (acceptance about 5%) would drive to zero.
    """

    def __init__(self, m: int, d: int, rng: np.random.Generator, scale: float = HOP_SCALE) -> None:
        self.m, self.d, self.rng, self.scale = m, d, rng, scale

    def __call__(self, x: np.ndarray) -> np.ndarray:
        th = x.reshape(self.m, -1)
        G = self.rng.standard_normal(th.shape)
        G *= (self.scale * np.linalg.norm(th, axis=1) / np.linalg.norm(G, axis=1))[:, None]
        return (th + G).ravel()


def hop_chain(first, search: Callable[[np.ndarray], object], m: int, d: int, threshold: float,
              rng: np.random.Generator, patience: int, on_hop: Callable[[object], None] | None = None):
    """Monotone basin hopping from the local-search run ``first`` (module docstring).

    ``search(theta0) -> run`` is the plain local search (any object with ``thetas`` and
    ``relative_residual``). Returns the run of lowest cost: ``first`` itself if no hop lowered it.
    ``on_hop(run)`` is called after every hop (progress). At most ``100 * patience`` hops.
    """
    if patience <= 0 or first.relative_residual <= threshold:
        return first
    calls = [0]

    def quench(fun, x0, *args, **kwargs) -> OptimizeResult:
        # scipy minimises at x0 first: that is ``first``, already computed
        calls[0] += 1
        run = first if calls[0] == 1 else search(x0.reshape(m, d, d))
        if calls[0] > 1 and on_hop is not None:
            on_hop(run)
        return OptimizeResult(x=run.thetas.ravel(), fun=run.relative_residual, success=True, run=run)

    def stop(x, f, accept) -> bool:
        return bool(accept and f <= threshold)

    res = basinhopping(lambda x: np.inf, first.thetas.ravel(), niter=100 * patience, T=0.0,
                       take_step=Kick(m, d, rng), minimizer_kwargs={"method": quench}, callback=stop,
                       niter_success=patience - 1, rng=rng)  # scipy stops after niter_success + 1
    return res.lowest_optimization_result.run
