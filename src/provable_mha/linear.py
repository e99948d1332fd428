r"""Multi-head *linear* attention: the softmax of :mod:`provable_mha.model` replaced by ``1/k``.

.. math::

    F_{\mathrm{lin}}(X) = \frac1k\sum_{i=1}^m (X\Theta_iX^\top)\,XW_i
                        = \sum_{i=1}^m X\,\Theta_i\,C(X)\,W_i,
    \qquad C(X) = \tfrac1k X^\top X,

:math:`X\in\mathbb{R}^{k\times d}` (rows are tokens). The ``1/k`` makes :math:`C(X)` the
empirical second moment of the tokens (for Boolean tokens its diagonal is exactly 1), so outputs
stay :math:`O(1)` as ``k`` grows. The layer is linear in the *lifted* variable
:math:`M=\sum_i\operatorname{vec}\Theta_i\operatorname{vec}W_i^\top` and depends on it only
through the folded coefficients :func:`lift` of ``docs/linear_attention.md``:

.. math::

    F_{\mathrm{lin}}(X)_{ae} = \sum_{p,j} x_{ap}\,c_j(X)\,\beta[p,j,e],\qquad
    \beta[p,j,e] = \sum_i\sum_{q,r}P[j,q,r]\,\Theta_i[p,q]\,W_i[r,e],

with the pair basis :math:`c_j(X)` and fold tensor :math:`P` of :func:`pair_basis`.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_array, check_inputs
from .model import MultiHeadAttention

__all__ = ["LinearMultiHeadAttention", "pair_basis", "lift", "lifted_features", "lifted_dimension", "INPUTS"]

#: Input domains with their own pair basis: ``"boolean"`` ({±1} tokens, C_qq = 1) or ``"any"``.
INPUTS = ("boolean", "any")


def _check_domain(inputs: str) -> str:
    if inputs not in INPUTS:
        raise ValueError(f"inputs must be one of {INPUTS}, got {inputs!r}")
    return inputs


def _pairs(d: int, inputs: str) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs q <= r ("any") or q < r ("boolean"), in the order of :func:`pair_basis`."""
    return np.triu_indices(d, 1 if _check_domain(inputs) == "boolean" else 0)


def pair_basis(d: int, inputs: str = "boolean") -> np.ndarray:
    r"""Fold tensor :math:`P\in\{0,1\}^{J\times d\times d}` of the token second moment :math:`C`.

    Since :math:`C` is symmetric, :math:`\sum_{q,r}C_{qr}T_{qr} = \sum_j c_j\,(P_j\cdot T)` with

    * ``inputs="any"``: :math:`J=d(d+1)/2` pairs :math:`q\le r`, :math:`c_j = C_{qr}`,
      :math:`P_j = E_{qr}+E_{rq}` for :math:`q<r` and :math:`E_{qq}` on the diagonal;
    * ``inputs="boolean"``: :math:`C_{qq}=1`, so the diagonal collapses to one feature
      :math:`c_0 = 1` with :math:`P_0 = I`, followed by the :math:`d(d-1)/2` pairs :math:`q<r`;
      :math:`J = d(d-1)/2+1`.

    The features of :func:`lifted_features` are read off in the same order.
    """
    q, r = _pairs(d, inputs)
    P = np.zeros((len(q), d, d))
    P[np.arange(len(q)), q, r] = 1.0
    P[np.arange(len(q)), r, q] = 1.0
    if inputs == "boolean":
        P = np.concatenate([np.eye(d)[None], P])
    return P


def lifted_dimension(d: int, inputs: str = "boolean") -> int:
    r"""Number :math:`D = dJ` of lifted coefficients per output coordinate (:func:`pair_basis`)."""
    J = d * (d - 1) // 2 + 1 if _check_domain(inputs) == "boolean" else d * (d + 1) // 2
    return d * J


def lift(thetas, ws, inputs: str = "boolean") -> np.ndarray:
    r"""Folded lifted coefficients :math:`\beta[p,j,e]=\sum_{i,q,r}P[j,q,r]\Theta_i[p,q]W_i[r,e]`, shape ``(d, J, d)``.

    Two layers with equal :math:`\beta` compute the same function on the domain ``inputs``
    (``docs/linear_attention.md``, "The lifted linear system").
    """
    th = check_array(thetas, "thetas", ndim=3)
    w = check_array(ws, "ws", ndim=3)
    if th.shape != w.shape or th.shape[1] != th.shape[2]:
        raise ValueError(f"thetas and ws must both have shape (m, d, d), got {th.shape} and {w.shape}")
    return np.einsum("jqr,ipq,ire->pje", pair_basis(th.shape[1], inputs), th, w, optimize=True)


def lifted_features(X, inputs: str = "boolean") -> np.ndarray:
    r"""Design rows :math:`\phi_{(n,a)} = x_{na}\otimes c(X_n)`, shape ``(n*k, d*J)``.

    Row :math:`(n,a)` times :math:`\beta` reshaped ``(d*J, d)`` is :math:`F_{\mathrm{lin}}(X_n)_a`.
    """
    Xb, _ = check_inputs(X)
    n, k, d = Xb.shape
    C = np.einsum("nbq,nbr->nqr", Xb, Xb, optimize=True) / k
    q, r = _pairs(d, inputs)
    c = C[:, q, r]  # c_j = C_qr, each unordered pair once
    if inputs == "boolean":
        c = np.concatenate([np.ones((n, 1)), c], axis=1)  # c_0 = C_qq = 1
    return np.einsum("nap,nj->napj", Xb, c, optimize=True).reshape(n * k, -1)


