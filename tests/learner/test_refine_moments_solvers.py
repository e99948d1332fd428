"""Joint refinement, phase (i) moments and the convex-program runner."""

import cvxpy as cp
import numpy as np
import pytest

import provable_mha as pm
from provable_mha.learner.moments import crude_sum_w
from provable_mha.learner.refine import joint_refine
from provable_mha.solvers import choose_solver, solve


def test_refine_converges_from_a_perturbed_layer_and_never_worsens():
    layer = pm.planted_instance(2, 6, 3, rng=0)
    X = pm.sample_boolean(40, 3, 6, 1)
    rng = np.random.default_rng(2)
    th = np.asarray(layer.thetas) + 1e-3 * rng.standard_normal((2, 6, 6))
    ws = np.asarray(layer.ws) + 1e-3 * rng.standard_normal((2, 6, 6))
    rf = joint_refine(X, layer(X), th, ws, threshold=1e-10)
    assert rf.relative_residual < 1e-12 < rf.relative_residual_before
    far = joint_refine(X, layer(X), 5 * rng.standard_normal((2, 6, 6)), ws, max_iter=2)
    assert far.relative_residual <= far.relative_residual_before


def test_moments_are_exact_under_uniform_attention():
    ws = np.random.default_rng(0).standard_normal((3, 5, 5))
    layer = pm.MultiHeadAttention(np.zeros((3, 5, 5)), ws)
    X = pm.sample_boolean(200, 4, 5, 1)
    mom = crude_sum_w(X, layer(X))
    np.testing.assert_allclose(mom.sum_w, ws.sum(0), atol=1e-10)
    assert mom.relative_residual < 1e-12
    noisy = crude_sum_w(X, pm.planted_instance(2, 5, 4, scale=2.0, rng=0)(X))
    assert noisy.relative_residual > 1e-3  # crude when attention is not uniform


def test_solver_choice_and_errors():
    assert choose_solver("lp") == "HIGHS" and choose_solver("socp") == "CLARABEL"
    with pytest.raises(ValueError, match="not installed"):
        choose_solver("lp", "NOPE")
    with pytest.raises(ValueError, match="second-order"):
        choose_solver("socp", "HIGHS")


def test_solve_reports_status_and_sizes_and_refuses_infeasible():
    x = cp.Variable(3)
    prob = cp.Problem(cp.Minimize(cp.sum(x)), [x >= 1, x <= 2])
    info = solve(prob, "lp")
    assert info.status == "optimal" and info.n_variables == 3 and np.allclose(x.value, 1)
    bad = cp.Problem(cp.Minimize(cp.sum(x)), [x >= 1, x <= 0])
    with pytest.raises(pm.LearnError, match="infeasible"):
        solve(bad, "lp")
    assert solve(bad, "lp", allow_infeasible=True).status == "infeasible"


def test_matrix_free_refinement_agrees_with_the_dense_one(monkeypatch):
    from provable_mha.learner import refine

    layer = pm.planted_instance(2, 6, 3, rng=0)
    X = pm.sample_boolean(40, 3, 6, 1)
    rng = np.random.default_rng(2)
    th = np.asarray(layer.thetas) + 1e-3 * rng.standard_normal((2, 6, 6))
    ws = np.asarray(layer.ws) + 1e-3 * rng.standard_normal((2, 6, 6))
    dense = refine.joint_refine(X, layer(X), th, ws, threshold=1e-10)
    monkeypatch.setattr(refine, "DENSE_MAX_PARAMS", 10)
    free = refine.joint_refine(X, layer(X), th, ws, threshold=1e-10)
    assert free.relative_residual < 1e-12 and dense.relative_residual < 1e-12
    np.testing.assert_allclose(free.thetas, dense.thetas, atol=1e-9)
