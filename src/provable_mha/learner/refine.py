r"""Joint least-squares refinement of all :math:`(\Theta_i, W_i)`, the last step of every strategy.

Minimises :math:`\tfrac12\sum_{n}\|F_{\Theta,W}(X_n) - Y_n\|_F^2` over both parameter blocks with the
Levenberg–Marquardt core of :mod:`.lsq`. The normal equations come from
:func:`.design.joint_normal_equations` (attention covariances and the design, never the
:math:`nkd\times2md^2` Jacobian); above :data:`DENSE_MAX_PARAMS` parameters the steps use
products with the Jacobian instead (:func:`joint_operator`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._einsum import einsum
from . import policy
from .design import attention, design_matrix, joint_normal_equations, theta_block_scaling, theta_jvp, theta_vjp
from .lsq import DenseNormal, MatrixFree, levenberg_marquardt

#: Above this many parameters (2 m d^2) the refinement uses products instead of the dense normal
#: matrix, whose size is the square of this (docs/learner.md, "Scale").
DENSE_MAX_PARAMS = 2048

__all__ = ["RefineResult", "joint_refine"]


@dataclass
class RefineResult:
    thetas: np.ndarray
    ws: np.ndarray
    relative_residual_before: float
    relative_residual: float
    iterations: int
    reason: str


def _split(x: np.ndarray, m: int, d: int):
    half = m * d * d
    return x[:half].reshape(m, d, d), x[half:].reshape(m, d, d)


def joint_operator(x: np.ndarray, r: np.ndarray, X: np.ndarray, m: int) -> MatrixFree:
    r"""The joint Jacobian :math:`[J_\Theta\,|\,D\otimes I_d]` as products (no :math:`P\times P` matrix).

    Scaling and preconditioner: per head the block of :func:`.design.theta_block_scaling` for
    :math:`\Theta`, and :math:`(D^\top D)^{-1/2}` (acting on the rows of :math:`W`) for :math:`W`.
    """
    n, k, d = X.shape
    th, w = _split(x, m, d)
    A = attention(th, X)
    D = design_matrix(th, X, A)
    XW = einsum("nbd,mde->nmbe", X, w)
    S_t = theta_block_scaling(A, XW, X)
    lam, U = np.linalg.eigh(D.T @ D)
    S_w = (U / np.sqrt(np.maximum(lam, 1e-12 * lam.max()))) @ U.T
    half = m * d * d

    def matvec(v):
        dF = theta_jvp(A, XW, X, v[:half].reshape(m, d, d)).reshape(n * k, d)
        return (dF + D @ v[half:].reshape(m * d, d)).ravel()

    def rmatvec(u):
        U_ = u.reshape(n * k, d)
        return np.concatenate([theta_vjp(A, XW, X, U_.reshape(n, k, d)).ravel(), (D.T @ U_).ravel()])

    def scaling(z):
        zt = einsum("ipq,iqr->ipr", z[:half].reshape(m, d, d), S_t)
        return np.concatenate([zt.ravel(), (S_w @ z[half:].reshape(m * d, d)).ravel()])

    return MatrixFree(matvec, rmatvec, (n * k * d, 2 * half), r, scaling=scaling, rtol=1e-8)


def joint_refine(X, Y, thetas, ws, *, max_iter: int = 30, threshold: float = 0.0) -> RefineResult:
    """Refine ``(thetas, ws)`` jointly; never returns a worse fit than it was given.

    Stops once the relative residual is below ``policy.LM_POLISH`` times ``threshold``.
    """
    n, k, d = X.shape
    m = thetas.shape[0]
    Yf = Y.reshape(n * k, d)

    def residual(x):
        th, w = _split(x, m, d)
        return (design_matrix(th, X) @ w.reshape(m * d, d) - Yf).ravel()

    def linearize(x, r):
        if 2 * m * d * d > DENSE_MAX_PARAMS:
            return joint_operator(x, r, X, m)
        th, w = _split(x, m, d)
        return DenseNormal(*joint_normal_equations(th, w, X, r.reshape(n * k, d)))

    x0 = np.concatenate([thetas.ravel(), ws.ravel()])
    norm = float(np.linalg.norm(Y))
    r0 = float(np.linalg.norm(residual(x0)) / norm)
    res = levenberg_marquardt(residual, linearize, x0, max_iter=max_iter,
                              ftol=0.5 * (policy.LM_POLISH * threshold * norm) ** 2)
    r1 = float(np.linalg.norm(res.r) / norm)
    th, w = _split(res.x, m, d) if r1 <= r0 else (thetas, ws)  # LM only accepts decreasing steps
    return RefineResult(th.copy(), w.copy(), r0, min(r0, r1), res.iterations, res.reason)
