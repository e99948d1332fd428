r"""Which parameters of a layer the data can and cannot determine.

For :math:`F(X)=\sum_i\mathrm{softmax}(X\Theta_iX^\top)XW_i` the function never determines
the head order (a permutation of heads is the same layer). Beyond that, three degeneracies make
parameters unidentifiable from *any* number of examples (``docs/identifiability.md`` proves each;
Bhattamishra, Shah, Hahn & Kanade, arXiv 2601.16873, state in their abstract that multi-head
attention is not identifiable from queries in general):

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

Given the input domain (``inputs="real"`` or ``"boolean"``) it also reports two more
(``docs/identifiability.md``, this project's own):

4. **Two tokens.** With :math:`k=2` a row of :math:`\mathrm{softmax}(-L)` is the reversed row of
   :math:`\mathrm{softmax}(L)`, so a head :math:`(-\Theta,W)` equals the two heads
   :math:`(\Theta,-W)` and :math:`(0,2W)`. Opposite :math:`\Theta_i=-\Theta_j`, a uniform head
   :math:`\Theta_i=0` beside another head, and a set :math:`S` of heads with
   :math:`\sum_{i\in S}W_i=0` (flip all of them) are then not identified.
5. **Boolean inputs, d = 1.** On :math:`\{\pm1\}^{k\times1}` the layer is fixed by :math:`k`
   numbers, so its :math:`2m>k` parameters are not.

For real inputs the list is complete (Theorem 1 of ``docs/identifiability.md``): a layer none of
1-4 applies to is determined up to head order by its values on :math:`\mathbb{R}^{k\times d}`.
:func:`non_identifiable_pair` builds two different layers with equal outputs for each case.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from ._validation import as_generator, check_bool, check_memory, check_positive_int, check_real
from .model import MultiHeadAttention, unit_scale

__all__ = ["IdentifiabilityReport", "identifiability", "NonIdentifiablePair", "non_identifiable_pair",
           "PAIR_KINDS"]

_INPUTS = (None, "real", "boolean")
_MAX_SUBSET_HEADS = 12  # zero-sum subsets of W are enumerated (2^m) only up to this many heads


@dataclass
class IdentifiabilityReport:
    r"""What :func:`identifiability` found.

    Attributes
    ----------
    identifiable : bool
        True when none of the degeneracies was found (parameters determined up to head order).
        With ``inputs="real"`` this is Theorem 1 of ``docs/identifiability.md`` (up to ``rtol``).
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
    inputs : {None, "real", "boolean"}
        The input domain the domain-specific checks below were made for (``None``: not made).
    opposite : list of tuple of int
        ``k == 2``: pairs with :math:`\Theta_i=-\Theta_j` (within ``rtol``).
    uniform : list of int
        ``k == 2``, ``m >= 2``: heads with :math:`\Theta_i=0` (within ``rtol``).
    zero_sum : list of tuple of int
        ``k == 2``: sets of two or more non-silent heads whose W sum to 0 (within ``rtol``).
    boolean_deficit : bool
        ``inputs="boolean"``, ``d == 1``, ``2m > k``: more parameters than the function has values.
    """

    identifiable: bool
    k: int
    coincident: list[tuple[int, ...]] = field(default_factory=list)
    silent: list[int] = field(default_factory=list)
    constant_attention: bool = False
    jacobian_null_dim: int | None = None
    reasons: list[str] = field(default_factory=list)
    inputs: str | None = None
    opposite: list[tuple[int, int]] = field(default_factory=list)
    uniform: list[int] = field(default_factory=list)
    zero_sum: list[tuple[int, ...]] = field(default_factory=list)
    boolean_deficit: bool = False

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


def _jacobian_null_dim(layer: MultiHeadAttention, k: int, n: int, rng, inputs: str | None) -> int:
    from .learner.limits import local_identifiability
    from .sampling import sample_boolean, sample_gaussian

    check_memory(8.0 * n * k * layer.d * 3 * layer.m * layer.d**2, "the Jacobian of identifiability(jacobian=True)")
    X = (sample_gaussian if inputs == "real" else sample_boolean)(n, k, layer.d, rng)
    return local_identifiability(layer, X).null_dim


def _two_token_checks(rep: IdentifiabilityReport, th: np.ndarray, ws: np.ndarray, rtol: float) -> None:
    """Degeneracy 4 of the module docstring (k = 2, m >= 2)."""
    m = th.shape[0]
    tn = np.linalg.norm(th.reshape(m, -1), axis=1)
    scale = max(1.0, float(tn.max()))
    rep.uniform = [int(i) for i in np.flatnonzero(tn <= rtol * scale)]
    for i in rep.uniform:
        rep.reasons.append(f"k = 2 and Θ_{i} = 0 (within rtol) beside other heads: the uniform head can be "
                           "split into two opposite heads")
    rep.opposite = [(i, j) for i in range(m) for j in range(i + 1, m)
                    if i not in rep.uniform and np.linalg.norm(th[i] + th[j]) <= rtol * scale]
    for i, j in rep.opposite:
        rep.reasons.append(f"k = 2 and Θ_{i} = -Θ_{j} (within rtol): the pair equals (Θ_{i}, W_{i} - W_{j}) plus a "
                           "uniform head")
    live = [i for i in range(m) if i not in rep.silent]
    if m > _MAX_SUBSET_HEADS:
        rep.reasons.append(f"k = 2: zero-sum subsets of W not checked (m > {_MAX_SUBSET_HEADS})")
        return
    wscale = max(float(np.linalg.norm(ws.reshape(m, -1), axis=1).max()), 1e-300)
    for size in range(2, len(live) + 1):
        for S in itertools.combinations(live, size):
            if np.linalg.norm(ws[list(S)].sum(axis=0)) <= rtol * wscale:
                rep.zero_sum.append(tuple(int(i) for i in S))
                rep.reasons.append(f"k = 2 and the W of heads {S} sum to 0 (within rtol): flipping all of them "
                                   "(Θ, W) -> (-Θ, -W) gives the same layer")


def identifiability(layer: MultiHeadAttention, k: int, *, rtol: float = 1e-3, jacobian: bool = False,
                    n_samples: int | None = None, rng=0, inputs: str | None = None) -> IdentifiabilityReport:
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
        Also compute the Jacobian's null-space dimension on ``n_samples`` inputs (Boolean, Gaussian
        for ``inputs="real"``; default :math:`3\cdot2md/k` examples, :math:`O(n\,k\,d\,(2md^2)^2)`
        time): every null direction is a local non-identifiability. A generic layer has none.
    rng : int or Generator
        Seed of the sample inputs.
    inputs : {None, "real", "boolean"}
        Input domain. ``None`` (default) checks 1-3 of the module docstring only; ``"real"`` and
        ``"boolean"`` add 4 (and 5 for Boolean). For ``"real"`` the checks are complete
        (Theorem 1 of ``docs/identifiability.md``): ``identifiable`` is then a theorem up to ``rtol``.
    """
    if not isinstance(layer, MultiHeadAttention):
        raise ValueError(f"layer must be a MultiHeadAttention, got {type(layer).__name__}")
    k = check_positive_int(k, "k")
    rtol = check_real(rtol, "rtol", minimum=0.0, maximum=1.0, strict_max=True)
    jacobian = check_bool(jacobian, "jacobian")
    if inputs not in _INPUTS:
        raise ValueError(f"inputs must be one of {_INPUTS}, got {inputs!r}")
    th, ws = np.asarray(layer.thetas), np.asarray(layer.ws)
    m = layer.m
    rep = IdentifiabilityReport(identifiable=True, k=k, inputs=inputs)
    if k == 1:
        rep.constant_attention = True
        rep.reasons.append("k = 1: attention is constant, no Θ_i is identified, only sum_i W_i")
    wn = np.linalg.norm(unit_scale(ws)[0].reshape(m, -1), axis=1)  # relative norms: no overflow/underflow
    rep.silent = [int(i) for i in np.flatnonzero(wn <= rtol * max(float(wn.max()), 1e-300))]
    for i in rep.silent:
        rep.reasons.append(f"head {i} has W_{i} = 0 (within rtol): Θ_{i} is not identified")
    if m > 1 and k > 1:
        rep.coincident = _groups(th, rtol)
        for g in rep.coincident:
            rep.reasons.append(f"heads {g} have coinciding Θ (within rtol): only the sum of their W is "
                               "identified")
    if inputs is not None and k == 2 and m > 1:
        _two_token_checks(rep, th, ws, rtol)
    if inputs == "boolean" and layer.d == 1 and k > 1 and 2 * m > k:
        rep.boolean_deficit = True
        rep.reasons.append(f"Boolean inputs with d = 1: F is fixed by k = {k} numbers, fewer than the 2m = {2 * m} "
                           "parameters")
    if jacobian:
        n = n_samples if n_samples is not None else 3 * int(np.ceil(2 * m * layer.d / k))
        rep.jacobian_null_dim = _jacobian_null_dim(layer, k, check_positive_int(n, "n_samples"), rng, inputs)
        if rep.jacobian_null_dim:
            rep.reasons.append(f"the Jacobian on {n} sample inputs has a {rep.jacobian_null_dim}-dimensional "
                               "null space: those parameter directions are not identified locally")
    rep.identifiable = not rep.reasons
    return rep


