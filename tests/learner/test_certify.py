"""The certificate: counting, vacuity, the Bernstein bound, and what is (not) stated without assumptions."""

import numpy as np
import pytest
from scipy.stats import binomtest

import provable_mha as pm
from provable_mha.learner.certify import bernstein_mse_bound, fresh_distinct, holdout_certificate


def _setup(n=40, seed=0):
    layer = pm.planted_instance(2, 6, 3, rng=seed)
    X = pm.sample_boolean(n, 3, 6, seed + 1)
    return layer, X, layer(X)


def _cert(layer, Xtr, Xh, Yh, **kw):
    return holdout_certificate(layer, Xtr, Xh, Yh, y_scale=float(np.abs(Yh).max()), **kw)


def test_fresh_distinct_drops_duplicates_and_leaked_inputs():
    _, X, _ = _setup()
    Xh = np.concatenate([X[:3], X[10:12], X[10:12], X[20:21]])
    keep = fresh_distinct(X[:5], Xh)
    assert keep.tolist() == [3, 4, 7]


def test_duplicated_data_make_the_certificate_vacuous():
    """5 distinct inputs repeated: held-out inputs all occur in training -> nothing is counted."""
    layer, X, Y = _setup()
    Xd = np.tile(X[:5], (20, 1, 1))
    cert = _cert(layer, Xd[:80], Xd[80:], layer(Xd[80:]))
    assert cert.n_distinct_holdout == 0 and cert.vacuous and not cert.certified
    res = pm.learn(Xd, layer(Xd), 2, rng=0, strict=False)
    assert not res.certificate.certified and res.certificate.n_distinct_holdout == 0


def test_right_layer_is_certified_and_failure_bound_counts_distinct_inputs():
    layer, X, Y = _setup()
    cert = _cert(layer, X[:30], X[30:], Y[30:])
    assert cert.certified and not cert.vacuous and cert.n_distinct_holdout == 10
    assert cert.failure_rate_bound == pytest.approx(np.log(1 / 0.05) / 10)
    assert cert.mse_bound is None and len(cert.assumptions) == 1  # no label bound declared


def test_random_labels_with_declared_noise_are_vacuous():
    layer, X, _ = _setup()
    Y = np.random.default_rng(0).standard_normal(X.shape)
    zero = pm.MultiHeadAttention(np.zeros((2, 6, 6)), np.zeros((2, 6, 6)))
    cert = _cert(zero, X[:30], X[30:], Y[30:], noise=1.0, y_mean=Y[:30].mean(0))
    assert cert.max_residual <= cert.epsilon  # the zero layer "fits" within the noise tolerance...
    assert cert.vacuous and not cert.certified and "zero layer" in cert.statement  # ...so it says nothing


def test_wrong_layer_is_not_certified_and_failed_checks_block():
    layer, X, Y = _setup()
    other = pm.planted_instance(2, 6, 3, rng=9)
    assert not _cert(other, X[:30], X[30:], Y[30:]).certified
    blocked = _cert(layer, X[:30], X[30:], Y[30:], checks={"containment": {"ok": False}})
    assert not blocked.certified and "containment" in blocked.statement


def test_bernstein_bound_covers_the_mean_at_the_stated_level():
    """Maurer–Pontil: over 400 samples of size 50 from a [0, 1] distribution, misses <= delta."""
    rng = np.random.default_rng(3)
    misses = sum(bernstein_mse_bound(rng.beta(2, 5, 50), 1.0, 0.05) < 2 / 7 for _ in range(400))
    assert binomtest(misses, 400, 0.05, alternative="greater").pvalue > 0.01


def test_mse_bound_only_with_a_declared_label_bound_and_it_holds():
    layer, X, Y = _setup(n=200)
    shrunk = pm.MultiHeadAttention(layer.thetas, np.asarray(layer.ws) * 0.01)
    cert = _cert(shrunk, X[:100], X[100:], Y[100:], label_bound=float(np.abs(Y).max()))
    Xt = pm.sample_boolean(4000, 3, 6, 77)
    true_mse = float(np.mean((shrunk(Xt) - layer(Xt)) ** 2))
    assert cert.mse_bound is not None and cert.mse_bound >= true_mse
    assert any("|Y| <=" in a for a in cert.assumptions)