class LinearMultiHeadAttention:
    r"""An m-head linear attention layer :math:`F(X)=\frac1k\sum_i (X\Theta_iX^\top)XW_i`.

    Parameters
    ----------
    thetas : array_like, shape (m, d, d)
        Query-key matrices :math:`\Theta_i`.
    ws : array_like, shape (m, d, d)
        Value-output matrices :math:`W_i`.

    Notes
    -----
    Same parameters, validation and shapes as :class:`~provable_mha.MultiHeadAttention` (the
    parameters are held by one, so its checks and read-only copies apply), but it is *not* a
    subclass: functions written for the softmax layer (``pm.learn``, ``match_heads``,
    ``check_conditions``) reject it instead of silently treating it as softmax attention.
    Heads are identified only up to invertible mixing (:meth:`mix_heads`), not just permutation.
    """

    __slots__ = ("_params",)

    def __init__(self, thetas, ws) -> None:
        self._params = MultiHeadAttention(thetas, ws)

    thetas = property(lambda self: self._params.thetas, doc="Read-only float64 ``(m, d, d)`` query-key matrices.")
    ws = property(lambda self: self._params.ws, doc="Read-only float64 ``(m, d, d)`` value-output matrices.")
    m = property(lambda self: self._params.m, doc="Number of heads.")
    d = property(lambda self: self._params.d, doc="Token dimension.")

    def attention(self, X) -> np.ndarray:
        r"""Linear attention scores :math:`X\Theta_iX^\top/k` (not normalised), shape ``(n, m, k, k)``."""
        Xb, _ = check_inputs(X, d=self.d)
        return self._params.logits(Xb) / Xb.shape[1]

    def values(self, X) -> np.ndarray:
        r"""Per-head values :math:`X W_i`, shape ``(n, m, k, d)``."""
        return self._params.values(X)

    def __call__(self, X) -> np.ndarray:
        Xb, single = check_inputs(X, d=self.d)
        C = np.einsum("nbq,nbr->nqr", Xb, Xb, optimize=True) / Xb.shape[1]
        Y = np.einsum("nap,mpq,nqr,mre->nae", Xb, self.thetas, C, self.ws, optimize=True)
        return Y[0] if single else Y

    forward = __call__

    def lifted(self, inputs: str = "boolean") -> np.ndarray:
        """The layer's folded lifted coefficients :func:`lift`, shape ``(d, J, d)``."""
        return lift(self.thetas, self.ws, inputs)

    def lifted_matrix(self) -> np.ndarray:
        r"""Lifted matrix :math:`M=\sum_i\operatorname{vec}\Theta_i\operatorname{vec}W_i^\top`, rank :math:`\le m`.

        Shape ``(d*d, d*d)``; rows index :math:`(p,q)`, columns :math:`(r,e)`. The layer sees :math:`M` only through
        :func:`lift`; :meth:`mix_heads` changes the heads but not :math:`M`.
        """
        return np.einsum("ipq,ire->pqre", self.thetas, self.ws).reshape(self.d**2, self.d**2)

    def mix_heads(self, G) -> LinearMultiHeadAttention:
        r"""Heads mixed by an invertible ``G`` (m x m): :math:`\Theta'=\Theta G`, :math:`W'=WG^{-\top}` as columns.

        :math:`\Theta'_i=\sum_j G_{ji}\Theta_j`, :math:`W'_i=\sum_j (G^{-1})_{ij}W_j` leave
        :math:`M` (hence the function) unchanged; permutations and per-head scalings
        :math:`(\Theta_i,W_i)\mapsto(c\Theta_i,W_i/c)` are special cases.
        """
        G = check_array(G, "G", ndim=2)
        if G.shape != (self.m, self.m):
            raise ValueError(f"G must have shape ({self.m}, {self.m}), got {G.shape}")
        if np.linalg.matrix_rank(G) < self.m:
            raise ValueError("G must be invertible")
        Ginv = np.linalg.inv(G)
        return LinearMultiHeadAttention(np.einsum("jpq,ji->ipq", self.thetas, G),
                                        np.einsum("jre,ij->ire", self.ws, Ginv))

    def permute_heads(self, perm) -> LinearMultiHeadAttention:
        """The same layer with heads reordered by ``perm``."""
        p = self._params.permute_heads(perm)
        return LinearMultiHeadAttention(p.thetas, p.ws)

    # -- persistence (pm.save / pm.load) --------------------------------------------------
    def to_payload(self):
        return "LinearMultiHeadAttention", {"thetas": self.thetas, "ws": self.ws}, {}

    @classmethod
    def from_payload(cls, arrays, meta) -> LinearMultiHeadAttention:
        return cls(arrays["thetas"], arrays["ws"])

    def __repr__(self) -> str:
        return f"LinearMultiHeadAttention(m={self.m}, d={self.d})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LinearMultiHeadAttention):
            return NotImplemented
        return self._params == other._params

    __hash__ = None  # type: ignore[assignment]
