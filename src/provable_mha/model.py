r"""The multi-head attention layer studied by the toolkit (README, "What it is").

.. math::

    F(X) = \sum_{i=1}^m \operatorname{softmax}(X \Theta_i X^\top)\, X W_i,
    \qquad X \in \mathbb{R}^{k\times d},\ \Theta_i, W_i \in \mathbb{R}^{d\times d},

with the softmax taken row-wise: row :math:`a` of head :math:`i` attends to token :math:`b`
with weight :math:`\alpha_{iab} \propto \exp(x_a^\top \Theta_i x_b)`. There is no temperature,
bias or mask; the temperature lives in :math:`\Theta_i`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ._einsum import einsum
from ._validation import check_array, check_inputs, check_memory, check_positive_int

__all__ = ["MultiHeadAttention", "HeadMatch", "match_heads", "softmax", "from_torch_weights"]


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""Numerically stable softmax :math:`e^{z - \max z} / \sum e^{z - \max z}` along ``axis``.

    Subtracting the row maximum keeps every exponent :math:`\le 0`, so logits of any finite
    magnitude (e.g. :math:`\pm 10^4`) neither overflow nor produce NaN.
    """
    z = logits - np.max(logits, axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= np.sum(z, axis=axis, keepdims=True)
    return z


def attention_weights(thetas: np.ndarray, X: np.ndarray) -> np.ndarray:
    r"""Attention :math:`\mathrm{softmax}(X_n\Theta_iX_n^\top)` for raw arrays, shape ``(n, m, k, k)``.

    No validation: ``thetas (m, d, d)`` and ``X (n, k, d)`` must already be float64 arrays. The
    layer and the learner's inner loops both use this one kernel.
    """
    return softmax(einsum("nad,mde,nbe->nmab", X, thetas, X))


class MultiHeadAttention:
    r"""An m-head attention layer :math:`F(X)=\sum_i \mathrm{softmax}(X\Theta_iX^\top)XW_i`.

    Parameters
    ----------
    thetas : array_like, shape (m, d, d)
        Attention (query-key) matrices :math:`\Theta_i`.
    ws : array_like, shape (m, d, d)
        Value-output matrices :math:`W_i`.

    Notes
    -----
    Parameters are copied to read-only float64 arrays; the layer is immutable. Calling the
    layer on ``(k, d)`` returns ``(k, d)``; on a batch ``(n, k, d)`` it returns ``(n, k, d)``.
    """

    __slots__ = ("_thetas", "_ws")

    def __init__(self, thetas, ws) -> None:
        th = check_array(thetas, "thetas", ndim=3)
        w = check_array(ws, "ws", ndim=3)
        if th.shape[0] < 1:
            raise ValueError("thetas must hold at least one head (m >= 1), got m = 0")
        if th.shape[1] != th.shape[2] or th.shape[1] < 1:
            raise ValueError(f"thetas must have shape (m, d, d) with d >= 1, got {th.shape}")
        if w.shape != th.shape:
            raise ValueError(f"ws must have the same shape as thetas {th.shape}, got {w.shape}")
        self._thetas = np.array(th, dtype=np.float64, copy=True)
        self._ws = np.array(w, dtype=np.float64, copy=True)
        self._thetas.setflags(write=False)
        self._ws.setflags(write=False)

    # -- properties -----------------------------------------------------------------------
    @property
    def thetas(self) -> np.ndarray:
        """Read-only float64 array ``(m, d, d)`` of attention matrices."""
        return self._thetas

    @property
    def ws(self) -> np.ndarray:
        """Read-only float64 array ``(m, d, d)`` of value-output matrices."""
        return self._ws

    @property
    def m(self) -> int:
        """Number of heads."""
        return int(self._thetas.shape[0])

    @property
    def d(self) -> int:
        """Token dimension."""
        return int(self._thetas.shape[1])

    # -- forward pass ---------------------------------------------------------------------
    # Input guards (docs/io.md, "Input guards"): the batch is validated and its memory estimated
    # before anything is allocated, and a result that overflowed float64 raises instead of being
    # returned as inf/NaN.
    def _batch(self, X) -> tuple[np.ndarray, bool]:
        Xb, single = check_inputs(X, d=self.d)
        n, k, d = Xb.shape
        # logits and their shifted copy (n, m, k, k), the X Θ and X W intermediates (n, m, k, d), output
        check_memory(8 * n * (2 * self.m * k * k + 2 * self.m * k * d + k * d),
                     f"the layer (m = {self.m}) on X of shape {Xb.shape}")
        return Xb, single

    def _finite(self, arr: np.ndarray, what: str, Xb: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(arr)):
            raise ValueError(
                f"the {what} overflow float64 for this X (max |X| = {np.abs(Xb).max():.3g}, "
                f"max |Theta| = {np.abs(self._thetas).max():.3g}, max |W| = {np.abs(self._ws).max():.3g}); "
                "rescale X or the layer")
        return arr

    def logits(self, X) -> np.ndarray:
        r"""Attention logits :math:`x_a^\top \Theta_i x_b`, shape ``(n, m, k, k)``.

        Raises ``ValueError`` if a logit overflows float64.
        """
        Xb, _ = self._batch(X)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by _finite
            L = einsum("nad,mde,nbe->nmab", Xb, self._thetas, Xb)
        return self._finite(L, "attention logits x_a^T Theta_i x_b", Xb)

    def attention(self, X) -> np.ndarray:
        r"""Row-stochastic attention matrices :math:`\mathrm{softmax}(X\Theta_iX^\top)`.

        Returns an array of shape ``(n, m, k, k)`` (``n = 1`` for a single ``(k, d)`` input). Finite
        logits of any size are handled stably; logits that overflow float64 (a row whose largest
        logit is :math:`+\infty` or NaN) raise ``ValueError`` instead of returning NaN.
        """
        Xb, _ = self._batch(X)
        with np.errstate(over="ignore", invalid="ignore"):
            A = attention_weights(self._thetas, Xb)
        return self._finite(A, "attention logits x_a^T Theta_i x_b", Xb)

    def values(self, X) -> np.ndarray:
        r"""Per-head values :math:`X W_i`, shape ``(n, m, k, d)`` (``ValueError`` on float64 overflow)."""
        Xb, _ = self._batch(X)
        with np.errstate(over="ignore", invalid="ignore"):
            V = einsum("nbd,mde->nmbe", Xb, self._ws)
        return self._finite(V, "values X W_i", Xb)

    def __call__(self, X) -> np.ndarray:
        """:math:`F(X)`; ``ValueError`` if the logits or the output overflow float64 (never inf/NaN)."""
        Xb, single = self._batch(X)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by _finite
            A = self._finite(attention_weights(self._thetas, Xb), "attention logits x_a^T Theta_i x_b", Xb)
            V = einsum("nbd,mde->nmbe", Xb, self._ws)
            Y = self._finite(einsum("nmab,nmbe->nae", A, V), "outputs F(X)", Xb)
        return Y[0] if single else Y

    forward = __call__

    # -- helpers --------------------------------------------------------------------------
    def permute_heads(self, perm) -> MultiHeadAttention:
        """Return the same layer with heads reordered by ``perm`` (the function is unchanged)."""
        try:
            arr = np.asarray(perm)
        except Exception as exc:  # ragged nested lists
            raise ValueError(f"perm must be a permutation of range({self.m}), got {perm!r}") from exc
        if arr.dtype.kind not in "iu" or arr.ndim != 1 or sorted(arr.tolist()) != list(range(self.m)):
            raise ValueError(f"perm must be a permutation of range({self.m}) (integers), got {perm!r}")
        perm = arr
        return MultiHeadAttention(self._thetas[perm], self._ws[perm])

    def __repr__(self) -> str:
        return f"MultiHeadAttention(m={self.m}, d={self.d})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MultiHeadAttention):
            return NotImplemented
        return bool(
            np.array_equal(self._thetas, other._thetas) and np.array_equal(self._ws, other._ws)
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class HeadMatch:
    """Best alignment of the heads of two layers (heads are only defined up to permutation).

    Attributes
    ----------
    perm : ndarray of int, shape (m,)
        ``perm[i]`` is the head of ``b`` matched to head ``i`` of ``a``.
    theta_errors, w_errors : ndarray, shape (m,)
        Relative Frobenius errors :math:`\\|\\Theta^a_i-\\Theta^b_{\\pi(i)}\\|_F/\\|\\Theta^a_i\\|_F`
        (absolute where the reference norm is 0), likewise for :math:`W`.
    unidentified : tuple of tuple of int
        Only with ``match_heads(..., k=...)``: groups of heads of ``a`` whose parameters the
        function does not determine (``docs/identifiability.md``): coinciding-Θ groups, silent heads
        (their Θ), and every head when ``k == 1`` (their Θ). Empty otherwise.
    group_w_errors : ndarray or None
        Only with ``k``: for each coinciding-Θ group :math:`g` (in the order of ``unidentified``)
        the error of the identified combination,
        :math:`\\|\\sum_{i\\in g}W^a_i-\\sum_{i\\in g}W^b_{\\pi(i)}\\|_F/\\|\\sum_{i\\in g}W^a_i\\|_F`
        (for ``k == 1``: one entry, the error of :math:`\\sum_iW_i`).
    identified_error : float or None
        Only with ``k``: the largest error over what *is* identified -- Θ of every head that is not
        silent nor in a coinciding group, W of every head not in a coinciding group, and
        ``group_w_errors``. ``max_error`` keeps its meaning (every parameter).
    """

    perm: np.ndarray
    theta_errors: np.ndarray
    w_errors: np.ndarray
    unidentified: tuple = ()
    group_w_errors: np.ndarray | None = None
    identified_error: float | None = None

    @property
    def max_error(self) -> float:
        """Largest relative parameter error over heads and both parameter kinds."""
        return float(max(self.theta_errors.max(), self.w_errors.max()))


def unit_scale(*arrays: np.ndarray) -> list[np.ndarray]:
    """The arrays divided by their common largest magnitude (unchanged if all are 0).

    Norms and differences of the scaled arrays neither overflow (entries near 1e308) nor underflow
    (entries near 1e-300), and every *relative* quantity computed from them is unchanged.
    """
    s = max((float(np.abs(x).max()) for x in arrays if np.size(x)), default=0.0)
    return [np.asarray(x) / s for x in arrays] if s > 0 else [np.asarray(x) for x in arrays]


def _relative(diff: np.ndarray, ref: np.ndarray) -> np.ndarray:
    ref = np.where(ref > 0, ref, 1.0)
    return diff / ref


def _identified_view(a: MultiHeadAttention, b: MultiHeadAttention, k: int, rtol: float, cost, dt, dw, nt, nw):
    """For :func:`match_heads` with ``k``: mask the unidentified costs, match, and compare group sums."""
    from .identifiability import identifiability  # lazy: identifiability imports this module

    rep = identifiability(a, k, rtol=rtol)
    m = a.m
    free_theta = np.zeros(m, dtype=bool)  # Θ not identified
    free_w = np.zeros(m, dtype=bool)  # W not identified individually
    free_theta[rep.silent] = True
    groups = [tuple(range(m))] if rep.constant_attention else list(rep.coincident)
    if rep.constant_attention:
        free_theta[:] = True
    for g in groups:
        free_w[list(g)] = True
    group_theta = np.zeros(m, dtype=bool)  # Θ of a coinciding group: compared below, over b's active heads
    if not rep.constant_attention:
        for g in groups:
            group_theta[list(g)] = True
    masked = (np.where(free_theta[:, None] | group_theta[:, None], 0.0, _relative(dt, nt[:, None]))
              + np.where(free_w[:, None], 0.0, _relative(dw, nw[:, None])))
    rows, cols = linear_sum_assignment(masked + 1e-12 * cost)
    perm = cols[np.argsort(rows)]
    gerr = np.array([float(np.linalg.norm(a.ws[list(g)].sum(axis=0) - b.ws[perm[list(g)]].sum(axis=0))
                           / max(np.linalg.norm(a.ws[list(g)].sum(axis=0)), 1e-300)) for g in groups])
    # a group's Θ is identified only on the heads of b that carry weight: a silent head of b in the
    # group may have any Θ (the same function), so it is not compared
    gtheta = []
    for g in groups if not rep.constant_attention else []:
        wsum = max(float(np.linalg.norm(b.ws[perm[list(g)]].sum(axis=0))), 1e-300)
        active = [j for j in perm[list(g)] if np.linalg.norm(b.ws[j]) > rtol * wsum]
        ref = a.thetas[g[0]]
        gtheta += [float(np.linalg.norm(b.thetas[j] - ref) / max(np.linalg.norm(ref), 1e-300)) for j in active]
    idx = np.arange(m)
    te, we = _relative(dt[idx, perm], nt), _relative(dw[idx, perm], nw)
    parts = [te[~(free_theta | group_theta)], we[~free_w], gerr, np.asarray(gtheta)]
    ident = float(max((p.max() for p in parts if p.size), default=0.0))
    unid = tuple(groups) + tuple((i,) for i in rep.silent if not any(i in g for g in groups))
    return perm, unid, gerr, ident


def match_heads(a: MultiHeadAttention, b: MultiHeadAttention, *, k: int | None = None,
                rtol: float = 1e-3) -> HeadMatch:
    r"""Align the heads of ``b`` to those of ``a`` by a minimum-cost assignment.

    The cost of pairing head :math:`i` of ``a`` with head :math:`j` of ``b`` is
    :math:`\|\Theta^a_i-\Theta^b_j\|_F/\|\Theta^a_i\|_F + \|W^a_i-W^b_j\|_F/\|W^a_i\|_F`; the
    optimal permutation is found exactly with :func:`scipy.optimize.linear_sum_assignment`.

    With ``k`` (tokens per input), ``a`` is taken as the reference and its non-identified
    parameters (:func:`provable_mha.identifiability` at ``rtol``: coinciding Θ's, silent heads,
    ``k == 1``) are left out of the cost; the result then lists them in ``unidentified`` and
    reports the identified combination :math:`\sum_{i\in g}W_i` of each coinciding group and
    ``identified_error``. The per-head errors are still reported for every head. The two-token
    degeneracies of ``docs/identifiability.md`` (opposite Θ's, zero-sum W's) are not handled here.
    """
    if not isinstance(a, MultiHeadAttention) or not isinstance(b, MultiHeadAttention):
        raise ValueError("match_heads expects two MultiHeadAttention layers")
    if (a.m, a.d) != (b.m, b.d):
        raise ValueError(f"layers differ in shape: (m, d) = {(a.m, a.d)} vs {(b.m, b.d)}")
    (ta, tb), (wa, wb) = unit_scale(a.thetas, b.thetas), unit_scale(a.ws, b.ws)  # errors are relative
    nt = np.linalg.norm(ta.reshape(a.m, -1), axis=1)
    nw = np.linalg.norm(wa.reshape(a.m, -1), axis=1)
    dt = np.array([np.linalg.norm((tb - ta[i]).reshape(b.m, -1), axis=1) for i in range(a.m)])  # row by row:
    dw = np.array([np.linalg.norm((wb - wa[i]).reshape(b.m, -1), axis=1) for i in range(a.m)])  # O(m d^2) memory
    cost = _relative(dt, nt[:, None]) + _relative(dw, nw[:, None])
    idx = np.arange(a.m)
    if k is not None:
        k = check_positive_int(k, "k")
        perm, unid, gerr, ident = _identified_view(a, b, k, rtol, cost, dt, dw, nt, nw)
        return HeadMatch(perm=perm, theta_errors=_relative(dt[idx, perm], nt), w_errors=_relative(dw[idx, perm], nw),
                         unidentified=unid, group_w_errors=gerr, identified_error=ident)
    rows, cols = linear_sum_assignment(cost)
    perm = cols[np.argsort(rows)]
    return HeadMatch(
        perm=perm,
        theta_errors=_relative(dt[idx, perm], nt),
        w_errors=_relative(dw[idx, perm], nw),
    )


def from_torch_weights(in_proj_weight, out_proj_weight, num_heads: int) -> MultiHeadAttention:
    r"""Convert the weights of ``torch.nn.MultiheadAttention(d, h, bias=False)``.

    With ``in_proj_weight = [W_q; W_k; W_v]`` (each ``d x d``, acting as ``x @ W.T``) and
    ``out_proj_weight = W_o``, head :math:`i` uses the rows
    :math:`s_i = [i\,d_h, (i+1)\,d_h)` with :math:`d_h = d/h`, and

    .. math::

        \Theta_i = W_{q}[s_i]^\top W_{k}[s_i] / \sqrt{d_h}, \qquad
        W_i = W_{v}[s_i]^\top W_{o}[:, s_i]^\top ,

    both of rank :math:`\le d_h`. Self-attention with query = key = value = ``X`` then equals
    :math:`F(X)` exactly (tested against a re-implementation of the torch layer).
    """
    h = check_positive_int(num_heads, "num_heads")
    w_in = check_array(in_proj_weight, "in_proj_weight", ndim=2)
    w_out = check_array(out_proj_weight, "out_proj_weight", ndim=2)
    d = w_out.shape[0]
    if w_out.shape != (d, d) or w_in.shape != (3 * d, d):
        raise ValueError(
            f"expected in_proj_weight (3d, d) and out_proj_weight (d, d); got {w_in.shape}, {w_out.shape}"
        )
    if d % h:
        raise ValueError(f"embed dim d = {d} is not divisible by num_heads = {h}")
    dh = d // h
    wq, wk, wv = w_in[:d], w_in[d : 2 * d], w_in[2 * d :]
    thetas, ws = [], []
    for i in range(h):
        s = slice(i * dh, (i + 1) * dh)
        thetas.append(wq[s].T @ wk[s] / np.sqrt(dh))
        ws.append(wv[s].T @ w_out[:, s].T)
    return MultiHeadAttention(np.stack(thetas), np.stack(ws))
