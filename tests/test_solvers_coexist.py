"""cvxpy and ortools ship HiGHS builds that clash unless highspy is pinned (>=1.14,<1.15).

This imports both in one process and solves a tiny LP with HiGHS (through cvxpy), GLOP (through
ortools' linear solver) and a tiny model with CP-SAT.
"""

import cvxpy as cp
import numpy as np
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model


def test_highs_glop_cpsat_in_one_process():
    x = cp.Variable(2)
    prob = cp.Problem(cp.Minimize(x[0] + 2 * x[1]), [x >= 1, x[0] + x[1] >= 3])
    prob.solve(solver=cp.HIGHS)
    assert prob.status == cp.OPTIMAL and np.isclose(prob.value, 4.0)

    solver = pywraplp.Solver.CreateSolver("GLOP")
    a, b = solver.NumVar(1, 10, "a"), solver.NumVar(1, 10, "b")
    solver.Add(a + b >= 3)
    solver.Minimize(a + 2 * b)
    assert solver.Solve() == pywraplp.Solver.OPTIMAL
    assert np.isclose(solver.Objective().Value(), 4.0)

    model = cp_model.CpModel()
    u, v = model.NewIntVar(1, 10, "u"), model.NewIntVar(1, 10, "v")
    model.Add(u + v >= 3)
    model.Minimize(u + 2 * v)
    cps = cp_model.CpSolver()
    cps.parameters.random_seed = 0
    assert cps.Solve(model) == cp_model.OPTIMAL and cps.ObjectiveValue() == 4

    prob.solve(solver=cp.CLARABEL)
    assert np.isclose(prob.value, 4.0, atol=1e-7)
