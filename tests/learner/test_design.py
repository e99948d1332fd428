"""The shared algebra of the learner against finite differences and explicit products."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import provable_mha as pm
from provable_mha.learner import design


def _flat_forward(thetas, ws, X):
    return pm.MultiHeadAttention(thetas, ws)(X).ravel()


def _explicit_jacobian(th, ws, X):
    D = design.design_matrix(th, X)
    return np.hstack([design.theta_jacobian(th, ws, X), np.kron(D, np.eye(X.shape[2]))])


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


@given(st.integers(1, 3), st.integers(2, 5), st.integers(1, 4), st.integers(0, 10**6))
def test_joint_normal_equations_equal_explicit_products(m, d, k, seed):
    rng = np.random.default_rng(seed)
    th = rng.standard_normal((m, d, d)) / d
    ws = rng.standard_normal((m, d, d))
    X = pm.sample_boolean(4, k, d, rng)
    R = rng.standard_normal((4 * k, d))
    H, g = design.joint_normal_equations(th, ws, X, R)
    J = _explicit_jacobian(th, ws, X)
    np.testing.assert_allclose(H, J.T @ J, rtol=1e-10, atol=1e-10 * np.abs(J).max() ** 2)
    np.testing.assert_allclose(g, J.T @ R.ravel(), rtol=1e-10, atol=1e-10 * np.abs(J).max() * np.abs(R).max())


def test_design_matrix_reproduces_layer_and_w_step_recovers_w():
    layer = pm.planted_instance(3, 6, 4, rng=0)
    X = pm.sample_boolean(12, 4, 6, 1)
    D = design.design_matrix(layer.thetas, X)
    np.testing.assert_allclose(D @ layer.ws.reshape(-1, 6), layer(X).reshape(-1, 6), atol=1e-12)
    W = design.solve_w(D, layer(X))
    np.testing.assert_allclose(W.reshape(3, 6, 6), layer.ws, atol=1e-9)
    step = design.w_step(np.asarray(layer.thetas), X, layer(X))
    np.testing.assert_allclose(step.W.reshape(3, 6, 6), layer.ws, atol=1e-9)
    assert np.abs(step.residual).max() < 1e-12
    np.testing.assert_allclose(step.Q.T @ step.Q, np.eye(18), atol=1e-12)
