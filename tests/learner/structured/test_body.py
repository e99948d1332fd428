"""The linearized body: the curvature bound (Theorem 1), the radius (Theorem 2), the CVXPY model."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import provable_mha as pm
from provable_mha.learner.design import design_matrix
from provable_mha.learner.structured.body import LinearizedBody
from provable_mha.learner.structured.curvature import curvature_bound, residual_extended


def _forward(thetas, ws, X):
    n, k, d = X.shape
    return (design_matrix(thetas, X) @ ws.reshape(-1, d)).ravel()


def _directions(rng, layer, X, kind):
    m, d = layer.m, layer.d
    if kind == "random":
        return rng.standard_normal((m, d, d)), rng.standard_normal((m, d, d))
    if kind == "logit":  # U_i = x_a (x_b - x_c)^T: moves one attention logit difference as fast as possible
        n, a, b, c = rng.integers(len(X)), *rng.choice(X.shape[1], size=3, replace=X.shape[1] < 3)
        U = np.outer(X[n, a], X[n, b] - X[n, c])
        return np.stack([U] * m), np.zeros((m, d, d))
    if kind == "antipodal":  # tokens pushed apart: the largest value spread D
        return rng.standard_normal((m, d, d)), np.stack([np.eye(d)] * m)
    return rng.standard_normal((m, d, d)), np.zeros((m, d, d))  # "theta-only"


@settings(max_examples=25)
@given(st.integers(1, 3), st.integers(2, 6), st.integers(2, 6), st.floats(1e-3, 0.5),
       st.sampled_from(["random", "logit", "antipodal", "theta-only"]), st.integers(0, 10**6))
def test_curvature_bound_holds_along_any_direction(m, d, k, rho, kind, seed):
    """Theorem 1: |f(θ+δ) − f(θ) − Jδ| <= L(ρ)/2 ||δ||² entrywise, including k > d/m."""
    rng = np.random.default_rng(seed)
    layer = pm.random_layer(m, d, 2.0, rng)
    X = pm.sample_boolean(4, k, d, rng)
    dth, dw = _directions(rng, layer, X, kind)
    delta = np.concatenate([dth.ravel(), dw.ravel()])
    delta *= rho / np.linalg.norm(delta)
    th, w = np.asarray(layer.thetas), np.asarray(layer.ws)
    body = LinearizedBody(X, layer(X), th, w)
    J = body.jacobian()
    f1 = _forward(th + delta[: m * d * d].reshape(m, d, d), w + delta[m * d * d:].reshape(m, d, d), X)
    remainder = np.abs(f1 - _forward(th, w, X) - J @ delta)
    bound = 0.5 * curvature_bound(X, w, rho) * rho**2
    assert remainder.max() <= bound + 1e-12, (remainder.max(), bound)


def _block_error(truth_th, truth_w, th, w):
    m = th.shape[0]
    return min(max(max(np.linalg.norm(truth_th[i] - th[j]), np.linalg.norm(truth_w[i] - w[j]))
                   for i, j in enumerate(p)) for p in itertools.permutations(range(m)))


@settings(max_examples=20)
@given(st.integers(1, 2), st.integers(3, 5), st.integers(2, 4), st.floats(-9, -4), st.integers(0, 10**6))
def test_radius_bounds_the_distance_to_an_exact_layer_near_the_centre(m, d, k, log_dist, seed):
    """Theorem 2 without the learner: centre the body at a perturbed truth; the truth fits exactly,
    so whenever a radius is reported and the truth is inside the trust region, its error is within it."""
    rng = np.random.default_rng(seed)
    truth = pm.planted_instance(m, d, k, rng=seed % 1000)
    n = 3 * int(np.ceil(max(2 * m * d / k, d * d / (k * (k - 1)))))
    X = pm.sample_boolean(n, k, d, rng)
    th, w = np.asarray(truth.thetas), np.asarray(truth.ws)
    pert = rng.standard_normal(2 * m * d * d)
    pert *= 10.0 ** log_dist / np.linalg.norm(pert)
    th_hat = th + pert[: m * d * d].reshape(m, d, d)
    w_hat = w + pert[m * d * d:].reshape(m, d, d)
    rad = LinearizedBody(X, truth(X), th_hat, w_hat).radius()
    if rad.radius is None or rad.trust_region < np.linalg.norm(pert):
        return  # nothing claimed
    assert _block_error(th, w, th_hat, w_hat) <= rad.radius
    assert np.linalg.norm(pert) <= rad.ball


def test_extended_precision_residual_is_far_below_float64_round_off():
    layer = pm.planted_instance(2, 8, 4, rng=0)
    X = pm.sample_boolean(30, 4, 8, 1)
    Y = layer(X)  # float64 labels: their own round-off is what the exact residual sees
    r = residual_extended(X, Y, np.asarray(layer.thetas), np.asarray(layer.ws))
    assert 0 < np.abs(r).max() < 50 * np.finfo(float).eps * np.abs(Y).max()


def test_cvxpy_model_contains_the_truth_and_agrees_with_the_closed_form():
    truth = pm.planted_instance(1, 3, 3, rng=2)
    X = pm.sample_boolean(12, 3, 3, 3)
    rng = np.random.default_rng(0)
    pert = 1e-7 * rng.standard_normal(18)
    th_hat = np.asarray(truth.thetas) + pert[:9].reshape(1, 3, 3)
    w_hat = np.asarray(truth.ws) + pert[9:].reshape(1, 3, 3)
    body = LinearizedBody(X, truth(X), th_hat, w_hat)
    rad = body.radius()
    assert rad.radius is not None
    # the truth is a feasible point of the CVXPY body: δ* = θ* − θ̂ with ||δ*|| <= ρ
    got = body.contains(truth.thetas, truth.ws)
    assert got["violation"] <= 0 and got["distance"] <= rad.ball
    # exact widths along each block's least-determined direction are within twice the block radius
    d2 = 9
    dirs = []
    for b in range(2):
        u = np.zeros(18)
        u[b * d2:(b + 1) * d2] = rng.standard_normal(d2)
        dirs.append(u / np.linalg.norm(u))
    widths, infos = body.widths(rad.ball, np.array(dirs))
    assert all(i["status"].startswith("optimal") for i in infos)
    for w, rb in zip(widths, rad.block_radii, strict=True):
        assert 0 < w <= 2 * rb * (1 + 1e-6)


def test_exact_body_is_nested_as_rows_are_added():
    """At a fixed centre and trust region, more examples only add constraints: widths do not grow."""
    truth = pm.planted_instance(1, 3, 3, rng=5)
    X = pm.sample_boolean(20, 3, 3, 6)
    th, w = np.asarray(truth.thetas), np.asarray(truth.ws)
    u = np.random.default_rng(1).standard_normal((2, 18))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    widths = []
    for n in (8, 14, 20):
        body = LinearizedBody(X[:n], truth(X[:n]), th, w)
        widths.append(body.widths(1e-3, u)[0])
    assert np.all(np.diff(np.array(widths), axis=0) <= 1e-9 * (1 + np.abs(widths).max()))


def test_coinciding_heads_make_the_body_unbounded():
    layer = pm.planted_instance(2, 4, 3, rng=3)
    th = np.asarray(layer.thetas).copy()
    th[1] = th[0]
    X = pm.sample_boolean(30, 3, 4, 4)
    truth = pm.MultiHeadAttention(th, layer.ws)
    rad = LinearizedBody(X, truth(X), th, np.asarray(layer.ws)).radius()
    assert rad.radius is None and "rank-deficient" in rad.reason


@pytest.mark.parametrize("sigma", [1e-8])
def test_noisy_body_contains_the_truth_at_the_stated_level(sigma):
    """Under declared noise the body holds the truth unless ||ξ|| exceeds its 1 − δ quantile.

    Over 30 seeds the number of runs where a reported radius misses the truth must not be
    implausible for a rate <= δ = 0.05 (binomial test at level 0.01).
    """
    from scipy.stats import binomtest

    misses, claims = 0, 0
    for seed in range(30):
        truth = pm.planted_instance(1, 3, 3, rng=seed)
        X = pm.sample_boolean(15, 3, 3, seed + 50)
        Y = truth(X) + sigma * np.random.default_rng(seed).standard_normal((15, 3, 3))
        fit = pm.learn(X, Y, 1, noise=sigma, rng=seed, holdout=0.4, strict=False)
        rad = LinearizedBody(X, Y, np.asarray(fit.layer.thetas), np.asarray(fit.layer.ws), noise=sigma).radius()
        if rad.radius is None:
            continue
        claims += 1
        misses += _block_error(np.asarray(truth.thetas), np.asarray(truth.ws),
                               np.asarray(fit.layer.thetas), np.asarray(fit.layer.ws)) > rad.radius
    assert claims >= 20
    assert binomtest(misses, claims, 0.05, alternative="greater").pvalue > 0.01, (misses, claims)