# -- two different layers with equal outputs ------------------------------------------------------
#: kind -> (tokens k it needs or None for every k, input domain, minimum m)
PAIR_KINDS = {
    "coincident": (None, "any", 2),
    "silent": (None, "any", 1),
    "one_token": (1, "any", 1),
    "opposite": (2, "any", 2),
    "flip": (2, "any", 2),
    "boolean_d1": (None, "boolean", 2),
}


@dataclass(frozen=True)
class NonIdentifiablePair:
    r"""Two layers ``a != b`` with :math:`F_a(X)=F_b(X)` for every ``X`` of the stated domain.

    Unpacks as ``a, b = pair``.

    Attributes
    ----------
    a, b : MultiHeadAttention
    kind : str
        One of :data:`PAIR_KINDS`.
    k : int or None
        The tokens per input the identity holds for (``None``: every ``k``).
    inputs : {"any", "boolean"}
        ``"any"``: every real input; ``"boolean"``: inputs in :math:`\{\pm1\}^{k\times d}` only.
    statement : str
        The identity, in words (``docs/identifiability.md`` proves it).
    gap : float
        :math:`\min_\pi\max_i\max(\|\Theta^a_i-\Theta^b_{\pi(i)}\|_F/\|\Theta^a_i\|_F,
        \|W^a_i-W^b_{\pi(i)}\|_F/\|W^a_i\|_F)` over all head permutations :math:`\pi` (absolute
        where the reference norm is 0): how far apart the parameters stay after the best matching.
    """

    a: MultiHeadAttention
    b: MultiHeadAttention
    kind: str
    k: int | None
    inputs: str
    statement: str
    gap: float

    def __iter__(self):
        return iter((self.a, self.b))


