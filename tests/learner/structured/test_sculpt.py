"""Attention from outputs and the sculpted Θ-body: containment, monotone widths, exact recovery."""

import numpy as np
import pytest
from scipy.stats import binomtest

import provable_mha as pm
from provable_mha.learner.policy import CONTAINMENT_TOL
from provable_mha.learner.structured.sculpt import (
    attention_from_outputs,
    body_centre,
    row_coefficients,
    simplex_intervals,
    theta_body,
)
from provable_mha.learner.structured.trajectory import sculpt_trajectory

TOL = CONTAINMENT_TOL  # stated containment tolerance (log-ratio units)


def _data(m, d, k, n, seed, noise=0.0, scale=1.0):
    inst = pm.planted_instance(m=m, d=d, k=k, scale=scale, rng=seed)
    X = pm.sample_boolean(n, k, d, seed + 100)
    Y = inst(X)
    if noise:
        Y = Y + noise * np.random.default_rng(seed + 200).standard_normal(Y.shape)
    return inst, X, Y


def test_attention_exact_when_noiseless():
    inst, X, Y = _data(2, 8, 4, 40, 0)
    ai = attention_from_outputs(X, Y, inst.ws)
    ok = ai.coefficients.valid
    A = inst.attention(X)
    assert ok.sum() >= 30
    assert np.abs(ai.alpha[ok] - A[ok]).max() < 1e-9
    assert ai.max_width < 1e-8


def test_degenerate_examples_are_dropped():
    inst, X, Y = _data(2, 8, 4, 10, 1)
    X = X.copy()
    X[0, 1] = X[0, 0]  # repeated token
    X[1, 2] = -X[1, 3]  # opposite token
    ai = attention_from_outputs(X, inst(X), inst.ws)
    assert not ai.coefficients.valid[0] and not ai.coefficients.valid[1]
    assert np.all(ai.lower[:2] == 0) and np.all(ai.upper[:2] == 1)


def test_noisy_intervals_contain_truth_binomial():
    # per-seed event: every weight of every valid row inside its interval (z = 6 margin)
    hits = 0
    trials = 10
    for seed in range(trials):
        inst, X, Y = _data(2, 8, 4, 30, seed, noise=1e-3)
        ai = attention_from_outputs(X, Y, inst.ws, noise=1e-3)
        A = inst.attention(X)
        ok = ai.coefficients.valid
        hits += bool(np.all(A[ok] >= ai.lower[ok]) and np.all(A[ok] <= ai.upper[ok]))
    # claimed failure rate per seed <= 1e-3; reject if the data say otherwise
    assert binomtest(hits, trials, 0.999, alternative="less").pvalue > 0.01


def test_simplex_intervals_are_lp_bounds():
    lo, up = simplex_intervals(np.array([0.5, 0.3, 0.2]), np.full(3, 0.4))
    assert np.allclose(up, [0.9, 0.7, 0.6]) and np.allclose(lo, [0.1, 0.0, 0.0])
    assert np.all(lo <= up)


def test_row_coefficients_rejects_mk_gt_d():
    inst, X, Y = _data(2, 8, 4, 5, 0)
    with pytest.raises(ValueError, match="m\\*k <= d"):
        row_coefficients(X[:, :, :6], Y[:, :, :6], np.zeros((2, 6, 6)))
    with pytest.raises(ValueError, match="shape"):
        row_coefficients(X, Y[:, :3], inst.ws)


def test_one_head_recovers_theta_exactly_from_few_examples():
    d, k = 8, 4
    n = int(np.ceil(2 * d * d / (k * (k - 1))))  # O(d^2/k^2): 11 examples here
    inst, X, Y = _data(1, d, k, n, 3)
    ai = attention_from_outputs(X, Y, inst.ws)
    body = theta_body(X, ai.lower[:, 0], ai.upper[:, 0])
    th = body_centre(body, method="lsq").theta
    assert np.abs(th - inst.thetas[0]).max() < 1e-9
    cheb = body_centre(body)
    assert np.abs(cheb.theta - inst.thetas[0]).max() < 1e-6
    assert body.violation(inst.thetas[0]) <= TOL


@pytest.mark.parametrize("noise", [0.0, 1e-3])
def test_trajectory_containment_and_monotone_width(noise, quick):
    # noiseless bodies collapse after ~d^2/k^2 examples, so grow them 2 at a time
    n, batch = (12, 2) if noise == 0 else ((24, 8) if quick else (40, 8))
    inst, X, Y = _data(2, 8, 4, n, 5, noise=noise)
    tr = sculpt_trajectory(X, Y, inst.ws, head=1, noise=noise, batch=batch, truth=inst.thetas[1], rng=0)
    assert tr.n_examples[-1] == n
    assert max(tr.violations) <= TOL  # truth inside every body
    w = tr.widths
    assert np.all(np.diff(w, axis=0) <= 1e-6 * (1 + w[:-1]))  # non-increasing up to LP tolerance
    assert w[-1].max() < w[0].max()  # and it does shrink
    if noise == 0:
        assert w[-1].max() < 1e-5
