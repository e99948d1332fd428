"""Multi-head linear attention: the layer, its lifted linear system, the convex learner and its certificate."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import provable_mha as pm
from provable_mha.baselines import compare_linear_softmax, learn_linear, min_examples_linear
from provable_mha.baselines.linear_attention import _convex_step, _factor_problem
from provable_mha.linear import LinearMultiHeadAttention, lift, lifted_dimension, lifted_features, pair_basis
from provable_mha.testing import boolean_inputs, layers


def _random_linear(m, d, seed):
    rng = np.random.default_rng(seed)
    return LinearMultiHeadAttention(rng.standard_normal((m, d, d)) / d, rng.standard_normal((m, d, d)) / np.sqrt(d))


def _reference_forward(thetas, ws, X):
    """Loop-by-loop definition (1/k) sum_i sum_b (x_a' Θ_i x_b) x_b' W_i, independent of the einsum code."""
    k, d = X.shape
    out = np.zeros((k, d))
    for th, w in zip(thetas, ws, strict=True):
        for a in range(k):
            out[a] += sum((X[a] @ th @ X[b]) * (X[b] @ w) for b in range(k)) / k
    return out


# -- the layer -------------------------------------------------------------------------------
@given(layers(), st.data())
def test_forward_matches_reference_and_shapes(soft, data):
    layer = LinearMultiHeadAttention(soft.thetas, soft.ws)
    X = data.draw(boolean_inputs(d=layer.d))
    Y = layer(X)
    assert Y.shape == X.shape and layer(X[0]).shape == X[0].shape
    for i in range(X.shape[0]):
        np.testing.assert_allclose(Y[i], _reference_forward(layer.thetas, layer.ws, X[i]), atol=1e-12)
    A = layer.attention(X)
    assert A.shape == (X.shape[0], layer.m, X.shape[1], X.shape[1])
    np.testing.assert_allclose(np.einsum("nmab,nmbe->nae", A, layer.values(X)), Y, atol=1e-12)


@pytest.mark.parametrize("inputs", ["boolean", "any"])
def test_lifted_system_reproduces_the_layer(inputs):
    layer = _random_linear(3, 5, 0)
    sample = pm.sample_boolean if inputs == "boolean" else pm.sample_gaussian
    X = sample(20, 4, 5, 1)
    Phi = lifted_features(X, inputs)
    assert Phi.shape == (80, lifted_dimension(5, inputs))
    assert pair_basis(5, inputs).shape == (lifted_dimension(5, inputs) // 5, 5, 5)
    np.testing.assert_allclose(Phi @ layer.lifted(inputs).reshape(-1, 5), layer(X).reshape(-1, 5), atol=1e-12)


def test_boolean_basis_is_wrong_off_the_cube():
    """The Boolean fold uses C_qq = 1, which fails for Gaussian tokens: the identity must break there."""
    layer = _random_linear(2, 4, 0)
    X = pm.sample_gaussian(10, 3, 4, 1)
    err = np.abs(lifted_features(X, "boolean") @ layer.lifted("boolean").reshape(-1, 4) - layer(X).reshape(-1, 4))
    assert err.max() > 1e-3


def test_head_mixing_and_permutation_leave_the_function():
    layer = _random_linear(3, 4, 2)
    X = pm.sample_boolean(30, 5, 4, 3)
    G = np.random.default_rng(4).standard_normal((3, 3))
    mixed = layer.mix_heads(G)
    assert not np.allclose(mixed.thetas, layer.thetas)
    np.testing.assert_allclose(mixed(X), layer(X), atol=1e-12)
    np.testing.assert_allclose(mixed.lifted_matrix(), layer.lifted_matrix(), atol=1e-12)
    perm = layer.permute_heads([2, 0, 1])
    assert isinstance(perm, LinearMultiHeadAttention)
    np.testing.assert_allclose(perm(X), layer(X), atol=1e-12)
    assert np.linalg.matrix_rank(layer.lifted_matrix()) == 3


def test_validation_errors():
    good = np.zeros((2, 3, 3))
    with pytest.raises(ValueError, match="thetas"):
        LinearMultiHeadAttention(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="ws"):
        LinearMultiHeadAttention(good, np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="m >= 1"):
        LinearMultiHeadAttention(np.zeros((0, 3, 3)), np.zeros((0, 3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        LinearMultiHeadAttention(np.full((1, 2, 2), np.nan), np.zeros((1, 2, 2)))
    layer = LinearMultiHeadAttention(good, good)
    with pytest.raises(ValueError, match="d = 3"):
        layer(np.ones((4, 5)))
    with pytest.raises(ValueError, match="G must have shape"):
        layer.mix_heads(np.eye(3))
    with pytest.raises(ValueError, match="invertible"):
        layer.mix_heads(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="inputs"):
        pair_basis(3, "gaussian")
    with pytest.raises(ValueError, match="shape"):
        lift(np.zeros((1, 2, 2)), np.zeros((1, 3, 3)))


def test_not_a_softmax_layer():
    soft = pm.planted_instance(2, 4, 3, rng=0)
    lin = LinearMultiHeadAttention(soft.thetas, soft.ws)
    assert lin != soft and lin == LinearMultiHeadAttention(soft.thetas, soft.ws)
    assert not isinstance(lin, pm.MultiHeadAttention)
    with pytest.raises(ValueError, match="MultiHeadAttention"):
        pm.match_heads(soft, lin)
    assert repr(lin) == "LinearMultiHeadAttention(m=2, d=4)"


def test_save_load_round_trip_is_bit_exact(tmp_path):
    layer = _random_linear(2, 5, 7)
    back = pm.load(pm.save(layer, tmp_path / "lin.npz", seed=7))
    assert type(back) is LinearMultiHeadAttention and back == layer
    from provable_mha.io import read_header

    assert read_header(tmp_path / "lin.npz")["kind"] == "LinearMultiHeadAttention"


# -- the learner -----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_exact_recovery_of_a_planted_layer_boolean(seed):
    m, d, k = 2, 6, 4
    truth = _random_linear(m, d, seed)
    n = math.ceil(1.3 * min_examples_linear(d, k))
    X = pm.sample_boolean(n, k, d, seed)
    res = learn_linear(X, truth(X), m, rng=seed)
    assert res.certificate.certified and res.certificate.sigma_min > 0 and res.factor_exact and res.exact
    Xt = pm.sample_boolean(400, k, d, 10_000 + seed)
    assert pm.relative_error(res.layer, Xt, truth(Xt)) <= 1e-9
    assert np.linalg.norm(res.predict_lifted(Xt) - truth(Xt)) / np.linalg.norm(truth(Xt)) <= 1e-9
    np.testing.assert_allclose(res.lifted, truth.lifted(), atol=1e-10)  # the identified object


@pytest.mark.parametrize("seed", [21, 22])
def test_exact_recovery_of_a_planted_layer_gaussian(seed):
    m, d, k = 3, 5, 4
    truth = _random_linear(m, d, seed)
    n = math.ceil(1.3 * min_examples_linear(d, k, "any"))
    X = pm.sample_gaussian(n, k, d, seed)
    res = learn_linear(X, truth(X), m, inputs="any", rng=seed)
    assert res.exact
    Xt = pm.sample_gaussian(400, k, d, 10_000 + seed)
    assert pm.relative_error(res.layer, Xt, truth(Xt)) <= 1e-9


def test_certificate_false_on_rank_deficient_designs():
    m, d, k = 2, 5, 4
    truth = _random_linear(m, d, 0)
    n_min = min_examples_linear(d, k)
    # (a) one example short of the counting bound: rank <= (n_min - 1) min(k, d) < D, always
    X = pm.sample_boolean(n_min - 1, k, d, 1)
    cert = learn_linear(X, truth(X), m, rng=0, restarts=1).certificate
    assert not cert.certified and cert.rank < cert.n_features and cert.sigma_min == 0 and cert.condition == math.inf
    # (b) enough rows, but three distinct examples repeated: rank <= 3 min(k, d)
    X = np.tile(pm.sample_boolean(3, k, d, 2), (4 * n_min, 1, 1))
    cert = learn_linear(X, truth(X), m, rng=0, restarts=1).certificate
    assert cert.n_rows >= cert.n_features and cert.rank <= 3 * min(k, d) and not cert.certified
    # (c) Boolean data read with the general basis: the d diagonal features x_ap C_qq coincide
    X = pm.sample_boolean(4 * n_min, k, d, 3)
    cert = learn_linear(X, truth(X), m, inputs="any", rng=0, restarts=1).certificate
    assert not cert.certified and cert.rank <= cert.n_features - d * (d - 1)


def test_uncertified_design_really_is_ambiguous():
    """When the certificate is false, a second lifted predictor fits the data and differs on fresh inputs."""
    d, k = 4, 3
    X = pm.sample_boolean(min_examples_linear(d, k) - 1, k, d, 5)
    Phi = lifted_features(X)
    null = np.linalg.svd(Phi)[2][-1]  # a direction of the null space (nk < D)
    truth = _random_linear(1, d, 6)
    beta = truth.lifted().reshape(-1, d)
    other = beta + 10 * np.outer(null, np.ones(d))
    assert np.abs(Phi @ other - Phi @ beta).max() < 1e-10
    Phi_t = lifted_features(pm.sample_boolean(200, k, d, 7))
    assert np.abs(Phi_t @ other - Phi_t @ beta).max() > 1e-2


def test_noise_moves_the_lifted_fit_at_most_noise_over_sigma_min():
    m, d, k = 2, 5, 4
    truth = _random_linear(m, d, 8)
    X = pm.sample_boolean(2 * min_examples_linear(d, k), k, d, 9)
    noise = 1e-3 * np.random.default_rng(10).standard_normal(X.shape)
    res = learn_linear(X, truth(X) + noise, m, rng=0, restarts=1)
    assert res.certificate.certified
    bound = np.linalg.norm(noise) / res.certificate.sigma_min
    err = np.linalg.norm(res.lifted - truth.lifted())
    assert 0 < err <= bound


def test_factor_jacobian_matches_finite_differences():
    m, d, k = 2, 3, 3
    X = pm.sample_gaussian(20, k, d, 0)
    beta, L, _, _ = _convex_step(X, _random_linear(m, d, 1)(X), "any")
    residual, linearize, _ = _factor_problem(L, beta, m, "any")
    x = np.random.default_rng(2).standard_normal(2 * m * d * d)
    lin = linearize(x, residual(x))
    J_fd = np.column_stack([(residual(x + 1e-6 * e) - residual(x - 1e-6 * e)) / 2e-6 for e in np.eye(x.size)])
    np.testing.assert_allclose(lin.H, J_fd.T @ J_fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(lin.gradient, J_fd.T @ residual(x), rtol=1e-6, atol=1e-8)


def test_learner_validation_errors():
    X = pm.sample_boolean(10, 3, 4, 0)
    Y = _random_linear(1, 4, 0)(X)
    with pytest.raises(ValueError, match="X must have entries"):
        learn_linear(X * 0.5, Y, 1)
    with pytest.raises(ValueError, match="Y must have the same shape"):
        learn_linear(X, Y[:, :2], 1)
    with pytest.raises(ValueError, match="m must be"):
        learn_linear(X, Y, 0)
    with pytest.raises(ValueError, match="inputs"):
        learn_linear(X, Y, 1, inputs="gaussian")
    with pytest.raises(ValueError, match="every label is 0"):
        learn_linear(X, np.zeros_like(Y), 1)
    with pytest.raises(ValueError, match="restarts"):
        learn_linear(X, Y, 1, restarts=0)
    with pytest.raises(ValueError, match="max_iter"):
        learn_linear(X, Y, 1, max_iter=0)
    with pytest.raises(ValueError, match="shape"):
        learn_linear(X[0], Y[0], 1)
    res = learn_linear(X, Y, 1, rng=0, restarts=1)
    with pytest.raises(ValueError, match="token dimension"):
        res.predict_lifted(np.ones((2, 3, 5)))
    assert "certified=False" in res.summary()  # 10 x 3 rows < D = 28


def test_compare_linear_softmax_rows():
    rows = compare_linear_softmax(2, 6, 4, 40, seed=0, n_test=200)
    assert [(r["data"], r["learner"]) for r in rows] == [
        (data, learner) for data in ("softmax", "linear")
        for learner in ("pm.learn (softmax)", "learn_linear (2 heads)", "learn_linear (lifted LSQ)")]
    by = {(r["data"], r["learner"]): r for r in rows}
    for learner in ("learn_linear (2 heads)", "learn_linear (lifted LSQ)"):
        assert by["linear", learner]["certified"] and by["linear", learner]["test_error"] <= 1e-9
        # softmax data is not realisable by linear attention: the learner must not claim it is
        assert not by["softmax", learner]["certified"] and by["softmax", learner]["train_error"] > 1e-3
    soft = by["softmax", "pm.learn (softmax)"]
    assert soft["certified"] and soft["test_error"] <= 1e-9
