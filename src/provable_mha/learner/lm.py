r"""A small Levenberg–Marquardt solver on the normal equations.

Each step solves :math:`(J^\top J + \lambda\,\mathrm{diag}(J^\top J))\,\delta = -J^\top r`
(Marquardt's scaling) and accepts it when the sum of squares decreases, shrinking
:math:`\lambda` by 3 on success and growing it by 4 on failure. The normal matrix is
:math:`p\times p` (``p`` parameters), so a step costs :math:`O(Np^2)` for ``N`` residuals with
BLAS-3 throughput; for realizable data the residual goes to round-off, so squaring the condition
number costs nothing at the solution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["LMResult", "levenberg_marquardt"]


@dataclass
class LMResult:
    """Outcome of :func:`levenberg_marquardt`."""

    x: np.ndarray
    cost: float  # 0.5 * ||r||^2 at x
    iterations: int
    evaluations: int
    converged: bool
    reason: str


def levenberg_marquardt(
    fun: Callable[[np.ndarray], np.ndarray],
    jac: Callable[[np.ndarray], np.ndarray] | None,
    x0: np.ndarray,
    *,
    normal: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
    max_iter: int = 200,
    ftol: float = 1e-30,
    xtol: float = 1e-15,
    gtol: float = 1e-30,
    lam0: float = 1e-3,
    stall_window: int = 0,
    stall_ratio: float = 1.5,
    callback: Callable[[int, float], None] | None = None,
) -> LMResult:
    """Minimise :math:`\\tfrac12\\|r(x)\\|^2` from ``x0``.

    Give either ``jac(x) -> J`` or ``normal(x, r) -> (J^T J, J^T r)``; the latter lets a caller
    exploit structure in :math:`J` to form the normal equations without materialising it.

    Stops when the cost falls below ``ftol``, the step is below ``xtol * (||x|| + xtol)``,
    the gradient norm is below ``gtol``, or after ``max_iter`` iterations. With
    ``stall_window > 0`` it also stops (``converged=False``, reason ``"stalled"``) when the cost
    fell by less than a factor ``stall_ratio`` over the last ``stall_window`` iterations: near
    a zero-residual solution LM converges superlinearly, so a slow crawl marks a spurious
    local minimum and the caller's next start is a better use of time.
    """
    x = np.array(x0, dtype=np.float64, copy=True)
    r = fun(x)
    cost = 0.5 * float(r @ r)
    lam = lam0
    evals = 1
    history = [cost]
    for it in range(1, max_iter + 1):
        if stall_window and len(history) > stall_window and history[-1 - stall_window] < stall_ratio * cost:
            return LMResult(x, cost, it - 1, evals, False, "stalled")
        if cost <= ftol:
            return LMResult(x, cost, it - 1, evals, True, "cost below ftol")
        if normal is not None:  # structured J^T J and J^T r, never forming J
            H, g = normal(x, r)
        else:
            J = jac(x)
            g = J.T @ r
            H = J.T @ J
        if float(np.linalg.norm(g)) <= gtol:
            return LMResult(x, cost, it - 1, evals, True, "gradient below gtol")
        diag = np.maximum(np.diag(H), 1e-12 * max(1.0, float(np.max(np.diag(H)))))
        improved = False
        for _ in range(30):
            try:
                step = np.linalg.solve(H + lam * np.diag(diag), -g)
            except np.linalg.LinAlgError:
                lam *= 4.0
                continue
            x_new = x + step
            r_new = fun(x_new)
            evals += 1
            cost_new = 0.5 * float(r_new @ r_new)
            if np.isfinite(cost_new) and cost_new < cost:
                small = np.linalg.norm(step) <= xtol * (np.linalg.norm(x) + xtol)
                x, r, cost = x_new, r_new, cost_new
                lam = max(lam / 3.0, 1e-12)
                improved = True
                history.append(cost)
                if callback is not None:
                    callback(it, cost)
                if small:
                    return LMResult(x, cost, it, evals, True, "step below xtol")
                break
            lam *= 4.0
        if not improved:
            return LMResult(x, cost, it, evals, False, "no decrease (lambda saturated)")
    return LMResult(x, cost, max_iter, evals, False, "max_iter reached")
