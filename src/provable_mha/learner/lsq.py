r"""The one Levenberg–Marquardt core every least-squares fit of the learner runs on.

Minimise :math:`\tfrac12\|r(x)\|^2`. Each iteration linearises :math:`r` at :math:`x` and solves
the damped Gauss–Newton system with Marquardt's scaling

.. math::

    (J^\top J + \lambda D)\,\delta = -J^\top r, \qquad D = \operatorname{diag}(J^\top J),

accepting the step when the cost decreases (then :math:`\lambda\leftarrow\lambda/3`), otherwise
:math:`\lambda\leftarrow4\lambda` and retry. The loop is written once (:func:`levenberg_marquardt`);
what differs between callers is only how the linear system is solved, behind
:class:`Linearization`:

* :class:`DenseNormal` — the caller forms :math:`(J^\top J, J^\top r)`, possibly from structure
  without ever materialising :math:`J` (the variable-projection search does, at
  :math:`O(nk\,m^2d^4)`), and the step is a Cholesky/LU solve of a :math:`p\times p` matrix;
* :class:`MatrixFree` — the caller gives :math:`v\mapsto Jv` and :math:`u\mapsto J^\top u`; the step
  is LSMR (:func:`scipy.sparse.linalg.lsmr`) on the column-scaled system
  :math:`\min_z\|JD^{-1/2}z + r\|^2+\lambda\|z\|^2`, :math:`\delta = D^{-1/2}z` — the same step
  without a :math:`p\times p` matrix, for sizes where :math:`p^2` does not fit.

:func:`ridged` turns a problem into its Tikhonov-regularised version
:math:`\tfrac12\|r(x)\|^2+\tfrac12c^2\|x\|^2` (the residual :math:`[r(x);\,cx]`, Jacobian
:math:`[J;\,cI]`) for either kind of linear algebra.

A problem may also supply ``retract(x, step)`` (default ``x + step``), e.g. to re-orthonormalise
a basis after each step (optimisation on a Grassmannian). Why an in-house loop and not
:func:`scipy.optimize.least_squares` is measured in ``docs/learner.md`` ("The least-squares core").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator, lsmr

__all__ = ["LMResult", "Linearization", "DenseNormal", "DenseJacobian", "MatrixFree",
           "levenberg_marquardt", "ridged"]


class Linearization:
    """The linear model of :math:`r` at one point: gradient :math:`J^\\top r` and damped steps."""

    gradient: np.ndarray

    def step(self, lam: float) -> np.ndarray:  # pragma: no cover - interface
        """Solve :math:`(J^\\top J+\\lambda D)\\delta=-J^\\top r`."""
        raise NotImplementedError

    def with_ridge(self, c: float, x: np.ndarray) -> Linearization:  # pragma: no cover - interface
        """The linearisation of :math:`[r;\\,cx]` at ``x`` (Jacobian :math:`[J;\\,cI]`)."""
        raise NotImplementedError


class DenseNormal(Linearization):
    """Steps from a formed normal matrix ``H`` :math:`=J^\\top J` and gradient ``g`` :math:`=J^\\top r`."""

    def __init__(self, H: np.ndarray, g: np.ndarray) -> None:
        self.H, self.gradient = H, g
        diag = np.diag(H)
        self.scale = np.maximum(diag, 1e-12 * max(1.0, float(diag.max(initial=0.0))))

    def step(self, lam: float) -> np.ndarray:
        A = self.H + lam * np.diag(self.scale)
        try:
            return scipy.linalg.cho_solve(scipy.linalg.cho_factor(A, check_finite=False), -self.gradient,
                                          check_finite=False)
        except np.linalg.LinAlgError:
            return np.linalg.solve(A, -self.gradient)  # raises LinAlgError when singular

    def with_ridge(self, c: float, x: np.ndarray) -> DenseNormal:
        return DenseNormal(self.H + c * c * np.eye(len(x)), self.gradient + c * c * x)


def DenseJacobian(J: np.ndarray, r: np.ndarray) -> DenseNormal:
    """A :class:`DenseNormal` from an explicit Jacobian ``J`` (small problems)."""
    return DenseNormal(J.T @ J, J.T @ r)


class MatrixFree(Linearization):
    r"""Steps by LSMR from products :math:`v\mapsto Jv`, :math:`u\mapsto J^\top u` (no :math:`p\times p` matrix).

    Parameters
    ----------
    matvec, rmatvec : callable
    shape : (N, p)
    r : ndarray (N,)
        The residual at the linearisation point.
    col_norms2 : ndarray (p,), optional
        :math:`\operatorname{diag}(J^\top J)`: Marquardt's diagonal scaling :math:`S=D^{-1/2}`.
    scaling : callable, optional
        A symmetric positive definite :math:`S` applied to vectors, instead of the diagonal: the
        step is :math:`\delta=Sz` with :math:`\min_z\|JSz+r\|^2+\lambda\|z\|^2`, i.e. damping by
        :math:`S^{-2}` (e.g. the inverse square root of the block diagonal of :math:`J^\top J`,
        which also preconditions LSMR).
    rtol : float
        Relative accuracy of the inner solve (inexact Gauss–Newton; the outer loop corrects).
    """

    def __init__(self, matvec: Callable, rmatvec: Callable, shape: tuple[int, int], r: np.ndarray,
                 col_norms2: np.ndarray | None = None, *, scaling: Callable | None = None, rtol: float = 1e-10,
                 maxiter: int | None = None) -> None:
        self.r, self.shape = r, shape
        self.products = (matvec, rmatvec)
        if scaling is None:
            scale = np.maximum(col_norms2, 1e-12 * max(1.0, float(col_norms2.max(initial=0.0))))
            inv_sqrt = 1.0 / np.sqrt(scale)
            scaling = lambda z: inv_sqrt * z  # noqa: E731
        self.scaling = scaling
        self.op = LinearOperator(shape, matvec=lambda z: matvec(scaling(z)), rmatvec=lambda u: scaling(rmatvec(u)),
                                 dtype=float)
        self.gradient = rmatvec(r)
        self.rtol, self.maxiter = rtol, maxiter
        self.inner_iterations = 0

    def with_ridge(self, c: float, x: np.ndarray) -> MatrixFree:
        """Same products stacked with :math:`cI`; the scaling (preconditioner) is kept."""
        (mv, rmv), (N, p) = self.products, self.shape
        return MatrixFree(lambda v: np.concatenate([mv(v), c * v]), lambda u: rmv(u[:N]) + c * u[N:], (N + p, p),
                          np.concatenate([self.r, c * x]), scaling=self.scaling, rtol=self.rtol,
                          maxiter=self.maxiter)

    def step(self, lam: float) -> np.ndarray:
        out = lsmr(self.op, -self.r, damp=float(np.sqrt(lam)), atol=self.rtol, btol=self.rtol,
                   maxiter=self.maxiter)
        self.inner_iterations += int(out[2])
        return self.scaling(out[0])


@dataclass
class LMResult:
    """Outcome of :func:`levenberg_marquardt`."""

    x: np.ndarray
    r: np.ndarray
    cost: float  # 0.5 * ||r||^2 at x
    iterations: int
    evaluations: int
    converged: bool
    reason: str


def levenberg_marquardt(
    residual: Callable[[np.ndarray], np.ndarray],
    linearize: Callable[[np.ndarray, np.ndarray], Linearization],
    x0: np.ndarray,
    *,
    retract: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    max_iter: int = 200,
    ftol: float = 0.0,
    xtol: float = 1e-15,
    gtol: float = 0.0,
    lam0: float = 1e-3,
    stall_window: int = 0,
    stall_ratio: float = 1.5,
    deadline: float | None = None,
    callback: Callable[[int, float], None] | None = None,
) -> LMResult:
    """Minimise :math:`\\tfrac12\\|r(x)\\|^2` from ``x0`` (module docstring).

    Parameters
    ----------
    residual : callable ``x -> r``
    linearize : callable ``(x, r) -> Linearization``
    x0 : ndarray
    retract : callable ``(x, step) -> x_new``, optional
        Default ``x + step``.
    max_iter : int
    ftol : float
        Stop (converged) once the cost :math:`\\tfrac12\\|r\\|^2` is at most this.
    xtol : float
        Stop (converged) when an accepted step is below ``xtol * (||x|| + xtol)``.
    gtol : float
        Stop (converged) when :math:`\\|J^\\top r\\|` is at most this.
    lam0 : float
        Initial damping.
    stall_window, stall_ratio : int, float
        With ``stall_window > 0``, stop (``converged=False``, ``"stalled"``) when the cost fell by
        less than ``stall_ratio`` over the last ``stall_window`` iterations.
    deadline : float, optional
        A :func:`time.perf_counter` value after which the run stops (``"deadline"``).
    callback : callable ``(iteration, cost)``, optional
        Called after every accepted step.
    """
    retract = retract or (lambda x, s: x + s)
    x = np.array(x0, dtype=np.float64, copy=True)
    r = residual(x)
    cost = 0.5 * float(r @ r)
    lam, evals, history = lam0, 1, [cost]

    def done(it, conv, why):
        return LMResult(x, r, cost, it, evals, conv, why)

    for it in range(1, max_iter + 1):
        if stall_window and len(history) > stall_window and history[-1 - stall_window] < stall_ratio * cost:
            return done(it - 1, False, "stalled")
        if cost <= ftol:
            return done(it - 1, True, "cost below ftol")
        if deadline is not None and time.perf_counter() > deadline:
            return done(it - 1, False, "deadline")
        lin = linearize(x, r)
        if float(np.linalg.norm(lin.gradient)) <= gtol:
            return done(it - 1, True, "gradient below gtol")
        for _ in range(30):
            try:
                step = lin.step(lam)
            except np.linalg.LinAlgError:
                lam *= 4.0
                continue
            x_new = retract(x, step)
            r_new = residual(x_new)
            evals += 1
            cost_new = 0.5 * float(r_new @ r_new)
            if np.isfinite(cost_new) and cost_new < cost:
                small = np.linalg.norm(step) <= xtol * (np.linalg.norm(x) + xtol)
                x, r, cost = x_new, r_new, cost_new
                lam = max(lam / 3.0, 1e-12)
                history.append(cost)
                if callback is not None:
                    callback(it, cost)
                if small:
                    return done(it, True, "step below xtol")
                break
            lam *= 4.0
        else:
            return done(it, False, "no decrease (lambda saturated)")
    return done(max_iter, False, "max_iter reached")


def ridged(residual: Callable[[np.ndarray], np.ndarray], linearize: Callable[[np.ndarray, np.ndarray], Linearization],
           c: float):
    """``(residual, linearize)`` of :math:`[r(x);\\,cx]`: LM on it minimises
    :math:`\\tfrac12\\|r(x)\\|^2+\\tfrac12c^2\\|x\\|^2` (Tikhonov)."""

    def res(x):
        return np.concatenate([residual(x), c * x])

    def lin(x, r):
        return linearize(x, r[: len(r) - len(x)]).with_ridge(c, x)

    return res, lin
