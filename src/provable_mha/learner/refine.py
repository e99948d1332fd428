r"""Joint least-squares refinement of all :math:`(\Theta_i, W_i)` with an analytic Jacobian.

Minimises :math:`\tfrac12\sum_{n}\|F_{\Theta,W}(X_n) - Y_n\|_F^2` over both parameter blocks by
Levenberg–Marquardt. The Jacobian is :math:`[\,J_\Theta\;|\;D(\Theta)\otimes I_d\,]`:
:math:`J_\Theta` holds the attention covariances of :mod:`~provable_mha.learner.design` and the
:math:`W` block is the design matrix repeated for each output coordinate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .design import attention, design_matrix, theta_jacobian
from .lm import levenberg_marquardt

__all__ = ["RefineResult", "joint_refine"]


@dataclass
class RefineResult:
    thetas: np.ndarray
    ws: np.ndarray
    relative_residual_before: float
    relative_residual: float
    iterations: int
    reason: str


def _unpack(x, m, d):
    half = m * d * d
    return x[:half].reshape(m, d, d), x[half:].reshape(m, d, d)


def _residual(x, X, Y, m):
    n, k, d = X.shape
    th, w = _unpack(x, m, d)
    D = design_matrix(th, X)
    return (D @ w.reshape(m * d, d) - Y.reshape(n * k, d)).ravel()


def _jacobian(x, X, Y, m):
    n, k, d = X.shape
    th, w = _unpack(x, m, d)
    A = attention(th, X)
    D = design_matrix(th, X, A)
    JW = np.einsum("rc,ef->recf", D, np.eye(d)).reshape(n * k * d, m * d * d)
    return np.hstack([theta_jacobian(th, w, X, A), JW])


def joint_refine(X, Y, thetas, ws, *, max_iter: int = 30, threshold: float = 0.0) -> RefineResult:
    """Refine ``(thetas, ws)`` jointly; never returns a worse fit than it was given."""
    n, k, d = X.shape
    m = thetas.shape[0]
    x0 = np.concatenate([thetas.ravel(), ws.ravel()])
    norm = float(np.linalg.norm(Y))
    r0 = float(np.linalg.norm(_residual(x0, X, Y, m)) / norm)
    ftol = 0.5 * (0.1 * threshold * norm) ** 2
    res = levenberg_marquardt(lambda x: _residual(x, X, Y, m), lambda x: _jacobian(x, X, Y, m), x0,
                              max_iter=max_iter, ftol=ftol)
    r1 = float(np.sqrt(2 * res.cost) / norm)
    if not r1 <= r0:  # LM only accepts decreasing steps; keep the guard explicit
        th, w = thetas, ws
        r1 = r0
    else:
        th, w = _unpack(res.x, m, d)
    return RefineResult(th.copy(), w.copy(), r0, r1, res.iterations, res.reason)
