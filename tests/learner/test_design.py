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


@given(st.integers(1, 3), st.integers(2, 5), st.integers(1, 4), st.booleans(), st.integers(0, 10**6))
def test_theta_block_scaling_is_the_inverse_root_of_the_covariance_block(m, d, k, boolean, seed):
    """S_i^{-2} = sum_{n,a} w_a C_ai C_ai^T, C from theta_covariances (formed explicitly here);
    on Boolean inputs that is the diagonal block of J_Theta^T J_Theta for every row p of Theta_i."""
    rng = np.random.default_rng(seed)
    th = rng.standard_normal((m, d, d)) / d
    ws = rng.standard_normal((m, d, d))
    n = 3
    X = pm.sample_boolean(n, k, d, rng) if boolean else rng.standard_normal((n, k, d))
    A = design.attention(th, X)
    XW = np.einsum("nbd,mde->nmbe", X, ws)
    C = design.theta_covariances(th, ws, X, A)  # ((n, a), i, q, e)
    w = (X * X).mean(-1).reshape(n * k)
    B = np.einsum("a,aiqe,aire->iqr", w, C, C)
    S = design.theta_block_scaling(A, XW, X)
    for i in range(m):
        lam = np.linalg.eigvalsh(B[i])
        if lam.min() > 1e-6 * lam.max():  # unfloored: the identity holds exactly
            inv = np.linalg.inv(S[i] @ S[i])
            np.testing.assert_allclose(inv, B[i], rtol=1e-8, atol=1e-10 * lam.max())
    if boolean:
        J = design.theta_jacobian(th, ws, X).reshape(-1, m, d, d)
        for i in range(m):
            block = np.einsum("rq,rs->qs", J[:, i, 0, :], J[:, i, 0, :])  # row p = 0 of Theta_i
            np.testing.assert_allclose(block, B[i], rtol=1e-10, atol=1e-12 * max(1.0, np.abs(B[i]).max()))


@given(st.integers(1, 3), st.integers(2, 5), st.integers(1, 4), st.integers(0, 10**6))
def test_theta_jvp_and_vjp_are_products_with_the_explicit_jacobian(m, d, k, seed):
    rng = np.random.default_rng(seed)
    th = rng.standard_normal((m, d, d)) / d
    ws = rng.standard_normal((m, d, d))
    X = rng.standard_normal((3, k, d))
    A = design.attention(th, X)
    XW = np.einsum("nbd,mde->nmbe", X, ws)
    J = design.theta_jacobian(th, ws, X, A)
    V, R = rng.standard_normal((m, d, d)), rng.standard_normal((3, k, d))
    tol = 1e-12 * np.abs(J).max() * d * d * m
    np.testing.assert_allclose(design.theta_jvp(A, XW, X, V).ravel(), J @ V.ravel(), rtol=1e-10, atol=tol)
    np.testing.assert_allclose(design.theta_vjp(A, XW, X, R).ravel(), J.T @ R.ravel(), rtol=1e-10, atol=tol)
