"""The shared algebra of the learner against finite differences and explicit products."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import provable_mha as pm
from provable_mha.learner import design, search
from provable_mha.learner.lm import levenberg_marquardt


def _flat_forward(thetas, ws, X):
    return pm.MultiHeadAttention(thetas, ws)(X).ravel()


@given(st.integers(1, 3), st.integers(2, 5), st.integers(1, 4), st.integers(0, 10**6))
def test_theta_jacobian_matches_finite_differences(m, d, k, seed):
    rng = np.random.default_rng(seed)
    th = rng.standard_normal((m, d, d)) / d
    ws = rng.standard_normal((m, d, d))
    X = pm.sample_boolean(3, k, d, rng)
    J = design.theta_jacobian(th, ws, X)
    eps = 1e-6
    for j in rng.choice(m * d * d, size=min(6, m * d * d), replace=False):
        e = np.zeros(m * d * d)
        e[j] = eps
        step = e.reshape(th.shape)
        fd = (_flat_forward(th + step, ws, X) - _flat_forward(th - step, ws, X)) / (2 * eps)
        np.testing.assert_allclose(J[:, j], fd, atol=1e-7)


@given(st.integers(1, 3), st.integers(2, 5), st.integers(2, 4), st.integers(0, 10**6))
def test_structured_normal_equations_equal_explicit(m, d, k, seed):
    rng = np.random.default_rng(seed)
    layer = pm.random_layer(m, d, 1.0, rng)
    X = pm.sample_boolean(m * d, k, d, rng)
    Y = layer(X)
    t = rng.standard_normal(m * d * d) / d
    r, _ = search.varpro_residual(t, X, Y, m)
    J = search._varpro_jac(t, X, Y, m)
    H, g = search._varpro_normal(t, r, X, Y, m)
    # H = J^T J - K^T K is a difference of terms of size ||J_Theta||^2: round-off is relative to that
    _, W = search.varpro_residual(t, X, Y, m)
    scale = np.linalg.norm(design.theta_jacobian(t.reshape(m, d, d), W, X)) ** 2
    np.testing.assert_allclose(H, J.T @ J, rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(g, J.T @ r, rtol=1e-9, atol=1e-12 * np.sqrt(scale) * np.linalg.norm(Y))


def test_design_matrix_reproduces_layer():
    layer = pm.planted_instance(3, 6, 4, rng=0)
    X = pm.sample_boolean(5, 4, 6, 1)
    D = design.design_matrix(layer.thetas, X)
    np.testing.assert_allclose(D @ layer.ws.reshape(-1, 6), layer(X).reshape(-1, 6), atol=1e-12)
    W = design.solve_w(D, layer(X))
    np.testing.assert_allclose(W.reshape(3, 6, 6), layer.ws, atol=1e-9)


def test_lm_solves_rosenbrock_and_reports_stalls():
    fun = lambda x: np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]])
    jac = lambda x: np.array([[-20 * x[0], 10.0], [-1.0, 0.0]])
    res = levenberg_marquardt(fun, jac, np.array([-1.2, 1.0]))
    assert res.converged and np.allclose(res.x, [1, 1], atol=1e-10)
    # a residual with a nonzero minimum: the cost stops falling and LM reports it
    fun2 = lambda x: np.array([x[0] - 1, x[0] + 1, 0.01 * x[1] - 1e-3 * x[1] ** 3])
    jac2 = lambda x: np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.01 - 3e-3 * x[1] ** 2]])
    res2 = levenberg_marquardt(fun2, jac2, np.array([3.0, 0.5]), stall_window=5)
    assert not res2.converged and res2.cost > 0.9
