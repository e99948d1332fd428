r"""Joint least-squares refinement of all :math:`(\Theta_i, W_i)`, the last step of every strategy.

Minimises :math:`\tfrac12\sum_{n}\|F_{\Theta,W}(X_n) - Y_n\|_F^2` over both parameter blocks with the
Levenberg–Marquardt core of :mod:`.lsq`. The normal equations come from
:func:`.design.joint_normal_equations` (attention covariances and the design, never the
:math:`nkd\times2md^2` Jacobian).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import policy
from .design import design_matrix, joint_normal_equations
from .lsq import DenseNormal, levenberg_marquardt

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
