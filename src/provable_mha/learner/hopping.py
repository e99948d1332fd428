r"""Monotone basin hopping from failed starts, dovetailed with the fresh starts of the practical search.

A start of :func:`.practical.local_search` that ends above the acceptance threshold ends in a local
minimum :math:`\Theta^\circ` of the reduced cost :math:`\|r(\Theta)\|/\|Y\|`. Basin hopping (Wales &
Doye 1997) kicks it, :math:`\Theta_i \leftarrow \Theta^\circ_i + \sigma\|\Theta^\circ_i\|_F\,G_i/\|G_i\|_F`
per head (:math:`G_i` standard Gaussian, :math:`\sigma` = :data:`HOP_SCALE`), runs the plain local
search from there, and keeps the result only if its cost is lower (temperature 0: the *monotone*
variant of Leary 2000, J. Global Optim. 18:367). A chain ends when its best cost has not fallen for
``patience`` hops; the next failed start begins the next chain. The first chain opens only after
:data:`HOP_AFTER` fresh starts have failed: where a fresh start succeeds often, hops would only
delay it.

**Dovetailing.** Hops and fresh starts share the budget: the next local search is a hop exactly when
the hops so far have cost fewer residual evaluations than :data:`HOP_SHARE` times the fresh starts
so far (and a chain is open), else a fresh start, until the starts are spent. A call thus costs at
most ``1 + HOP_SHARE`` times what its fresh starts cost (plus one local search); where only the
chains succeed they get that share of the budget.
Evaluations rather than seconds: the order of the searches, hence the answer, depends on the seed
only.

Why (measured, ``docs/learner.md``, "Basin hopping"): with few examples the basin of the planted
layer is small — at (2, 8, 16) with 3 examples (1.5 n*) a start must have per-head cosine about
0.86 to its planted :math:`\Theta_i` (``benchmarks/results/basin.csv``), which a random start in
:math:`d^2 = 64` dimensions never has. A kick of relative size 0.5 (cosine 0.89 to the point kicked)
crosses into neighbouring basins; the monotone chain walks down through them. Ours: nothing here is a
guarantee — the answer is judged by the shared certificate. (:func:`scipy.optimize.basinhopping`
runs one chain to its end; interleaving chains with fresh starts needs this loop.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

__all__ = ["HOP_SCALE", "HOP_PATIENCE", "HOP_SHARE", "HOP_AFTER", "HOP_MAX_PARAMS", "hop_patience", "Kick", "dovetail"]

#: Relative size :math:`\sigma` of a kick, per head. Probe at (2, 8, 16), 1.5 n*, 10 seeds, a fresh
#: chain after 40 hops without progress, 60 s each (``docs/learner.md``, "Basin hopping"): 0.4, 0.5
#: and 0.6 all recover most seeds; a chain never restarted is trapped in wrong low minima at 0.3 and
#: acts like fresh starts at 0.7-1.0.
HOP_SCALE = 0.5
#: Hops without a lower cost after which a chain ends.
HOP_PATIENCE = 40
#: The hops may cost up to this many times the fresh starts' residual evaluations. Why 4, not 1
#: (``docs/learner.md``, "Basin hopping"): at (2, 8, 16), 1.5 n*, 100 starts, an equal share gave
#: the chains a median of 132 hops and recovered 5 of 10 seeds, while the probes there needed up to
#: about 600 hops (a fresh start costs about as much as 1.7 hops). The price where hops do not
#: help is at most 5x the starts' cost.
HOP_SHARE = 4.0
#: Fresh starts that must fail before the first chain opens. Why (``docs/learner.md``, "Basin
#: hopping"): with chains from the first failed start, (2, 8, 4) at 1.25 n* took a median 3.68 s
#: against 1.17 s without hops (10/10 both; a median of 7 fresh starts succeeded); the cells that
#: need the chains fail hundreds of starts, so 10 more cost them little.
HOP_AFTER = 10
#: Hop only when the attention parameters :math:`m d^2` are at most this many. Why: at (8, 64, 16),
#: 1.5 n* (32768 parameters), 26 hops from a failed start all stalled at the same plateau (relative
#: residual 0.16 against 0.146; per-head cosines to the planted heads unchanged at 0.2-0.5) at
#: 12 s each: a random kick in :math:`d^2` dimensions is almost orthogonal to the way out.
HOP_MAX_PARAMS = 512


def hop_patience(m: int, d: int, patience: int | None = None) -> int:
    """The chain length rule: ``patience`` if given, else :data:`HOP_PATIENCE` when
    :math:`m d^2 \\le` :data:`HOP_MAX_PARAMS` and 0 (no hops) above."""
    if patience is not None:
        return patience
    return HOP_PATIENCE if m * d * d <= HOP_MAX_PARAMS else 0


class Kick:
    r"""The hop's displacement: :math:`\Theta_i + \sigma\|\Theta_i\|_F\,G_i/\|G_i\|_F` per head."""

    def __init__(self, rng: np.random.Generator, scale: float = HOP_SCALE) -> None:
        self.rng, self.scale = rng, scale

    def __call__(self, thetas: np.ndarray) -> np.ndarray:
        th = thetas.reshape(len(thetas), -1)
        G = self.rng.standard_normal(th.shape)
        G *= (self.scale * np.linalg.norm(th, axis=1) / np.linalg.norm(G, axis=1))[:, None]
        return (th + G).reshape(thetas.shape)


def dovetail(starts: Iterable, hop: Callable[[np.ndarray], object], kick: Kick, threshold: float,
             patience: int, share: float = HOP_SHARE,
             after: int = HOP_AFTER) -> Iterator[tuple[str, object, object]]:
    """Interleave fresh starts with monotone basin-hopping chains (module docstring).

    ``starts`` yields the fresh starts' runs (computed lazily), ``hop(theta0)`` is the plain local
    search; a run is any object with ``thetas``, ``relative_residual`` and ``evaluations``. Yields
    ``(kind, run, best)`` after every local search — ``kind`` is ``"start"`` or ``"hop"``, ``best``
    the open chain's best run (the run itself for a start) — and stops after an accepted run, or
    when the starts are spent: the hops never cost more than ``share`` times the starts plus one
    local search. The first chain opens at the ``after``-th failed start (``after = 1``: at the first).
    ``patience = 0``: the starts alone.
    """
    starts = iter(starts)
    cost = {"start": 0, "hop": 0}
    chain, stale, failed = None, 0, 0
    while True:
        if chain is not None and cost["hop"] < share * cost["start"]:
            run = hop(kick(chain.thetas))
            cost["hop"] += run.evaluations
            if run.relative_residual < chain.relative_residual:
                chain, stale = run, 0
            else:
                stale += 1
            yield "hop", run, chain
            if run.relative_residual <= threshold:
                return
            if stale >= patience:
                chain = None
            continue
        run = next(starts, None)
        if run is None:  # starts spent: the hops have had their share
            return
        cost["start"] += run.evaluations
        yield "start", run, run
        if run.relative_residual <= threshold:
            return
        failed += 1
        if chain is None and patience > 0 and failed >= after:
            chain, stale = run, 0
