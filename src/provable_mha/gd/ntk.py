r"""NTK features at initialisation and the max-margin NTK separator (the realizability margin γ).

The NTK features of example :math:`i` are :math:`f_i = \nabla_\theta\Phi(X_i;\theta_0)`. The
realizability condition of Deora et al. asks for a unit direction :math:`\bar\theta` with
:math:`y_i\langle f_i,\bar\theta\rangle \ge \gamma > 0`. The largest such :math:`\gamma` is the
hard-margin SVM (without bias) on the features, a second-order cone program:

.. math::

    \gamma^\star = \max_{\gamma,\ \bar\theta}\ \gamma
    \quad\text{s.t.}\quad y_i\langle f_i,\bar\theta\rangle \ge \gamma\ (i\le n),\quad
    \|\bar\theta\|_2 \le 1 .

With :math:`F = [f_1,\dots,f_n]^\top = U_r\Sigma_rV_r^\top` (thin SVD, rank :math:`r`) an optimal
:math:`\bar\theta` lies in the row space of :math:`F` (projecting onto it keeps
:math:`F\bar\theta` and does not increase the norm), so we solve the equivalent program in
:math:`z\in\mathbb R^r`, :math:`\bar\theta = V_rz`: one vectorised linear block
:math:`y\odot(U_r\Sigma_r z)\ge\gamma` and one cone :math:`\|z\|\le1`. Its size is
:math:`\min(n, P)` instead of :math:`P = H(d+d^2)`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .bounds import TrainingBound, model_constants, token_radius, training_bound
from .classifier import MHAClassifier, _check_labels

__all__ = ["NTKMargin", "ntk_features", "ntk_margin", "NTKTrainingBound", "ntk_training_bound"]


@dataclass(frozen=True)
class NTKMargin:
    """Result of :func:`ntk_margin`.

    Attributes
    ----------
    gamma : float
        Optimal margin :math:`\\gamma^\\star` (``<= 0``: not NTK-separable at :math:`\\theta_0`).
    direction : ndarray, shape (P,)
        Unit direction :math:`\\bar\\theta`.
    achieved : float
        :math:`\\min_i y_i\\langle f_i,\\bar\\theta\\rangle` recomputed in NumPy (solver check).
    status, solver : str
    seconds : float
    """

    gamma: float
    direction: np.ndarray
    achieved: float
    status: str
    solver: str
    seconds: float

    @property
    def separable(self) -> bool:
        return self.achieved > 0


def ntk_features(model: MHAClassifier, X, theta=None) -> np.ndarray:
    r"""NTK feature matrix :math:`F_{i\cdot} = \nabla_\theta\Phi(X_i;\theta)`, shape ``(n, P)``."""
    if not isinstance(model, MHAClassifier):
        raise ValueError("model must be an MHAClassifier")
    return model.output_gradient(X, theta)


def ntk_margin(model: MHAClassifier, X, y, theta=None, solver: str = "CLARABEL",
               rank_tol: float = 1e-10) -> NTKMargin:
    r"""Solve the max-margin SOCP above with CVXPY and return :class:`NTKMargin`.

    Raises
    ------
    ValueError
        On bad inputs or when the solver does not reach an optimal status.
    """
    import cvxpy as cp

    F = ntk_features(model, X, theta)
    yy = _check_labels(y, F.shape[0])
    t0 = time.perf_counter()
    Uf, s, Vt = np.linalg.svd(F, full_matrices=False)
    r = int(np.sum(s > rank_tol * max(s.max(initial=0.0), 1e-300)))
    P = F.shape[1]
    if r == 0:  # all features vanish: no direction separates
        return NTKMargin(0.0, np.zeros(P), 0.0, "zero_features", "none",
                         time.perf_counter() - t0)
    M = (yy[:, None] * Uf[:, :r]) * s[:r]                           # rows y_i f_i in z-coordinates
    z = cp.Variable(r)
    gam = cp.Variable()
    prob = cp.Problem(cp.Maximize(gam), [M @ z >= gam, cp.norm(z, 2) <= 1])
    try:
        prob.solve(solver=solver)
    except cp.error.SolverError as exc:
        raise ValueError(f"NTK margin SOCP failed with solver {solver}: {exc}") from exc
    if prob.status not in ("optimal", "optimal_inaccurate") or z.value is None:
        raise ValueError(f"NTK margin SOCP ended with status {prob.status!r} ({solver})")
    zz = np.asarray(z.value, dtype=float)
    zz /= max(np.linalg.norm(zz), 1.0)
    direction = Vt[:r].T @ zz
    achieved = float(np.min(yy * (F @ direction)))
    return NTKMargin(float(gam.value), direction, achieved, str(prob.status), solver,
                     time.perf_counter() - t0)


@dataclass(frozen=True)
class NTKTrainingBound:
    """Result of :func:`ntk_training_bound`: the best valid bound over the radius grid.

    ``eta`` is the step size to run GD with, ``radius`` the comparator distance
    :math:`\\lambda`, ``comparator_loss`` :math:`\\hat L(\\theta_0+\\lambda\\bar\\theta)`, and
    ``detail`` the :class:`~provable_mha.gd.bounds.TrainingBound` (``detail.valid`` is false when
    no radius on the grid meets the hypotheses; ``bound`` is then ``inf``).
    """

    bound: float
    eta: float
    radius: float
    comparator_loss: float
    margin: NTKMargin
    detail: TrainingBound

    @property
    def valid(self) -> bool:
        return self.detail.valid


def ntk_training_bound(model: MHAClassifier, X, y, steps: int, margin: NTKMargin | None = None,
                       radii=None) -> NTKTrainingBound:
    r"""Instantiate the training bound with NTK comparators :math:`\theta_0 + \lambda\bar\theta`.

    For each radius :math:`\lambda` on the grid (default: 60 log-spaced values between
    :math:`0.1/\gamma` and :math:`100/\gamma`) the comparator loss is evaluated exactly, the step
    size is the fixed point :math:`\eta = 1/\rho(B(\eta))` of
    :func:`~provable_mha.gd.bounds.training_bound`, and the smallest bound whose hypotheses
    (:math:`\eta\le1/\rho(B)`, :math:`\kappa(B)A\le1`) hold is returned.
    """
    Xb = model._X(X)
    mg = ntk_margin(model, Xb, y) if margin is None else margin
    T = int(steps)
    R = token_radius(Xb)
    B0 = float(np.linalg.norm(model.U, axis=1).max())
    L0 = model.loss(Xb, y)
    if radii is None:
        g = max(mg.achieved, 1e-12)
        radii = np.geomspace(0.1 / g, 100 / g, 60)
    best = None
    fallback = None
    for lam in np.asarray(radii, dtype=float):
        Lc = model.loss(Xb, y, model.theta + lam * mg.direction)
        eta = model_constants(model, Xb).max_step
        for _ in range(50):
            tb = training_bound(R=R, B0=B0, H=model.H, eta=eta, steps=T, radius=lam,
                                comparator_loss=Lc, init_loss=L0,
                                normalization=model.normalization)
            if abs(eta * tb.rho - 1) < 1e-9:
                break
            eta = 1.0 / tb.rho
        tb = training_bound(R=R, B0=B0, H=model.H, eta=eta, steps=T, radius=lam,
                            comparator_loss=Lc, init_loss=L0, normalization=model.normalization)
        cand = NTKTrainingBound(tb.bound if tb.valid else np.inf, eta, float(lam), Lc, mg, tb)
        if tb.valid and (best is None or cand.bound < best.bound):
            best = cand
        if fallback is None or tb.bound < fallback.detail.bound:
            fallback = cand
    return best if best is not None else fallback
