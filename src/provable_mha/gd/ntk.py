r"""NTK features at initialisation and the max-margin NTK separator (the realizability margin γ).

The NTK features of example :math:`i` are :math:`f_i = \nabla_\omega\Phi(X_i;\omega_0)`. The
realizability condition of docs/gd.md §6 asks for a unit direction :math:`\bar\omega` with
:math:`y_i\langle f_i,\bar\omega\rangle \ge \gamma > 0`. The largest such :math:`\gamma` is the
hard-margin SVM (without bias) on the features, a second-order cone program:

.. math::

    \gamma^\star = \max_{\gamma,\ \bar\omega}\ \gamma
    \quad\text{s.t.}\quad y_i\langle f_i,\bar\omega\rangle \ge \gamma\ (i\le n),\quad
    \|\bar\omega\|_2 \le 1 .

With :math:`F = [f_1,\dots,f_n]^\top = U_r\Sigma_rV_r^\top` (thin SVD, rank :math:`r`) an optimal
:math:`\bar\omega` lies in the row space of :math:`F` (projecting onto it keeps
:math:`F\bar\omega` and does not increase the norm), so we solve the equivalent program in
:math:`z\in\mathbb R^r`, :math:`\bar\omega = V_rz`: one vectorised linear block
:math:`y\odot(U_r\Sigma_r z)\ge\gamma` and one cone :math:`\|z\|\le1`. Its size is
:math:`\min(n, P)` instead of :math:`P = H(d+d^2)`. The program is solved by
:func:`provable_mha.solvers.solve` (solver choice, tolerances, status, timing), like every
convex program of the package.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .._validation import check_positive_int
from ..errors import LearnError
from ..solvers import choose_solver, solve
from ._deprecation import renamed_kwargs
from .bounds import TrainingBound, model_constants, token_radius, training_bound
from .classifier import MHAClassifier, _check_labels

__all__ = ["NTKMargin", "ntk_features", "ntk_margin", "NTKTrainingBound", "ntk_training_bound"]


@dataclass(frozen=True)
class NTKMargin:
    r"""Result of :func:`ntk_margin`.

    Attributes
    ----------
    gamma : float
        Optimal margin :math:`\gamma^\star` (``<= 0``: not NTK-separable at :math:`\omega_0`).
    direction : ndarray, shape (P,)
        Unit direction :math:`\bar\omega`.
    achieved : float
        :math:`\min_i y_i\langle f_i,\bar\omega\rangle` recomputed in NumPy (solver check).
    status, solver : str
        Final status and the solver that produced it (``"none"`` when no program was solved).
    seconds : float
        Wall time of the SVD and the solve.
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


@renamed_kwargs(theta="params")
def ntk_features(model: MHAClassifier, X, params=None) -> np.ndarray:
    r"""NTK feature matrix :math:`F_{i\cdot} = \nabla_\omega\Phi(X_i;\omega)`, shape ``(n, P)``."""
    if not isinstance(model, MHAClassifier):
        raise ValueError("model must be an MHAClassifier")
    return model.output_gradient(X, params)


@renamed_kwargs(theta="params")
def ntk_margin(model: MHAClassifier, X, y, params=None, solver: str | None = "CLARABEL",
               rank_tol: float = 1e-10) -> NTKMargin:
    r"""Solve the max-margin SOCP above through :func:`provable_mha.solvers.solve`.

    Parameters
    ----------
    model : MHAClassifier
    X, y : arrays ``(n, T, d)`` and ``(n,)`` with labels in {-1, +1}.
    params : ndarray, optional
        Point :math:`\omega_0` of the features (default: the model's parameters).
    solver : str or None
        A CVXPY solver able to solve SOCPs (``None``: the package default, Clarabel); on a
        solver error :func:`~provable_mha.solvers.solve` falls back to SCS.
    rank_tol : float
        Singular values below ``rank_tol * max`` are dropped from the row space.

    Raises
    ------
    ValueError
        On bad inputs, or if ``solver`` is not an installed CVXPY solver that handles SOCPs
        (checked before any work).
    provable_mha.LearnError
        If every solver fails or none reaches an optimal status (the package's error for a
        failed convex program; ``diagnosis`` names the solvers tried and their errors).
    """
    import cvxpy as cp

    choose_solver("socp", solver)  # a bad solver name fails here, before any work
    F = ntk_features(model, X, params)
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
        info = solve(prob, "socp", solver)
    except LearnError as exc:
        raise LearnError(f"NTK margin SOCP (n = {F.shape[0]}, rank {r}): {exc}",
                         {**exc.diagnosis, "program": "ntk_margin"}) from exc
    zz = np.asarray(z.value, dtype=float)
    zz /= max(np.linalg.norm(zz), 1.0)
    direction = Vt[:r].T @ zz
    achieved = float(np.min(yy * (F @ direction)))
    return NTKMargin(float(gam.value), direction, achieved, info.status, info.solver,
                     time.perf_counter() - t0)


@dataclass(frozen=True)
class NTKTrainingBound:
    """Result of :func:`ntk_training_bound`: the best valid bound over the radius grid.

    ``eta`` is the step size to run GD with, ``radius`` the comparator distance
    :math:`\\lambda`, ``comparator_loss`` :math:`\\hat L(\\omega_0+\\lambda\\bar\\omega)`, and
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
    r"""Instantiate the training bound with NTK comparators :math:`\omega_0 + \lambda\bar\omega` (docs/gd.md §5).

    For each radius :math:`\lambda` on the grid (default: 60 log-spaced values between
    :math:`0.1/\gamma` and :math:`100/\gamma`) the comparator loss is evaluated exactly, the step
    size is the fixed point :math:`\eta = 1/\rho(B(\eta))` of
    :func:`~provable_mha.gd.bounds.training_bound`, and the smallest bound whose hypotheses
    (:math:`\eta\le1/\rho(B)`, :math:`\kappa(B)A\le1`) hold is returned.
    """
    Xb = model._X(X)
    mg = ntk_margin(model, Xb, y) if margin is None else margin
    T = check_positive_int(steps, "steps")
    R = token_radius(Xb)
    B0 = float(np.linalg.norm(model.U, axis=1).max())
    L0 = model.loss(Xb, y)
    if radii is None:
        g = max(mg.achieved, 1e-12)
        radii = np.geomspace(0.1 / g, 100 / g, 60)
    best = None
    fallback = None
    for lam in np.asarray(radii, dtype=float):
        Lc = model.loss(Xb, y, model.params + lam * mg.direction)
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
