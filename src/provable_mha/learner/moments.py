r"""Phase (i): a crude estimate of :math:`\sum_i W_i` from input–label correlations.

When every :math:`\Theta_i = 0` each head averages the tokens, so row :math:`a` is
:math:`y_a = \bar x^\top \sum_i W_i` with :math:`\bar x = \frac1k\sum_b x_b`, and for Boolean
inputs :math:`\mathbb{E}[X^\top Y] = \sum_a \mathbb{E}[x_a y_a^\top] = \sum_i W_i` exactly
(:math:`\mathbb{E}[x_a x_b^\top] = \delta_{ab} I`). With :math:`\Theta\neq 0` both estimators
below are crude: their error is of the order of the attention's deviation from uniform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MomentEstimate", "crude_sum_w"]


@dataclass
class MomentEstimate:
    """Phase (i) output.

    Attributes
    ----------
    sum_w : ndarray (d, d)
        Least-squares fit of :math:`y_a \\approx \\bar x^\\top S` over all rows.
    correlation : ndarray (d, d)
        The empirical correlation :math:`\\frac1n\\sum_n X_n^\\top Y_n`.
    relative_residual : float
        :math:`\\|Y - \\bar X S\\|_F/\\|Y\\|_F`: how far the data are from uniform attention.
    """

    sum_w: np.ndarray
    correlation: np.ndarray
    relative_residual: float


def crude_sum_w(X: np.ndarray, Y: np.ndarray) -> MomentEstimate:
    r"""Estimate :math:`\sum_i W_i` (phase i) from examples ``X, Y`` of shape ``(n, k, d)``.

    Returns both the correlation estimator :math:`\frac1n\sum X^\top Y` (unbiased when all
    :math:`\Theta_i=0`) and the least-squares fit :math:`\arg\min_S\sum_{n,a}\|y_a-\bar x^\top S\|^2`
    (exact on noiseless data when all :math:`\Theta_i=0` and the mean tokens span
    :math:`\mathbb{R}^d`).
    """
    n, k, d = X.shape
    xbar = np.repeat(X.mean(axis=1), k, axis=0)  # (n*k, d): each row's mean token
    Yf = Y.reshape(n * k, d)
    S = np.linalg.lstsq(xbar, Yf, rcond=None)[0]
    corr = np.einsum("nad,nae->de", X, Y) / n
    denom = np.linalg.norm(Yf)
    rel = float(np.linalg.norm(Yf - xbar @ S) / denom) if denom > 0 else 0.0
    return MomentEstimate(sum_w=S, correlation=corr, relative_residual=rel)
