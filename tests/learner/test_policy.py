"""The tolerance policy: each threshold against the distribution it is derived from."""

import math

import numpy as np
import pytest
from scipy import stats

from provable_mha.learner import policy


def test_chi2_norm_quantile_matches_simulation():
    rng = np.random.default_rng(0)
    norms = np.linalg.norm(rng.standard_normal((20000, 50)), axis=1)
    q = policy.chi2_norm_quantile(50, 0.05)
    assert abs(np.mean(norms > q) - 0.05) < 0.006


def test_gaussian_max_quantile_is_a_union_bound():
    z = policy.gaussian_max_quantile(1000, 0.05)
    assert 2 * 1000 * stats.norm.sf(z) == pytest.approx(0.05)
    rng = np.random.default_rng(1)
    exceed = np.mean(np.abs(rng.standard_normal((4000, 1000))).max(axis=1) > z)
    assert exceed <= 0.05  # the union bound is conservative


def test_acceptance_threshold_accepts_the_truth_at_the_stated_level():
    """The true parameters' residual is the noise: accepted with probability >= 1 - delta."""
    rng = np.random.default_rng(2)
    Y = rng.standard_normal((30, 4, 5))
    sigma, accepted = 0.1, 0
    for _ in range(2000):
        xi = sigma * rng.standard_normal(Y.shape)
        accepted += np.linalg.norm(xi) / np.linalg.norm(Y + xi) <= policy.acceptance_threshold(Y + xi, sigma, 40)
    assert accepted / 2000 >= 0.93
    assert policy.acceptance_threshold(Y, 0.0, 40) == policy.EXACT_FIT_REL


def test_holdout_epsilon_depends_on_training_scale_and_grows_with_noise_and_leverage():
    e0 = policy.holdout_epsilon(2.0, 0.0, 0.1, 100, 0.05)
    assert e0 == pytest.approx(policy.EXACT_HOLDOUT_REL * 2.0)
    e1 = policy.holdout_epsilon(2.0, 0.01, 0.1, 100, 0.05)
    e2 = policy.holdout_epsilon(2.0, 0.01, 0.5, 100, 0.05)
    assert e0 < e1 < e2
    assert e1 == pytest.approx(e0 + 0.01 * math.sqrt(1.2) * policy.gaussian_max_quantile(100, 0.05))


def test_min_distinct_holdout_is_where_the_failure_bound_crosses_one_half():
    for delta in (0.5, 0.05, 0.001):
        n = policy.min_distinct_holdout(delta)
        assert math.log(1 / delta) / n <= policy.MAX_USEFUL_FAILURE_RATE < math.log(1 / delta) / max(n - 1, 1e-9)


def test_containment_tolerance_is_tied_to_the_solver_tolerance():
    from provable_mha.solvers import FEAS_TOL

    assert policy.CONTAINMENT_TOL == 10 * FEAS_TOL