def _gap(a: MultiHeadAttention, b: MultiHeadAttention) -> float:
    """Exact min over permutations of the max relative head error (enumeration; m <= 8)."""
    def rel(x, y):
        n = np.linalg.norm(x)
        return float(np.linalg.norm(x - y) / (n if n > 0 else 1.0))

    cost = np.array([[max(rel(a.thetas[i], b.thetas[j]), rel(a.ws[i], b.ws[j])) for j in range(b.m)]
                     for i in range(a.m)])
    return float(min(cost[np.arange(a.m), list(p)].max() for p in itertools.permutations(range(a.m))))


def _boolean_d1(th: np.ndarray, ws: np.ndarray, k: int, gen) -> tuple[np.ndarray, np.ndarray, str]:
    r"""Degeneracy 5 embedded in dimension d: heads :math:`\theta_ie_1e_1^\top`, :math:`w_ie_1u^\top`."""
    m, d, _ = th.shape
    if not 2 <= k <= m:
        raise ValueError(f"kind 'boolean_d1' needs 2 <= k <= m (the k equations are solved for m new W's), got "
                         f"k = {k}, m = {m}")
    theta = np.sign(gen.standard_normal(m)) * gen.uniform(0.3, 1.5, m)
    w = gen.standard_normal(m)
    u = gen.standard_normal(d)
    u /= np.linalg.norm(u)
    p = np.arange(1, k + 1)[:, None]

    def h(t):  # h_p(theta) = (p e^t - (k-p) e^-t) / (p e^t + (k-p) e^-t), shape (k, m)
        return (p * np.exp(t) - (k - p) * np.exp(-t)) / (p * np.exp(t) + (k - p) * np.exp(-t))

    theta_b = theta + np.sign(theta) * gen.uniform(0.2, 0.6, m)
    w_b = np.linalg.lstsq(h(theta_b), h(theta) @ w, rcond=None)[0]
    E = np.zeros((d, d))
    E[0, 0] = 1.0
    U = np.zeros((d, d))
    U[0] = u
    th[:] = theta[:, None, None] * E
    ws[:] = w[:, None, None] * U
    stmt = ("Boolean inputs only: a head (θ e1e1ᵀ, w e1uᵀ) outputs x_{a1} w h_p(θ) uᵀ in row a, p = #tokens b with "
            f"x_b1 = x_a1; b solves sum_i w'_i h_p(θ'_i) = sum_i w_i h_p(θ_i) for p = 1..{k}")
    return theta_b[:, None, None] * E, w_b[:, None, None] * U, stmt


