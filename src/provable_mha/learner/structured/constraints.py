r"""Vectorised CVXPY constraint blocks shared by the sculpting, span and provable phases.

Every builder returns a short list of CVXPY constraints, each one a *matrix* constraint over
a whole block of examples (never one Python object per scalar), so compile time stays
proportional to the number of blocks, not the number of examples.

The three families of ``docs/structured.md`` §4:

* **Log-ratio block** (Θ-step). For one head and a row :math:`a` of an example, two tokens
  :math:`b\ne c` and an interval :math:`\alpha_{ab}\in[l_{ab},u_{ab}]` with :math:`l>0`,

  .. math::

      \log l_{ab}-\log u_{ac}\;\le\; x_a^\top\Theta\,(x_b-x_c) \;=\;
      \langle \mathrm{vec}(x_a(x_b-x_c)^\top),\ \mathrm{vec}\,\Theta\rangle
      \;\le\; \log u_{ab}-\log l_{ac},

  since :math:`\log\alpha_{ab}-\log\alpha_{ac}=x_a^\top\Theta(x_b-x_c)` exactly (the softmax
  normaliser cancels). Stacking all pairs :math:`b<c` of all rows gives ``lo <= F theta <= hi``.
* **g-polytope block**: :math:`g^\top\beta_{ab}\ge -\text{slack}_{ab}` as ``B @ g >= -slack``.
* **W-step residual block**: :math:`|D(\Theta)W-Y|\le t` entrywise (an LP in ``(W, t)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

__all__ = ["LogRatioRows", "logratio_rows", "interval_block", "residual_block", "box_block"]


@dataclass
class LogRatioRows:
    r"""Linear rows ``lo <= F @ vec(Theta) <= hi`` of one head's Θ-step body.

    Attributes
    ----------
    F : ndarray, shape (r, d*d)
        Rows :math:`\mathrm{vec}(x_a(x_b-x_c)^\top)` (row-major ``vec``, matching
        ``Theta.reshape(-1)``).
    lo, hi : ndarray, shape (r,)
        Finite bounds (rows with a vanishing lower interval end are dropped: they carry no
        information, :math:`\log 0=-\infty`).
    example : ndarray of int, shape (r,)
        Example index of every row, so the body can be grown in batches.
    """

    F: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    example: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.F.shape[0])

    def subset(self, mask: np.ndarray) -> LogRatioRows:
        return LogRatioRows(self.F[mask], self.lo[mask], self.hi[mask], self.example[mask])

    def violation(self, theta: np.ndarray) -> float:
        """Largest violation :math:`\\max(lo-F\\theta, F\\theta-hi, 0)` at ``theta (d, d)``."""
        if self.n_rows == 0:
            return 0.0
        v = self.F @ np.asarray(theta, dtype=float).reshape(-1)
        return float(max(0.0, np.max(self.lo - v), np.max(v - self.hi)))


def logratio_rows(X: np.ndarray, lower: np.ndarray, upper: np.ndarray, *,
                  floor: float = 1e-300) -> LogRatioRows:
    r"""All log-ratio rows of one head from per-weight intervals.

    Parameters
    ----------
    X : ndarray, shape (n, k, d)
    lower, upper : ndarray, shape (n, k, k)
        Valid bounds :math:`l_{ab}\le\alpha_{ab}\le u_{ab}` for one head (row ``a``, token ``b``).
    floor : float
        Lower ends ``<= floor`` are treated as 0 and their pairs dropped.

    Returns
    -------
    LogRatioRows
        One row per example, query row ``a`` and unordered pair ``b < c`` whose two lower ends
        are positive and whose feature :math:`x_a(x_b-x_c)^\top` is non-zero.
    """
    n, k, d = X.shape
    bi, ci = np.triu_indices(k, 1)
    diff = X[:, bi, :] - X[:, ci, :]  # (n, P, d)
    F = np.einsum("nap,nPq->naPpq", X, diff).reshape(n, k, len(bi), d * d)
    lo_ok = lower > floor
    up = np.minimum(upper, 1.0)
    with np.errstate(divide="ignore"):
        llo, lup = np.log(np.where(lo_ok, lower, 1.0)), np.log(up)
    lo = llo[:, :, bi] - lup[:, :, ci]
    hi = lup[:, :, bi] - llo[:, :, ci]
    keep = lo_ok[:, :, bi] & lo_ok[:, :, ci] & (np.abs(diff).sum(-1) > 0)[:, None, :]
    ex = np.broadcast_to(np.arange(n)[:, None, None], keep.shape)
    return LogRatioRows(F[keep], lo[keep], hi[keep], ex[keep].copy())


def interval_block(F: np.ndarray, x: cp.Expression, lo: np.ndarray | None = None,
                   hi: np.ndarray | None = None) -> list[cp.Constraint]:
    """``lo <= F @ x <= hi`` as (at most) two matrix constraints. ``x`` may be a vector or a
    matrix of stacked copies (columns), in which case the bounds broadcast over columns."""
    expr = F @ x
    out: list[cp.Constraint] = []
    if lo is not None:
        out.append(expr >= (lo if x.ndim == 1 else lo[:, None]))
    if hi is not None:
        out.append(expr <= (hi if x.ndim == 1 else hi[:, None]))
    return out


def residual_block(D: np.ndarray, Y: np.ndarray, W: cp.Variable, t: cp.Expression) -> list[cp.Constraint]:
    r"""The W-step LP block :math:`-t\le D W - Y\le t` (entrywise) for ``D (N, md)``, ``Y (N, d)``."""
    R = D @ W - Y
    return [R <= t, R >= -t]


def box_block(x: cp.Expression, radius: float) -> list[cp.Constraint]:
    """``|x| <= radius`` entrywise (a valid a-priori box, keeps LPs bounded)."""
    return [x <= radius, x >= -radius]
