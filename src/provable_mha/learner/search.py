r"""Phase (v), practical mode: local search over :math:`\Theta` with :math:`W` eliminated.

Variable projection (Golub–Pereyra): for fixed :math:`\Theta` the optimal
:math:`W^*(\Theta) = D(\Theta)^+ Y` (the W-step), leaving the reduced residual

.. math::

    r(\Theta) = \big(I - D(\Theta)D(\Theta)^+\big)\, Y ,

minimised by Levenberg–Marquardt with Kaufman's Jacobian
:math:`J \approx -P^\perp_{D}\,\partial_\Theta\big(D(\Theta)W\big)|_{W=W^*}`, whose entries are the
attention covariances of :mod:`~provable_mha.learner.design`. Each start is certified by its
residual; the search stops at the first start whose residual is at the noise floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .design import attention, design_matrix, theta_covariances, theta_jacobian, theta_normal_equations
from .lm import levenberg_marquardt

__all__ = ["LocalRun", "SearchResult", "varpro_residual", "local_search", "practical_search",
           "acceptance_threshold"]


@dataclass
class LocalRun:
    """One local-search run from one start."""

    thetas: np.ndarray
    ws: np.ndarray
    relative_residual: float
    iterations: int
    evaluations: int
    reason: str
    start: str


@dataclass
class SearchResult:
    """All runs of :func:`practical_search`; ``best`` is the lowest-residual run."""

    best: LocalRun
    runs: list[LocalRun] = field(default_factory=list)
    accepted: bool = False
    threshold: float = 0.0


def _w_star(thetas, X, Y):
    n, k, d = X.shape
    A = attention(thetas, X)
    D = design_matrix(thetas, X, A)
    Q, R = np.linalg.qr(D)
    Yf = Y.reshape(n * k, d)
    QtY = Q.T @ Yf
    try:
        W = np.linalg.solve(R, QtY) if np.all(np.abs(np.diag(R)) > 1e-13 * np.abs(R).max()) \
            else np.linalg.lstsq(D, Yf, rcond=None)[0]
    except np.linalg.LinAlgError:
        W = np.linalg.lstsq(D, Yf, rcond=None)[0]
    resid = Yf - Q @ QtY
    return A, Q, W, resid


def varpro_residual(theta_flat: np.ndarray, X: np.ndarray, Y: np.ndarray, m: int):
    r"""Reduced residual :math:`P^\perp_{D(\Theta)}Y` (flattened) and :math:`W^*(\Theta)` ``(m, d, d)``."""
    n, k, d = X.shape
    _, _, W, resid = _w_star(theta_flat.reshape(m, d, d), X, Y)
    return resid.ravel(), W.reshape(m, d, d)


def _varpro_jac(theta_flat, X, Y, m):
    """Kaufman's Jacobian :math:`-P^\\perp J_\\Theta`, formed explicitly (used by tests)."""
    n, k, d = X.shape
    thetas = theta_flat.reshape(m, d, d)
    A, Q, W, _ = _w_star(thetas, X, Y)
    J = theta_jacobian(thetas, W.reshape(m, d, d), X, A).reshape(n * k, d, -1)
    J -= np.einsum("rs,sej->rej", Q, np.einsum("rs,rej->sej", Q, J, optimize=True), optimize=True)
    return -J.reshape(n * k * d, -1)


def _varpro_normal(theta_flat, r, X, Y, m):
    """Normal equations of Kaufman's Jacobian via :func:`~.design.theta_normal_equations`.

    :math:`J_{vp} = -P^\\perp J_\\Theta`, so :math:`J_{vp}^\\top J_{vp} = J_\\Theta^\\top P^\\perp J_\\Theta`
    and, as :math:`r = P^\\perp Y` already lies in the range of :math:`P^\\perp`,
    :math:`J_{vp}^\\top r = -J_\\Theta^\\top r`.
    """
    n, k, d = X.shape
    thetas = theta_flat.reshape(m, d, d)
    A, Q, W, _ = _w_star(thetas, X, Y)
    C = theta_covariances(thetas, W.reshape(m, d, d), X, A)
    H, g = theta_normal_equations(X, C, r.reshape(n * k, d), Q)
    return H, -g


def acceptance_threshold(Y: np.ndarray, noise: float, n_params: int) -> float:
    r"""Relative residual below which a fit is accepted as consistent with the data.

    Noiseless: :math:`10^{-10}`. With noise level :math:`\sigma`, the residual of a correct fit
    has expected squared norm :math:`\sigma^2(N - p)` for :math:`N` labels and :math:`p`
    parameters; we accept up to 1.5 times its root plus round-off.
    """
    N = Y.size
    norm = float(np.linalg.norm(Y))
    floor = 1e-10
    if noise <= 0:
        return floor
    return floor + 1.5 * noise * np.sqrt(max(N - n_params, 1)) / max(norm, 1e-300)


def local_search(X, Y, m: int, theta0: np.ndarray, *, max_iter: int = 150, threshold: float = 1e-10,
                 start: str = "given") -> LocalRun:
    """Variable-projection Levenberg–Marquardt from ``theta0 (m, d, d)``."""
    n, k, d = X.shape
    norm = float(np.linalg.norm(Y))
    fun = lambda t: varpro_residual(t, X, Y, m)[0]
    # polish well below the acceptance threshold: LM converges superlinearly there, so the
    # extra iterations are few, and a stall at round-off is still judged by the threshold
    ftol = 0.5 * (1e-4 * threshold * norm) ** 2
    res = levenberg_marquardt(fun, None, theta0.ravel(), normal=lambda t, r: _varpro_normal(t, r, X, Y, m),
                              max_iter=max_iter, ftol=ftol, stall_window=15, stall_ratio=1.5)
    r, W = varpro_residual(res.x, X, Y, m)
    return LocalRun(res.x.reshape(m, d, d), W, float(np.linalg.norm(r) / norm), res.iterations,
                    res.evaluations, res.reason, start)


def start_points(m: int, d: int, rng: np.random.Generator, count: int, scales=(1.0, 2.0, 0.5, 3.0)):
    """Random starts :math:`\\Theta_i = s\\,G_i/d` cycling through logit scales ``scales``."""
    for j in range(count):
        s = scales[j % len(scales)]
        yield f"random(scale={s})", s * rng.standard_normal((m, d, d)) / d


def practical_search(X, Y, m: int, *, rng: np.random.Generator, noise: float = 0.0, restarts: int = 12,
                     initial: list[tuple[str, np.ndarray]] | None = None, max_iter: int = 150,
                     progress=None) -> SearchResult:
    """Multi-start variable projection; stops at the first run below :func:`acceptance_threshold`.

    ``initial`` starts (e.g. a sculpted estimate) are tried before the random ones.
    ``progress`` is an optional tqdm-like bar advanced once per run.
    """
    n, k, d = X.shape
    thr = acceptance_threshold(Y, noise, 2 * m * d * d)
    starts = list(initial or []) + list(start_points(m, d, rng, restarts))
    runs: list[LocalRun] = []
    for name, th0 in starts:
        run = local_search(X, Y, m, th0, max_iter=max_iter, threshold=thr, start=name)
        runs.append(run)
        if progress is not None:
            progress.update(1)
            progress.set_postfix(residual=f"{run.relative_residual:.1e}")
        if run.relative_residual <= thr:
            return SearchResult(run, runs, True, thr)
    best = min(runs, key=lambda r: r.relative_residual)
    return SearchResult(best, runs, False, thr)
