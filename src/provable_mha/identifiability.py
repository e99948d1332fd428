r"""Which parameters of a layer the data can and cannot determine.

For :math:`F(X)=\sum_i\mathrm{softmax}(X\Theta_iX^\top)XW_i` the function never determines
the head order (a permutation of heads is the same layer). Beyond that, three degeneracies make
parameters unidentifiable from *any* number of examples (``docs/identifiability.md`` proves each;
Bhattamishra, Shah, Hahn & Kanade, arXiv 2601.16873, discuss non-identifiability of multi-head
attention in general):

1. **Coinciding attention.** If :math:`\Theta_i=\Theta_j`, heads :math:`i,j` have equal attention
   on every input, so :math:`F` depends on :math:`W_i+W_j` only: :math:`(W_i+V, W_j-V)` is the same
   layer for every :math:`V`.
2. **Silent heads.** If :math:`W_i=0`, head :math:`i` contributes nothing and :math:`\Theta_i` is
   arbitrary.
3. **One token.** With :math:`k=1` every softmax is 1: no :math:`\Theta_i` is identified, only
   :math:`\sum_iW_i`.

:func:`identifiability` reports these with a relative tolerance (*near* coincidence makes the
parameters ill-determined: their error is amplified by the inverse distance), and, on request,
the dimension of the null space of the Jacobian on sample inputs, which catches any further
local degeneracy numerically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import check_positive_int
from .model import MultiHeadAttention

__all__ = ["IdentifiabilityReport", "identifiability"]


@dataclass
class IdentifiabilityReport:
    """What :func:`identifiability` found.

    Attributes
    ----------
    identifiable : bool
        True when none of the degeneracies was found (parameters determined up to head order).
    k : int
        Tokens per example the statement is about.
    coincident : list of tuple of int
        Groups of heads whose Θ coincide (within ``rtol``): only the sum of their W is identified.
    silent : list of int
        Heads whose W vanishes (within ``rtol``): their Θ is not identified.
    constant_attention : bool
        ``k == 1``: no Θ is identified.
    jacobian_null_dim : int or None
        Dimension of the Jacobian's numerical null space on sample inputs (``None``: not computed).
    reasons : list of str
        The findings in words.
    """

    identifiable: bool
    k: int
    coincident: list[tuple[int, ...]] = field(default_factory=list)
    silent: list[int] = field(default_factory=list)
    constant_attention: bool = False
    jacobian_null_dim: int | None = None
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return "identifiable up to head order" if self.identifiable else "; ".join(self.reasons)

    def __str__(self) -> str:
        return f"IdentifiabilityReport(k={self.k}): {self.summary()}"


def _groups(thetas: np.ndarray, rtol: float) -> list[tuple[int, ...]]:
    m = thetas.shape[0]
    scale = max(1.0, float(np.linalg.norm(thetas.reshape(m, -1), axis=1).max()))
    parent = list(range(m))
    for i in range(m):
        for j in range(i + 1, m):
            if np.linalg.norm(thetas[i] - thetas[j]) <= rtol * scale:
                parent[j] = parent[i]
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(parent):
        groups.setdefault(p, []).append(i)
    return [tuple(g) for g in groups.values() if len(g) > 1]


def _jacobian_null_dim(layer: MultiHeadAttention, k: int, n: int, rng) -> int:
    from .learner.design import attention, design_matrix, theta_jacobian
    from .sampling import sample_boolean

    d = layer.d
    X = sample_boolean(n, k, d, rng)
    th, ws = np.asarray(layer.thetas), np.asarray(layer.ws)
    A = attention(th, X)
    D = design_matrix(th, X, A)
    J = np.hstack([theta_jacobian(th, ws, X, A), np.kron(D, np.eye(d))])
    s = np.linalg.svd(J, compute_uv=False)
    tol = s[0] * max(J.shape) * np.finfo(float).eps * 1e3
    return int(J.shape[1] - np.sum(s > tol))


def identifiability(layer: MultiHeadAttention, k: int, *, rtol: float = 1e-3, jacobian: bool = False,
                    n_samples: int | None = None, rng=0) -> IdentifiabilityReport:
    r"""Report the heads and directions of ``layer`` that examples with ``k`` tokens cannot identify.

    Parameters
    ----------
    layer : MultiHeadAttention
    k : int
        Tokens per example.
    rtol : float
        Θ's within ``rtol`` (relative to :math:`\max(1,\max_i\|\Theta_i\|_F)`) coincide; W's below
        ``rtol`` times the largest :math:`\|W_i\|_F` are silent.
    jacobian : bool
        Also compute the Jacobian's null-space dimension on ``n_samples`` Boolean inputs (default
        :math:`3\cdot2md/k` examples, :math:`O(n\,k\,d\,(2md^2)^2)` time): every null direction is
        a local non-identifiability. A generic layer has none.
    rng : int or Generator
        Seed of the sample inputs.
    """
    if not isinstance(layer, MultiHeadAttention):
        raise ValueError(f"layer must be a MultiHeadAttention, got {type(layer).__name__}")
    k = check_positive_int(k, "k")
    if not (np.isfinite(rtol) and 0 <= rtol < 1):
        raise ValueError(f"rtol must be in [0, 1), got {rtol}")
    th, ws = np.asarray(layer.thetas), np.asarray(layer.ws)
    m = layer.m
    rep = IdentifiabilityReport(identifiable=True, k=k)
    if k == 1:
        rep.constant_attention = True
        rep.reasons.append("k = 1: attention is constant, no Θ_i is identified, only sum_i W_i")
    wn = np.linalg.norm(ws.reshape(m, -1), axis=1)
    rep.silent = [int(i) for i in np.flatnonzero(wn <= rtol * max(float(wn.max()), 1e-300))]
    for i in rep.silent:
        rep.reasons.append(f"head {i} has W_{i} = 0 (within rtol): Θ_{i} is not identified")
    if m > 1 and k > 1:
        rep.coincident = _groups(th, rtol)
        for g in rep.coincident:
            rep.reasons.append(f"heads {g} have coinciding Θ (within rtol): only the sum of their W is "
                               "identified")
    if jacobian:
        n = n_samples if n_samples is not None else 3 * int(np.ceil(2 * m * layer.d / k))
        rep.jacobian_null_dim = _jacobian_null_dim(layer, k, check_positive_int(n, "n_samples"), rng)
        if rep.jacobian_null_dim:
            rep.reasons.append(f"the Jacobian on {n} sample inputs has a {rep.jacobian_null_dim}-dimensional "
                               "null space: those parameter directions are not identified locally")
    rep.identifiable = not rep.reasons
    return rep
