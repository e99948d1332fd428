"""Span starts for large layers (learner/span.py)."""

import numpy as np
import pytest

import provable_mha as pm
from provable_mha.learner import practical, span


def _principal_cosines(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    qa, qb = np.linalg.qr(A)[0], np.linalg.qr(B)[0]
    return np.linalg.svd(qa.T @ qb, compute_uv=False)


def test_averaged_span_is_orthonormal_and_beats_every_single_fit():
    """Fits that share a subspace only partly, each with its own random directions: the averaged
    projector's top eigenspace is closer to the shared one than any single fit."""
    rng = np.random.default_rng(0)
    m, d = 3, 6
    S = np.linalg.qr(rng.standard_normal((d * d, m)))[0]
    fits = []
    for _ in range(20):
        heads = S @ rng.standard_normal((m, m)) + 0.3 * rng.standard_normal((d * d, m))
        fits.append(heads.T.reshape(m, d, d))
    B = span.averaged_span(fits, m)
    assert B.shape == (d * d, m)
    np.testing.assert_allclose(B.T @ B, np.eye(m), atol=1e-12)
    single = max(_principal_cosines(S, f.reshape(m, -1).T).min() for f in fits)
    assert _principal_cosines(S, B).min() > single + 0.2  # 0.90 against 0.62 for this draw


def test_averaged_span_of_fits_with_the_same_span_is_that_span():
    rng = np.random.default_rng(1)
    m, d = 2, 4
    S = rng.standard_normal((d * d, m))
    fits = [(S @ rng.standard_normal((m, m))).T.reshape(m, d, d) for _ in range(3)]
    np.testing.assert_allclose(_principal_cosines(S, span.averaged_span(fits, m)), 1.0, atol=1e-10)


def _planted(m=2, d=8, k=4, n=40, seed=3):
    layer = pm.planted_instance(m, d, k, rng=seed)
    X = pm.sample_boolean(n, k, d, seed)
    return layer, X, layer(X)


def test_fit_in_the_planted_span_stays_in_it_lowers_the_residual_and_finds_the_heads():
    layer, X, Y = _planted()
    m = 2
    T = np.asarray(layer.thetas).reshape(m, -1)
    B = np.linalg.qr(T.T)[0]
    C0 = np.random.default_rng(4).standard_normal((m, m))
    th = span.fit_in_span(X, Y, m, B, C0)
    flat = th.reshape(m, -1)
    np.testing.assert_allclose(flat @ B @ B.T, flat, atol=1e-12)  # Theta_i in span(B)
    r0 = np.linalg.norm(practical.varpro_residual((C0 @ B.T).ravel(), X, Y, m)[0])
    r1 = np.linalg.norm(practical.varpro_residual(th.ravel(), X, Y, m)[0])
    assert r1 < r0
    # with the exact span and 40 examples the 4 coefficients are found (this draw); the heads up to order
    assert r1 <= 1e-8 * np.linalg.norm(Y)


def test_ensemble_size_rule():
    assert span.span_fits(8, 64) == span.SPAN_FITS  # 32768 > SPAN_MIN_PARAMS
    assert span.span_fits(4, 64) == 0  # 16384, the bound itself
    assert span.span_fits(2, 8) == 0
    assert span.span_fits(2, 8, 3) == 3 and span.span_fits(8, 64, 0) == 0


def test_span_starts_alternate_with_random_starts_and_learn_recovers():
    """Forced on a small layer (span_fits=3): when the first (plain) start fails, the second is a span
    start; whatever start is accepted, the certified answer predicts fresh inputs."""
    layer, X, Y = _planted(n=22, seed=6)  # 12 training examples (1.5 n*), 10 held out
    res = pm.learn(X, Y, 2, rng=6, holdout=10 / 22, span_fits=3, hops=0, strict=False)
    starts = [r["start"] for r in res.phases[0].info["runs"]]
    assert len(starts) >= 2  # this draw's plain first start fails
    assert all(s == "span" for s in starts[1::2]) and all(s.startswith("random") for s in starts[0::2])
    assert res.certificate.certified
    Xt = pm.sample_boolean(200, 4, 8, 6)
    assert np.linalg.norm(res.layer(Xt) - layer(Xt)) <= 1e-8 * np.linalg.norm(layer(Xt))


@pytest.mark.parametrize("bad", [-1, 2.5, "10", True])
def test_span_fits_option_is_validated(bad):
    _, X, Y = _planted(n=10)
    with pytest.raises(ValueError, match="span_fits"):
        pm.learn(X, Y, 2, span_fits=bad)
