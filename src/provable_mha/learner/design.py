r"""The attention design matrix and the derivatives shared by every phase of the learner.

For fixed :math:`\Theta = (\Theta_1,\dots,\Theta_m)` the layer is linear in
:math:`W = [W_1;\dots;W_m] \in \mathbb{R}^{md\times d}`:

.. math::

    Y_{\text{flat}} = D(\Theta)\, W, \qquad
    D(\Theta)_{(n,a),\,(i,\cdot)} = \big(A_i(X_n) X_n\big)_{a,\cdot} \in \mathbb{R}^{d},

a :math:`(nk)\times(md)` matrix (the *W-step*: least squares in :math:`W` for fixed :math:`\Theta`). The derivative of a
row of head :math:`i` with respect to :math:`\Theta_i[p,q]` is a covariance under the
attention distribution of that row:

.. math::

    \frac{\partial\, (A_i X W_i)_{a e}}{\partial \Theta_i[p,q]}
      = x_{ap}\,\mathrm{Cov}_{b\sim\alpha_{ia}}\big(x_{bq},\, (x_b^\top W_i)_e\big),

which follows from :math:`\partial\alpha_{iab}/\partial\Theta_i[p,q]
= \alpha_{iab}\,x_{ap}(x_{bq} - \bar x_{iaq})` with :math:`\bar x_{ia} = \sum_c \alpha_{iac}x_c`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.linalg import blas

from .._einsum import einsum
from ..model import attention_weights

__all__ = ["attention", "design_matrix", "theta_covariances", "theta_jacobian", "joint_jacobian",
           "theta_normal_equations",
           "solve_w", "WStep", "w_step"]


#: Attention weights ``(n, m, k, k)`` for raw ``thetas (m, d, d)`` and ``X (n, k, d)``.
attention = attention_weights


def design_matrix(thetas: np.ndarray, X: np.ndarray, A: np.ndarray | None = None) -> np.ndarray:
    r"""The W-step design :math:`D(\Theta)` of shape ``(n*k, m*d)`` (rows ``(n, a)``, columns ``(i, p)``)."""
    n, k, d = X.shape
    m = thetas.shape[0]
    A = attention(thetas, X) if A is None else A
    AX = einsum("nmab,nbd->namd", A, X)
    return AX.reshape(n * k, m * d)


@dataclass
class WStep:
    """The W-step at fixed Θ: attention ``A``, orthonormal basis ``Q`` of the design's columns,
    least-squares ``W`` ``(m*d, d)`` and the residual ``(n*k, d)``."""

    A: np.ndarray
    Q: np.ndarray
    W: np.ndarray
    residual: np.ndarray


def w_step(thetas: np.ndarray, X: np.ndarray, Y: np.ndarray) -> WStep:
    r"""Solve :math:`\min_W\|D(\Theta)W-Y\|_F` by a thin QR of :math:`D` (one factorisation for all columns).

    Falls back to SVD-based least squares when :math:`D` is numerically rank deficient.
    """
    n, k, d = X.shape
    A = attention(thetas, X)
    D = design_matrix(thetas, X, A)
    Q, R = np.linalg.qr(D)
    Yf = Y.reshape(n * k, d)
    QtY = Q.T @ Yf
    diag = np.abs(np.diag(R))
    if diag.size and np.all(diag > 1e-13 * np.abs(R).max()):
        W = scipy.linalg.solve_triangular(R, QtY)
    else:
        W = np.linalg.lstsq(D, Yf, rcond=None)[0]
    return WStep(A, Q, W, Yf - Q @ QtY)


def solve_w(D: np.ndarray, Y: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    r"""Least-squares W-step :math:`\min_W \|DW - Y\|_F^2 + \text{ridge}\|W\|_F^2`, returned as ``(m*d, d)``."""
    Yf = Y.reshape(D.shape[0], -1)
    if ridge > 0:
        G = D.T @ D + ridge * np.eye(D.shape[1])
        return np.linalg.solve(G, D.T @ Yf)
    return np.linalg.lstsq(D, Yf, rcond=None)[0]


def theta_covariances(thetas: np.ndarray, ws: np.ndarray, X: np.ndarray, A: np.ndarray | None = None) -> np.ndarray:
    r"""Attention covariances :math:`C_{iaqe} = \mathrm{Cov}_{b\sim\alpha_{ia}}(x_{bq}, (x_b^\top W_i)_e)`.

    Returns shape ``(n*k, m, d, d)`` indexed ``[(n, a), i, q, e]``.
    """
    n, k, d = X.shape
    m = thetas.shape[0]
    A = attention(thetas, X) if A is None else A
    V = einsum("nbd,mde->nmbe", X, ws)
    xbar = einsum("nmab,nbd->nmad", A, X)
    vbar = einsum("nmab,nmbe->nmae", A, V)
    C = einsum("nmab,nbq,nmbe->namqe", A, X, V)
    C -= einsum("nmaq,nmae->namqe", xbar, vbar)
    return C.reshape(n * k, m, d, d)


def theta_jacobian(thetas: np.ndarray, ws: np.ndarray, X: np.ndarray, A: np.ndarray | None = None) -> np.ndarray:
    r"""Jacobian of the flattened output :math:`F(X)` with respect to :math:`\mathrm{vec}\,\Theta`.

    Returns ``J`` of shape ``(n*k*d, m*d*d)`` with rows ``(n, a, e)`` and columns ``(i, p, q)``:
    :math:`J = x_{ap}\,\mathrm{Cov}_{\alpha_{ia}}(x_{bq}, (x_b^\top W_i)_e)` (module docstring).
    """
    n, k, d = X.shape
    m = thetas.shape[0]
    C = theta_covariances(thetas, ws, X, A)
    J = einsum("ap,aiqe->aeipq", X.reshape(n * k, d), C)
    return J.reshape(n * k * d, m * d * d)


def joint_jacobian(thetas: np.ndarray, ws: np.ndarray, X: np.ndarray, A: np.ndarray | None = None) -> np.ndarray:
    r"""The explicit Jacobian :math:`[J_\Theta \,|\, D\otimes I_d]` of the flattened output with respect to
    :math:`(\mathrm{vec}\,\Theta, \mathrm{vec}\,W)`: shape ``(n*k*d, 2*m*d*d)``, rows ``(n, a, e)``.

    Dense, :math:`8\,nkd \cdot 2md^2` bytes: for small problems (``refine.joint_operator`` gives the
    same map as products)."""
    A = attention(thetas, X) if A is None else A
    d = X.shape[2]
    return np.hstack([theta_jacobian(thetas, ws, X, A), np.kron(design_matrix(thetas, X, A), np.eye(d))])


def theta_normal_equations(X: np.ndarray, C: np.ndarray, r: np.ndarray, Q: np.ndarray | None = None):
    r"""Normal equations :math:`(J^\top P J,\ J^\top r)` of the Theta-Jacobian without forming ``J``.

    With rows :math:`\rho=(n,a)` and :math:`J_{(\rho,e),(i,p,q)} = x_{\rho p}C_{\rho iqe}`,

    .. math::

        (J^\top J)_{(i,p,q),(j,p',q')} = \sum_\rho x_{\rho p}x_{\rho p'}\,(C_\rho C_\rho^\top)_{(i,q),(j,q')},

    a sum of :math:`nk` Kronecker-structured terms (cost :math:`O(nk\,m^2d^4)` instead of
    :math:`O(nk\,m^2d^5)`). If ``Q`` (orthonormal basis of the design's columns, ``(n*k, s)``)
    is given, :math:`P = I - QQ^\top` acts on the row index for every output coordinate and
    :math:`J^\top PJ = J^\top J - (Q^\top J)^\top(Q^\top J)`. ``r`` has shape ``(n*k, d)``.
    """
    rows, m, d, _ = C.shape
    x = X.reshape(rows, d)
    Cf = C.reshape(rows, m * d, d)
    G = np.matmul(Cf, Cf.transpose(0, 2, 1))  # (rows, md, md)
    Z = (x[:, :, None] * x[:, None, :]).reshape(rows, d * d)
    H = (Z.T @ G.reshape(rows, -1)).reshape(d, d, m, d, m, d)
    H = H.transpose(2, 0, 3, 4, 1, 5).reshape(m * d * d, m * d * d)
    g = einsum("ap,aiqe,ae->ipq", x, C, r).ravel()
    if Q is not None:
        xC = (x[:, None, :, None, None] * C[:, :, None, :, :]).reshape(rows, -1)  # [a, (i,p,q,e)]
        K = (Q.T @ xC).reshape(Q.shape[1], m * d * d, d).transpose(0, 2, 1).reshape(-1, m * d * d)
        KtK = blas.dsyrk(1.0, K, trans=1)  # upper triangle of K^T K at half the flops
        H -= KtK + np.triu(KtK, 1).T
    return H, g


def joint_normal_equations(thetas: np.ndarray, ws: np.ndarray, X: np.ndarray, R: np.ndarray):
    r"""Normal equations :math:`(J^\top J, J^\top r)` of the layer in all parameters :math:`(\Theta, W)`.

    :math:`J=[J_\Theta\,|\,J_W]` with :math:`J_W = D(\Theta)\otimes I_d` (output entry
    :math:`(\rho, e)` depends on :math:`W[(i,p), e]` only), so

    .. math::

        J_W^\top J_W = (D^\top D)\otimes I_d,\quad
        (J_\Theta^\top J_W)_{(i,p,q),(j,p',e)} = \sum_\rho x_{\rho p}C_{\rho iqe}D_{\rho,(j,p')},\quad
        J_W^\top r = D^\top R,

    each :math:`O(nk\,m^2d^4)` like :func:`theta_normal_equations`; ``J`` is never formed.
    ``R`` is the residual :math:`F-Y` of shape ``(n*k, d)``; parameters are ordered
    ``[vec Θ, vec W]``.
    """
    n, k, d = X.shape
    m = thetas.shape[0]
    A = attention(thetas, X)
    D = design_matrix(thetas, X, A)
    C = theta_covariances(thetas, ws, X, A)
    Htt, gt = theta_normal_equations(X, C, R)
    x = X.reshape(n * k, d)
    Htw = einsum("rp,riqe,rs->ipqse", x, C, D).reshape(m * d * d, m * d * d)
    Hww = np.kron(D.T @ D, np.eye(d))
    H = np.block([[Htt, Htw], [Htw.T, Hww]])
    g = np.concatenate([gt, (D.T @ R).ravel()])
    return H, g


def theta_jvp(A: np.ndarray, XW: np.ndarray, X: np.ndarray, V: np.ndarray) -> np.ndarray:
    r"""Directional derivative :math:`J_\Theta V` of the output, shape ``(n, k, d)``, without :math:`J`.

    For a direction :math:`V_i` of :math:`\Theta_i`: :math:`u_{iab}=x_a^\top V_ix_b`,
    :math:`\dot\alpha_{iab}=\alpha_{iab}(u_{iab}-\sum_c\alpha_{iac}u_{iac})` and
    :math:`\dot F=\sum_i\dot A_i\,XW_i`. ``A`` is the attention ``(n, m, k, k)``, ``XW`` the values
    ``(n, m, k, d)``. Cost :math:`O(nmk\,d(d+k))`.
    """
    n, k, d = X.shape
    m = V.shape[0]
    # batched matrix products (numpy.matmul) rather than einsum: 1.3-2.7x faster here (no copies)
    XV = (X.reshape(n * k, d) @ V.transpose(1, 0, 2).reshape(d, m * d)).reshape(n, k * m, d)
    U = np.matmul(XV, X.transpose(0, 2, 1)).reshape(n, k, m, k).transpose(0, 2, 1, 3)
    G = A * (U - (A * U).sum(-1, keepdims=True))
    return np.matmul(G.transpose(0, 2, 1, 3).reshape(n, k, m * k), XW.reshape(n, m * k, d))


def theta_vjp(A: np.ndarray, XW: np.ndarray, X: np.ndarray, R: np.ndarray) -> np.ndarray:
    r"""Gradient :math:`J_\Theta^\top R` of :math:`\langle R, F\rangle` in :math:`\Theta`, shape ``(m, d, d)``.

    With :math:`g_{iab}=\langle r_a, (XW_i)_b\rangle`: :math:`\partial/\partial\Theta_i[p,q]=
    \sum_{n,a,b}x_{ap}x_{bq}\,\alpha_{iab}(g_{iab}-\sum_c\alpha_{iac}g_{iac})` (the adjoint of
    :func:`theta_jvp`). ``R`` has shape ``(n, k, d)``.
    """
    n, k, d = X.shape
    m = A.shape[1]
    g = np.matmul(R, XW.reshape(n, m * k, d).transpose(0, 2, 1)).reshape(n, k, m, k).transpose(0, 2, 1, 3)
    H = A * (g - (A * g).sum(-1, keepdims=True))
    HX = np.matmul(H, X[:, None]).transpose(0, 2, 1, 3).reshape(n * k, m * d)
    return (X.reshape(n * k, d).T @ HX).reshape(d, m, d).transpose(1, 0, 2)


def theta_block_scaling(A: np.ndarray, XW: np.ndarray, X: np.ndarray) -> np.ndarray:
    r"""Per head, :math:`B_i^{-1/2}` with :math:`B_i=\sum_{n,a}\bar{x^2}_{a}\,C_{ai}C_{ai}^\top` (``(m, d, d)``).

    The diagonal block of :math:`J_\Theta^\top J_\Theta` for head :math:`i` and row :math:`p` of
    :math:`\Theta_i` is :math:`\sum_{n,a}x_{ap}^2C_{ai}C_{ai}^\top` (:math:`C_{ai}` the :math:`d\times d`
    covariances of :func:`theta_covariances`); on Boolean inputs :math:`x_{ap}^2=1`, so one
    :math:`d\times d` block per head serves every row :math:`p` (otherwise :math:`x_{ap}^2` is
    replaced by its mean :math:`w_a` over :math:`p`: a preconditioner, not an identity). Eigenvalues
    are floored at :math:`10^{-12}` of the largest.

    :math:`C_a` is never formed (that costs :math:`O(nmkd^3)`). Per example and head, with
    :math:`X, V=XW_i` (:math:`k\times d`), :math:`\alpha` the attention, :math:`G=VV^\top`,
    :math:`\bar X=\alpha X`, :math:`E=\alpha\circ(\alpha G)`, :math:`s=E\mathbf 1`
    (:math:`s_a=\|\bar v_a\|^2`) and :math:`\Omega=\operatorname{diag}(w)`, expanding
    :math:`C_a=X^\top\operatorname{diag}(\alpha_a)V-\bar x_a\bar v_a^\top` gives

    .. math::

        \sum_a w_aC_aC_a^\top = X^\top\big((\alpha^\top\Omega\alpha)\circ G\big)X
        - (EX)^\top\Omega\bar X - \bar X^\top\Omega(EX) + \bar X^\top\Omega\operatorname{diag}(s)\bar X,

    :math:`O(nmkd(k+d))` in all, like one Jacobian product (``docs/learner.md``, "Scale").
    """
    n, k, d = X.shape
    m = A.shape[1]
    w = (X * X).mean(-1)[:, None, :, None]  # (n, 1, k, 1)
    Xm = np.broadcast_to(X[:, None], XW.shape)
    G = np.matmul(XW, XW.transpose(0, 1, 3, 2))  # v_b . v_c
    M = np.matmul(A.transpose(0, 1, 3, 2), A * w) * G
    E = A * np.matmul(A, G)
    Xbar = np.matmul(A, Xm)

    def gram(P, Q):  # sum over examples n and rows a of P^T Q, per head
        return np.matmul(P.transpose(1, 3, 0, 2).reshape(m, d, -1), Q.transpose(1, 0, 2, 3).reshape(m, -1, d))

    T = gram(np.matmul(E, Xm) * w, Xbar)
    B = gram(Xm, np.matmul(M, Xm)) - T - T.transpose(0, 2, 1) + gram(Xbar * (w * E.sum(-1, keepdims=True)), Xbar)
    lam, U = np.linalg.eigh(B)
    lam = np.maximum(lam, 1e-12 * lam.max(axis=1, keepdims=True).clip(min=1e-300))
    return np.matmul(U * (1.0 / np.sqrt(lam))[:, None, :], U.transpose(0, 2, 1))
