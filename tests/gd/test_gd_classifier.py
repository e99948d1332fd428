"""Derivatives of the attention classifier against finite differences, plus input validation."""

import numpy as np
import pytest
from _gd_strategies import problems
from hypothesis import given

from provable_mha.gd import MHAClassifier


def _fd_grad(f, params, eps=1e-6):
    e = np.eye(params.size)
    return np.array([(f(params + eps * e[j]) - f(params - eps * e[j])) / (2 * eps)
                     for j in range(params.size)])


@given(problems())
def test_loss_gradient_matches_finite_differences(prob):
    model, X, y = prob
    L, g = model.loss_and_grad(X, y)
    assert L == pytest.approx(model.loss(X, y))
    fd = _fd_grad(lambda th: model.loss(X, y, th), model.params)
    np.testing.assert_allclose(g, fd, atol=1e-7, rtol=1e-5)


@given(problems())
def test_output_gradient_matches_finite_differences(prob):
    model, X, _ = prob
    G = model.output_gradient(X)
    fd = _fd_grad(lambda th: model.decision_function(X, th), model.params).T
    np.testing.assert_allclose(G, fd, atol=1e-7, rtol=1e-5)


@given(problems())
def test_hessian_vector_products_match_finite_differences(prob):
    model, X, y = prob
    rng = np.random.default_rng(model.n_params)
    v = rng.standard_normal(model.n_params)
    th, eps = model.params, 1e-5
    fd = (model.loss_and_grad(X, y, th + eps * v)[1]
          - model.loss_and_grad(X, y, th - eps * v)[1]) / (2 * eps)
    np.testing.assert_allclose(model.hvp(X, y, v), fd, atol=1e-7, rtol=1e-5)
    w = rng.standard_normal(X.shape[0])
    fdo = w @ (model.output_gradient(X, th + eps * v)
               - model.output_gradient(X, th - eps * v)) / (2 * eps)
    np.testing.assert_allclose(model.output_hvp(X, v, weights=w), fdo, atol=1e-7, rtol=1e-5)


def test_forward_matches_a_direct_loop():
    rng = np.random.default_rng(3)
    for query in ("first", "mean"):
        m = MHAClassifier(3, 4, query=query, normalization="mean", rng=1, init_scale=2)
        X = rng.standard_normal((5, 6, 4))
        out = []
        for Xi in X:
            q = Xi[0] if query == "first" else Xi.mean(0)
            tot = 0.0
            for h in range(3):
                s = Xi @ m.thetas[h] @ q
                a = np.exp(s - s.max())
                a /= a.sum()
                tot += m.U[h] @ Xi.T @ a
            out.append(tot / 3)
        np.testing.assert_allclose(m.decision_function(X), out, rtol=1e-12, atol=1e-12)
        assert m.decision_function(X[0]).shape == (1,)


def test_symmetric_heads_are_one_scaled_head():
    """H equal heads under 1/sqrt(H) give sqrt(H) times the one-head output."""
    X = np.random.default_rng(0).standard_normal((7, 5, 3))
    one = MHAClassifier(1, 3, rng=4)
    many = MHAClassifier(4, 3, U=np.repeat(one.U, 4, 0), thetas=np.repeat(one.thetas, 4, 0))
    np.testing.assert_allclose(many(X), 2.0 * one(X), rtol=1e-12)


@pytest.mark.parametrize("kwargs, msg", [
    ({"H": 0, "d": 3}, "H must be >= 1"),
    ({"H": 2, "d": 3, "normalization": "l2"}, "normalization"),
    ({"H": 2, "d": 3, "query": "last"}, "query"),
    ({"H": 2, "d": 3, "U": np.zeros((2, 3))}, "both U and thetas"),
    ({"H": 2, "d": 3, "U": np.zeros((2, 4)), "thetas": np.zeros((2, 3, 3))}, "U must have shape"),
    ({"H": 2, "d": 3, "U": np.zeros((2, 3)), "thetas": np.zeros((2, 3, 4))}, "thetas must have shape"),
    ({"H": 2, "d": 3, "init_scale": -1.0}, "init_scale"),
])
def test_constructor_rejects_bad_input(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        MHAClassifier(**kwargs)


def test_methods_reject_bad_input():
    m = MHAClassifier(2, 3, rng=0)
    X = np.ones((4, 2, 3))
    with pytest.raises(ValueError, match="token dimension"):
        m.decision_function(np.ones((4, 2, 5)))
    with pytest.raises(ValueError, match="labels in"):
        m.loss(X, np.array([1, 0, 1, 1]))
    with pytest.raises(ValueError, match="4 examples"):
        m.loss(X, np.ones(3))
    with pytest.raises(ValueError, match="params must have length"):
        m.loss(X, np.ones(4), params=np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        m.decision_function(np.full((1, 2, 3), np.nan))
    with pytest.raises(ValueError, match="v must have length"):
        m.hvp(X, np.ones(4), np.zeros(3))


def test_loss_and_grad_buffers_do_not_alias_results():
    """_loss_and_grad reuses scratch buffers; returned gradients must be independent copies."""
    rng = np.random.default_rng(0)
    model = MHAClassifier(3, 4, rng=1)
    X = rng.standard_normal((20, 5, 4))
    y = np.where(rng.standard_normal(20) > 0, 1.0, -1.0)
    t1, t2 = model.params.copy(), model.params + 0.1 * rng.standard_normal(model.n_params)
    l1, g1 = model.loss_and_grad(X, y, t1)
    g1_copy = g1.copy()
    l2, g2 = model.loss_and_grad(X, y, t2)
    np.testing.assert_array_equal(g1, g1_copy)
    fresh = MHAClassifier(3, 4, rng=1)
    np.testing.assert_allclose(g2, fresh.loss_and_grad(X, y, t2)[1], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(g1, fresh.loss_and_grad(X, y, t1)[1], rtol=1e-13, atol=1e-15)
    assert l1 != l2