def non_identifiable_pair(kind: str, m: int = 2, d: int = 4, rng=0, *, k: int = 3) -> NonIdentifiablePair:
    r"""Two different layers with identical outputs on every input (of the stated domain).

    Parameters
    ----------
    kind : str
        ``"coincident"``: :math:`\Theta_1=\Theta_0`, b moves :math:`V` from :math:`W_1` to :math:`W_0`
        (every k). ``"silent"``: :math:`W_0=0`, b moves :math:`\Theta_0` by :math:`2\|\Theta_0\|_F`
        (every k).
        ``"one_token"``: b has other Θ's and W's with the same :math:`\sum_iW_i` (k = 1).
        ``"opposite"``: :math:`\Theta_1=-\Theta_0`; b is :math:`(\Theta_0,W_0-W_1),(0,2W_1)` (k = 2).
        ``"flip"``: :math:`W_1=-W_0`; b is :math:`(-\Theta_0,-W_0),(-\Theta_1,-W_1)` (k = 2).
        ``"boolean_d1"``: heads acting on coordinate 1 only, equal on Boolean inputs with ``k``
        tokens (``2 <= k <= m``) and different on real ones.
    m, d : int
        Heads and token dimension; heads not named above are random and shared by a and b.
    rng : int or Generator
    k : int
        Tokens per input, used by ``"boolean_d1"`` only (the others fix their own k).

    Returns
    -------
    NonIdentifiablePair
        Proofs in ``docs/identifiability.md``; tested exhaustively on small Boolean domains and on
        random real inputs in ``tests/test_identifiability.py``.
    """
    if kind not in PAIR_KINDS:
        raise ValueError(f"kind must be one of {tuple(PAIR_KINDS)}, got {kind!r}")
    m, d = check_positive_int(m, "m"), check_positive_int(d, "d")
    k_need, inputs, m_min = PAIR_KINDS[kind]
    if m < m_min:
        raise ValueError(f"kind {kind!r} needs m >= {m_min}, got m = {m}")
    if m > 8:
        raise ValueError(f"m must be <= 8 (the gap is computed over all m! head matchings), got {m}")
    gen = as_generator(rng)
    th = gen.standard_normal((m, d, d)) / np.sqrt(d)
    ws = gen.standard_normal((m, d, d)) / np.sqrt(d)
    tb, wb = th.copy(), ws.copy()
    if kind == "coincident":
        th[1] = tb[1] = th[0]
        V = gen.standard_normal((d, d)) / np.sqrt(d)
        wb[0], wb[1] = ws[0] + V, ws[1] - V
        stmt = "Θ_0 = Θ_1: equal attention, F depends on W_0 + W_1 only"
    elif kind == "silent":
        ws[0] = wb[0] = 0.0
        U = gen.standard_normal((d, d))
        tb[0] = th[0] + 2 * np.linalg.norm(th[0]) * U / np.linalg.norm(U)  # moved by twice its norm
        stmt = "W_0 = 0: head 0 contributes nothing, Θ_0 is arbitrary"
    elif kind == "one_token":
        tb = gen.standard_normal((m, d, d)) / np.sqrt(d)
        V = gen.standard_normal((m, d, d)) / np.sqrt(d)
        wb = ws + V - V.mean(axis=0) if m > 1 else ws.copy()
        stmt = "k = 1: every attention is 1, F(x) = xᵀ sum_i W_i"
    elif kind == "opposite":
        th[1] = -th[0]
        tb[0], wb[0], tb[1], wb[1] = th[0], ws[0] - ws[1], 0.0, 2 * ws[1]
        stmt = "k = 2: (Θ, W_0) + (-Θ, W_1) = (Θ, W_0 - W_1) + (0, 2 W_1), as softmax(-L) reverses softmax(L)"
    elif kind == "flip":
        ws[1] = -ws[0]
        tb[:2], wb[:2] = -th[:2], -ws[:2]
        stmt = "k = 2: W_0 + W_1 = 0, so flipping both heads (Θ, W) -> (-Θ, -W) changes F by a uniform head 0"
    else:
        tb, wb, stmt = _boolean_d1(th, ws, check_positive_int(k, "k"), gen)
    a, b = MultiHeadAttention(th, ws), MultiHeadAttention(tb, wb)
    k_out = k if kind == "boolean_d1" else k_need
    return NonIdentifiablePair(a, b, kind, k_out, inputs, stmt, _gap(a, b))
