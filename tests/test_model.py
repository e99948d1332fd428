import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import provable_mha as pm
from provable_mha.testing import boolean_inputs, layers


def _reference_forward(thetas, ws, X):
    """Loop-by-loop definition of F(X), independent of the vectorised code."""
    k, d = X.shape
    out = np.zeros((k, d))
    for th, w in zip(thetas, ws, strict=True):
        for a in range(k):
            logits = np.array([X[a] @ th @ X[b] for b in range(k)])
            p = np.exp(logits - logits.max())
            p /= p.sum()
            out[a] += sum(p[b] * (X[b] @ w) for b in range(k))
    return out


@given(layers(), st.data())
def test_forward_matches_reference_and_shapes(layer, data):
    X = data.draw(boolean_inputs(d=layer.d))
    Y = layer(X)
    assert Y.shape == X.shape
    assert layer(X[0]).shape == X[0].shape
    for i in range(X.shape[0]):
        np.testing.assert_allclose(Y[i], _reference_forward(layer.thetas, layer.ws, X[i]), atol=1e-12)


@given(layers(), st.data())
def test_attention_rows_are_stochastic(layer, data):
    X = data.draw(boolean_inputs(d=layer.d))
    A = layer.attention(X)
    assert A.shape == (X.shape[0], layer.m, X.shape[1], X.shape[1])
    assert np.all(A > 0)
    np.testing.assert_allclose(A.sum(-1), 1.0, atol=1e-12)


@given(layers(), st.data())
def test_token_permutation_equivariance(layer, data):
    X = data.draw(boolean_inputs(d=layer.d))
    perm = data.draw(st.permutations(range(X.shape[1])))
    np.testing.assert_allclose(layer(X[:, perm]), layer(X)[:, perm], atol=1e-12)


@given(layers(), st.data())
def test_head_permutation_invariance(layer, data):
    X = data.draw(boolean_inputs(d=layer.d))
    perm = data.draw(st.permutations(range(layer.m)))
    np.testing.assert_allclose(layer.permute_heads(perm)(X), layer(X), atol=1e-12)


@given(st.integers(1, 3), st.integers(1, 6), st.data())
def test_zero_theta_is_averaging(m, d, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 10**6)))
    ws = rng.standard_normal((m, d, d))
    layer = pm.MultiHeadAttention(np.zeros((m, d, d)), ws)
    X = data.draw(boolean_inputs(d=d))
    k = X.shape[1]
    expected = np.ones((k, k)) / k @ X @ ws.sum(0)
    np.testing.assert_allclose(layer(X), expected, atol=1e-12)


def test_quadratic_form_mean_is_trace_exhaustive():
    rng = np.random.default_rng(0)
    d = 4
    theta = rng.standard_normal((d, d))
    cube = np.array(list(itertools.product([-1.0, 1.0], repeat=d)))
    mean = np.mean(np.einsum("nd,de,ne->n", cube, theta, cube))
    assert mean == pytest.approx(np.trace(theta), abs=1e-12)


def test_softmax_is_stable_at_huge_logits():
    d = 3
    thetas = np.array([1e4 * np.eye(d), -1e4 * np.eye(d)])
    layer = pm.MultiHeadAttention(thetas, np.ones((2, d, d)))
    X = pm.sample_boolean(5, 4, d, 0)
    A = layer.attention(X)
    Y = layer(X)
    assert np.all(np.isfinite(A)) and np.all(np.isfinite(Y))
    np.testing.assert_allclose(A.sum(-1), 1.0)


def test_parameters_are_read_only_float64_copies():
    th = np.zeros((1, 2, 2), dtype=np.float32)
    layer = pm.MultiHeadAttention(th, np.ones((1, 2, 2), dtype=int))
    assert layer.thetas.dtype == np.float64 and layer.ws.dtype == np.float64
    with pytest.raises(ValueError):
        layer.thetas[0, 0, 0] = 1.0
    th[0, 0, 0] = 5
    assert layer.thetas[0, 0, 0] == 0
    assert (layer.m, layer.d) == (1, 2)


@pytest.mark.parametrize(
    "thetas, ws, match",
    [
        (np.zeros((0, 2, 2)), np.zeros((0, 2, 2)), "m >= 1"),
        (np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), "thetas must have shape"),
        (np.zeros((1, 2, 2)), np.zeros((2, 2, 2)), "ws must have the same shape"),
        (np.zeros((2, 2)), np.zeros((2, 2)), "thetas must have 3 dimensions"),
        (np.full((1, 2, 2), np.nan), np.zeros((1, 2, 2)), "thetas contains NaN"),
        (np.zeros((1, 2, 2)), np.full((1, 2, 2), np.inf), "ws contains NaN or inf"),
        (np.array([[["a"]]]), np.zeros((1, 1, 1)), "numeric"),
    ],
)
def test_bad_parameters_raise(thetas, ws, match):
    with pytest.raises(ValueError, match=match):
        pm.MultiHeadAttention(thetas, ws)


