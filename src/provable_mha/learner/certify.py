r"""Certification: the W-step LP on training data and the held-out residual bound.

*W-step LP.* For the learned :math:`\Theta`, the smallest uniform residual any value maps can
reach on the training set,

.. math::

    t^* = \min_{W,\,t}\ t \quad\text{s.t.}\quad -t \le D(\Theta)W - Y \le t \ \ (\text{entrywise}),

built as one vectorised CVXPY block and solved by an LP solver. :math:`t^*\approx 0` certifies
that :math:`\Theta` explains the training labels exactly; a large :math:`t^*` rejects it.

*Held-out bound.* See :class:`~provable_mha.learner.result.Certificate` for the two statements
(realizable PAC bound and Hoeffding bound) computed by :func:`holdout_certificate`.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from ..model import MultiHeadAttention
from .design import design_matrix
from .result import Certificate
from .solvers import solve

__all__ = ["w_step_lp", "holdout_certificate", "output_bound"]


def w_step_lp(X: np.ndarray, Y: np.ndarray, thetas: np.ndarray, solver: str | None = None) -> dict:
    """Solve the W-step LP above; returns ``t_star``, relative ``t_star / max|Y|`` and solver info.

    The LP separates over output coordinates: :math:`t^* = \\max_e \\min_{w}\\|Dw - Y_{:,e}\\|_\\infty`.
    One parametrised CVXPY problem (a DPP program, compiled once) is solved for each of the
    ``d`` columns, which keeps the constraint matrix at ``(n k) x (m d)`` instead of its
    ``d``-fold Kronecker expansion.
    """
    n, k, d = X.shape
    m = thetas.shape[0]
    D = design_matrix(thetas, X)
    Yf = Y.reshape(n * k, d)
    scale = float(np.abs(Yf).max()) or 1.0
    w = cp.Variable(m * d)
    t = cp.Variable(nonneg=True)
    y = cp.Parameter(n * k)
    prob = cp.Problem(cp.Minimize(t), [cp.abs(D @ w - y) <= t])
    t_cols, infos = [], []
    for e in range(d):
        y.value = Yf[:, e] / scale
        infos.append(solve(prob, "lp", solver))
        t_cols.append(float(t.value))
    t_star = max(t_cols) * scale
    info = infos[0].as_dict()
    info["seconds"] = float(sum(i.seconds for i in infos))
    info["status"] = "optimal" if all(i.status == "optimal" for i in infos) else ",".join({i.status for i in infos})
    info["n_programs"] = d
    return {"program": "w_step_lp", "t_star": t_star, "relative_t_star": t_star / scale, **info}


def output_bound(ws: np.ndarray, radius: float = 1.0) -> float:
    r"""Bound :math:`\max_{a,e}|F(X)_{ae}| \le R\sum_i\max_e\|W_i[:,e]\|_1` for :math:`\|x_b\|_\infty\le R`.

    Each output entry is a convex combination over tokens of :math:`x_b^\top W_i[:,e]`.
    """
    return float(radius * np.abs(ws).sum(axis=1).max(axis=1).sum())


def holdout_certificate(layer: MultiHeadAttention, Xh: np.ndarray, Yh: np.ndarray, *, delta: float = 0.05,
                        noise: float = 0.0, label_bound: float | None = None, radius: float = 1.0,
                        leverage: float = 0.0,
                        rel_tol: float = 1e-8, programs: list | None = None) -> Certificate:
    r"""Held-out certificate for ``layer`` on ``(Xh, Yh)`` (independent of training).

    ``epsilon`` is the tolerance per entry: :math:`10^{-8}\cdot\max|Y|` plus, with noise level
    :math:`\sigma`, the level :math:`\sigma\sqrt{1+h}\sqrt{2\ln(2N_h/\delta)}`. Here
    :math:`h` (``leverage``) is the mean leverage :math:`p/N_{tr}` of a least-squares fit of
    :math:`p` parameters to :math:`N_{tr}` noisy labels: to first order a held-out residual is
    :math:`(\hat F-F)-\xi \sim N(0,\sigma^2(1+h))`, the estimation error adding to the noise
    :math:`\xi`; a residual at this level on all entries is then what Gaussian noise stays
    below on all :math:`N_h` held-out entries with probability :math:`1-\delta`.
    ``certified`` is true iff every held-out residual is within ``epsilon``.
    """
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    nh = Xh.shape[0]
    R = layer(Xh) - Yh
    ymax = float(np.abs(Yh).max())
    eps = rel_tol * ymax
    if noise > 0:
        eps += noise * np.sqrt(1.0 + leverage) * np.sqrt(2 * np.log(2 * Yh.size / delta))
    per_example_max = np.abs(R).reshape(nh, -1).max(axis=1)
    max_res = float(per_example_max.max())
    rms = float(np.sqrt(np.mean(R**2)))
    rel = float(np.linalg.norm(R) / max(np.linalg.norm(Yh), 1e-300))
    certified = bool(max_res <= eps)
    log_term = np.log(1 / delta)
    fail_bound = float(min(1.0, log_term / nh)) if certified else 1.0
    b_hat = output_bound(layer.ws, radius)
    b_y = b_hat if label_bound is None else float(label_bound)
    if noise > 0:  # Gaussian label noise stays below this level on all entries w.p. 1 - delta
        b_y += noise * np.sqrt(2 * np.log(2 * Yh.size / delta))
    L = (b_hat + b_y) ** 2
    mse = float(np.mean(R**2))
    mse_bound = mse + L * np.sqrt(log_term / (2 * nh))
    if certified:
        statement = (f"every one of {nh} held-out examples fits to max residual {max_res:.2e} <= eps = {eps:.2e}; "
                     f"with prob >= {1 - delta:g}, P[max residual > eps] <= {fail_bound:.3g} on a fresh input, "
                     f"and E[mean sq. error] <= {mse_bound:.3g} (Hoeffding, labels bounded by {b_y:.3g})")
    else:
        statement = (f"NOT certified: held-out max residual {max_res:.2e} exceeds eps = {eps:.2e}; "
                     f"Hoeffding: with prob >= {1 - delta:g}, E[mean sq. error] <= {mse_bound:.3g}")
    return Certificate(n_holdout=nh, delta=delta, max_residual=max_res, rms_residual=rms, relative_error=rel,
                       epsilon=float(eps), certified=certified, failure_rate_bound=fail_bound,
                       mse_bound=float(mse_bound), loss_range=float(L), statement=statement,
                       programs=list(programs or []))
