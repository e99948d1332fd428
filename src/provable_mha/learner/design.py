r"""The attention design matrix and the derivatives shared by every phase of the learner.

For fixed :math:`\Theta = (\Theta_1,\dots,\Theta_m)` the layer is linear in
:math:`W = [W_1;\dots;W_m] \in \mathbb{R}^{md\times d}`:

.. math::

    Y_{\text{flat}} = D(\Theta)\, W, \qquad
    D(\Theta)_{(n,a),\,(i,\cdot)} = \big(A_i(X_n) X_n\big)_{a,\cdot} \in \mathbb{R}^{d},

a :math:`(nk)\times(md)` matrix (this is the *W-step* of SPEC §3). The derivative of a
row of head :math:`i` with respect to :math:`\Theta_i[p,q]` is a covariance under the
attention distribution of that row:

.. math::

    \frac{\partial\, (A_i X W_i)_{a e}}{\partial \Theta_i[p,q]}
      = x_{ap}\,\mathrm{Cov}_{b\sim\alpha_{ia}}\big(x_{bq},\, (x_b^\top W_i)_e\big),

which follows from :math:`\partial\alpha_{iab}/\partial\Theta_i[p,q]
= \alpha_{iab}\,x_{ap}(x_{bq} - \bar x_{iaq})` with :math:`\bar x_{ia} = \sum_c \alpha_{iac}x_c`.
"""

from __future__ import annotations

import numpy as np

from ..model import softmax

__all__ = ["attention", "design_matrix", "theta_jacobian", "w_jacobian_apply", "solve_w"]


def attention(thetas: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Attention weights ``(n, m, k, k)`` for parameters ``thetas (m, d, d)`` and inputs ``X (n, k, d)``."""
    return softmax(np.einsum("nad,mde,nbe->nmab", X, thetas, X, optimize=True))


def design_matrix(thetas: np.ndarray, X: np.ndarray, A: np.ndarray | None = None) -> np.ndarray:
    r"""The W-step design :math:`D(\Theta)` of shape ``(n*k, m*d)`` (rows ``(n, a)``, columns ``(i, p)``)."""
    n, k, d = X.shape
    m = thetas.shape[0]
    A = attention(thetas, X) if A is None else A
    AX = np.einsum("nmab,nbd->namd", A, X, optimize=True)
    return AX.reshape(n * k, m * d)


def solve_w(D: np.ndarray, Y: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    r"""Least-squares W-step :math:`\min_W \|DW - Y\|_F^2 + \text{ridge}\|W\|_F^2`, returned as ``(m*d, d)``."""
    Yf = Y.reshape(D.shape[0], -1)
    if ridge > 0:
        G = D.T @ D + ridge * np.eye(D.shape[1])
        return np.linalg.solve(G, D.T @ Yf)
    return np.linalg.lstsq(D, Yf, rcond=None)[0]


def theta_jacobian(thetas: np.ndarray, ws: np.ndarray, X: np.ndarray, A: np.ndarray | None = None) -> np.ndarray:
    r"""Jacobian of the flattened output :math:`F(X)` with respect to :math:`\mathrm{vec}\,\Theta`.

    Returns ``J`` of shape ``(n*k*d, m*d*d)`` with rows ``(n, a, e)`` and columns ``(i, p, q)``:
    :math:`J = x_{ap}\,\mathrm{Cov}_{\alpha_{ia}}(x_{bq}, (x_b^\top W_i)_e)` (module docstring).
    """
    n, k, d = X.shape
    m = thetas.shape[0]
    A = attention(thetas, X) if A is None else A
    V = np.einsum("nbd,mde->nmbe", X, ws, optimize=True)
    xbar = np.einsum("nmab,nbd->nmad", A, X, optimize=True)
    vbar = np.einsum("nmab,nmbe->nmae", A, V, optimize=True)
    C = np.einsum("nmab,nbq,nmbe->nmaqe", A, X, V, optimize=True)
    C -= xbar[..., :, None] * vbar[..., None, :]
    J = np.einsum("nap,nmaqe->naempq", X, C, optimize=True)
    return J.reshape(n * k * d, m * d * d)


def w_jacobian_apply(D: np.ndarray, d: int) -> np.ndarray:
    r"""Jacobian of the flattened output with respect to :math:`\mathrm{vec}\,W` (rows ``(n,a,e)``, columns ``(i,p,e')``).

    It is :math:`D \otimes I_d`: output entry :math:`(n,a,e)` depends on :math:`W[(i,p),e]` only.
    """
    return np.kron(D, np.eye(d))