def test_bad_inputs_raise():
    layer = pm.planted_instance(2, 4, 3, rng=1)
    with pytest.raises(ValueError, match="token dimension 5"):
        layer(np.ones((3, 5)))
    with pytest.raises(ValueError, match="dimensions"):
        layer(np.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        layer(np.full((3, 4), np.nan))


def test_match_heads_recovers_permutation():
    layer = pm.planted_instance(3, 6, 3, rng=2)
    perm = np.array([2, 0, 1])
    noisy = pm.MultiHeadAttention(layer.thetas[perm] + 1e-9, layer.ws[perm])
    match = pm.match_heads(layer, noisy)
    np.testing.assert_array_equal(perm[match.perm], np.arange(3))
    assert match.max_error < 1e-7
    other = pm.planted_instance(3, 6, 3, rng=3)
    assert pm.match_heads(layer, other).max_error > 0.1


def test_from_torch_weights_matches_torch_formula():
    """Re-implements nn.MultiheadAttention(bias=False) forward literally and compares."""
    rng = np.random.default_rng(0)
    d, h, k = 8, 2, 5
    w_in = rng.standard_normal((3 * d, d)) / np.sqrt(d)
    w_out = rng.standard_normal((d, d)) / np.sqrt(d)
    X = rng.standard_normal((k, d))
    q, kk, v = X @ w_in[:d].T, X @ w_in[d : 2 * d].T, X @ w_in[2 * d :].T
    dh = d // h
    heads = []
    for i in range(h):
        s = slice(i * dh, (i + 1) * dh)
        att = pm.softmax(q[:, s] @ kk[:, s].T / np.sqrt(dh))
        heads.append(att @ v[:, s])
    torch_out = np.concatenate(heads, axis=1) @ w_out.T
    layer = pm.from_torch_weights(w_in, w_out, h)
    np.testing.assert_allclose(layer(X), torch_out, atol=1e-13)
    assert np.linalg.matrix_rank(layer.thetas[0]) <= dh


@pytest.mark.parametrize("method", ["__call__", "attention", "logits"])
def test_overflowing_logits_raise_instead_of_nan(method):
    layer = pm.planted_instance(2, 8, 4, rng=0)
    X = pm.sample_boolean(3, 4, 8, 0)
    with pytest.raises(ValueError, match="attention logits .* overflow float64"):
        getattr(layer, method)(X * 1e200)
    # large but representable logits are computed stably (one-hot rows, no NaN)
    A = layer.attention(X * 1e150)
    assert np.all(np.isfinite(A)) and np.allclose(A.sum(-1), 1.0)


def test_overflowing_outputs_raise_and_finite_ones_are_right():
    d = 3
    layer = pm.MultiHeadAttention(np.zeros((1, d, d)), 1e300 * np.eye(d)[None])
    X = np.ones((2, d))
    with pytest.raises(ValueError, match="outputs F\\(X\\) overflow"):
        layer(X * 1e10)
    with pytest.raises(ValueError, match="values X W_i overflow"):
        layer.values(X * 1e10)
    np.testing.assert_array_equal(layer(X), 1e300 * X)  # uniform attention over equal tokens


def test_forward_memory_is_checked_before_allocating():
    layer = pm.MultiHeadAttention(np.zeros((2, 1, 1)), np.ones((2, 1, 1)))
    X = np.ones((1, 50_000, 1))  # 400 kB of input, but attention (1, 2, k, k) would be 37 GiB
    with pytest.raises(ValueError, match=r"would allocate about .* GiB, above the memory limit of 4 GiB"):
        layer(X)
    with pytest.raises(ValueError, match="memory limit"):
        layer.attention(X)


@pytest.mark.parametrize("perm", [[0.0, 1.0], [True, False], None, "01", [[0, 1]], [0, 0], [0, 1, 2], [[0], [1, 2]]])
def test_permute_heads_rejects_non_permutations(perm):
    layer = pm.planted_instance(2, 3, 2, rng=0)
    with pytest.raises(ValueError, match="perm must be a permutation"):
        layer.permute_heads(perm)
    assert layer.permute_heads(np.array([1, 0], dtype=np.uint8)).permute_heads([1, 0]) == layer


def test_layer_needs_at_least_one_coordinate():
    with pytest.raises(ValueError, match="d >= 1"):
        pm.MultiHeadAttention(np.zeros((1, 0, 0)), np.zeros((1, 0, 0)))
