"""Every convex program of the package is solved here: solver choice, tolerances, status, timing.

Pure LPs default to HiGHS (exact simplex/IPM, fast on vectorised blocks); programs with
second-order cones default to Clarabel (accurate interior point). SCS is the fallback for
large, low-accuracy conic programs. A user may pass any installed solver name.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from .errors import LearnError

__all__ = ["SolveInfo", "choose_solver", "solve", "FEAS_TOL"]

#: Primal feasibility tolerance we ask of solvers; containment checks allow 10x this
#: (``learner.policy.CONTAINMENT_TOL``).
FEAS_TOL = 1e-8

_DEFAULT = {"lp": "HIGHS", "socp": "CLARABEL"}
_FALLBACK = {"lp": ["CLARABEL", "SCS"], "socp": ["SCS"]}


@dataclass
class SolveInfo:
    """What a solve did: solver, status, wall time, and problem sizes."""

    solver: str
    status: str
    seconds: float
    n_variables: int
    n_constraints: int

    def as_dict(self) -> dict:
        return dict(solver=self.solver, status=self.status, seconds=self.seconds,
                    n_variables=self.n_variables, n_constraints=self.n_constraints)


def choose_solver(kind: str = "lp", preference: str | None = None) -> str:
    """Return the solver name to use for a problem ``kind`` in ``{"lp", "socp"}``.

    Raises
    ------
    ValueError
        If ``preference`` is not an installed CVXPY solver.
    """
    if kind not in _DEFAULT:
        raise ValueError(f"kind must be 'lp' or 'socp', got {kind!r}")
    installed = cp.installed_solvers()
    if preference is not None:
        name = str(preference).upper()
        if name not in installed:
            raise ValueError(f"solver {preference!r} is not installed; available: {installed}")
        if kind == "socp" and name in ("HIGHS", "GLOP", "PDLP", "SCIPY"):
            raise ValueError(f"solver {name} cannot solve second-order-cone programs")
        return name
    return _DEFAULT[kind]


def _opts(name: str) -> dict:
    if name == "CLARABEL":
        return {"tol_feas": FEAS_TOL, "tol_gap_abs": FEAS_TOL, "tol_gap_rel": FEAS_TOL}
    if name == "SCS":
        return {"eps": 1e-7, "max_iters": 20000}
    return {}


def solve(problem: cp.Problem, kind: str = "lp", solver: str | None = None,
          allow_infeasible: bool = False) -> SolveInfo:
    """Solve ``problem`` with the chosen solver, falling back on solver errors.

    Returns
    -------
    SolveInfo
    Raises
    ------
    LearnError
        If every solver fails, or (unless ``allow_infeasible``) the status is not optimal.
    """
    first = choose_solver(kind, solver)
    names = [first] + [s for s in _FALLBACK[kind] if s != first and s in cp.installed_solvers()]
    errors = []
    for name in names:
        t0 = time.perf_counter()
        try:
            # cvxpy's bound propagation multiplies inf by 0 on unbounded variables: harmless;
            # its "solution may be inaccurate" warning is reported as the status instead
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                problem.solve(solver=name, **_opts(name))
        except (cp.error.SolverError, ValueError) as exc:  # try the next solver
            errors.append(f"{name}: {exc}")
            continue
        info = SolveInfo(name, str(problem.status), time.perf_counter() - t0,
                         sum(v.size for v in problem.variables()),
                         sum(c.size for c in problem.constraints))
        if problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            return info
        if allow_infeasible and problem.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            return info
        errors.append(f"{name}: status {problem.status}")
        if problem.status in (cp.INFEASIBLE, cp.UNBOUNDED):
            break  # another solver will not change a decided status
    raise LearnError("convex program failed: " + "; ".join(errors),
                     {"solvers_tried": names, "errors": errors})
