r"""Theorem 1 of ``docs/structured.md`` (the curvature bound) and the rounding of the residual.

The body of :mod:`.body` rests on two numbers computed here: :math:`L(\rho)`, which bounds the
second-order remainder of the layer on a trust region, and :math:`\varepsilon`, which bounds the
rounding error of the residual evaluated in extended precision.
"""

from __future__ import annotations

import numpy as np

from ..._einsum import einsum
from ..design import design_matrix

__all__ = ["curvature_bound", "float_slack", "residual_extended"]

_U = float(np.finfo(float).eps)


def _geometry(X: np.ndarray) -> tuple[float, float]:
    """``(R, D)``: largest token norm, largest distance between two tokens of one example."""
    R = float(np.linalg.norm(X, axis=-1).max())
    diff = X[:, :, None, :] - X[:, None, :, :]
    D = float(np.sqrt((diff ** 2).sum(-1)).max()) if X.shape[1] > 1 else 0.0
    return R, D


def curvature_bound(X: np.ndarray, ws: np.ndarray, rho: float) -> float:
    r""":math:`L(\rho)` of the module docstring for inputs ``X (n, k, d)`` and values ``ws (m, d, d)``."""
    R, D = _geometry(X)
    c1, c2 = R * R * D ** 3 / 4.0, R * D * D / 2.0
    omega = np.linalg.norm(ws, axis=1).max(axis=1) + rho  # max_e ||W_i[:, e]||_2 + rho
    return float(np.max(0.5 * (c1 * omega + np.sqrt((c1 * omega) ** 2 + c2 ** 2))))


def float_slack(X: np.ndarray, thetas: np.ndarray, ws: np.ndarray, unit: float = _U) -> float:
    r"""A first-order estimate of the rounding error of one output entry (not interval arithmetic).

    :math:`\varepsilon=64u(2d^2Z+k+d+m)V` for unit round-off :math:`u` (``unit``), with
    :math:`Z=\max|x|^2\max_i\sum_{pq}|\Theta_i[p,q]|`
    bounding every logit (an error :math:`d^2uZ` in a logit moves the softmax weights by a relative
    :math:`2d^2uZ`), :math:`V=\sum_i\max_{n,b,e}(|x_b|^\top|W_i|)_e` bounding the values, and
    :math:`k+d+m` the accumulation over tokens, coordinates and heads (Higham's :math:`\gamma_n`),
    with a margin of 64. It is an assumption of the statement, and the statement says so.
    """
    n, k, d = X.shape
    m = thetas.shape[0]
    Xa = np.abs(X)
    Z = float(Xa.max()) ** 2 * float(np.abs(thetas).sum(axis=(1, 2)).max())
    V = float(einsum("nbd,mde->mnbe", Xa, np.abs(ws)).max(axis=(1, 2, 3)).sum())
    return 64.0 * unit * (2 * d * d * Z + k + d + m) * max(V, 1e-300)


def residual_extended(X: np.ndarray, Y: np.ndarray, thetas: np.ndarray, ws: np.ndarray) -> np.ndarray:
    r"""``Y - F(X)`` flattened, with :math:`F` evaluated in ``numpy.longdouble``.

    The body needs the residual of the *exact* layer at the stored parameters; evaluating it in
    extended precision (64-bit mantissa on x86-64) makes its rounding error
    :func:`float_slack` with :math:`u=` ``finfo(longdouble).eps`` — about :math:`10^{-3}` of the
    float64 error. Where ``longdouble`` is plain double the bound simply stays the float64 one.
    """
    n, k, d = X.shape
    m = thetas.shape[0]
    ld = np.longdouble
    F = design_matrix(thetas.astype(ld), X.astype(ld)) @ ws.astype(ld).reshape(m * d, d)
    return (Y.reshape(n * k, d).astype(ld) - F).astype(np.float64).ravel()
