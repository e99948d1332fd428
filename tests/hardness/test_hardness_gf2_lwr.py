import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import provable_mha as pm
from provable_mha.hardness import (
    boolean_cube,
    gf2_solve,
    lwr_family,
    lwr_gadget,
    lwr_instance,
    lwr_sq_dimension,
    lwr_weights,
    noise_experiment,
    parity_closed_form,
    parity_instance,
    recover_parity,
    weighted_closed_form,
)


@given(st.integers(1, 8), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_gf2_solve_consistent_systems(r, extra, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, r)
    A = rng.integers(0, 2, (r + extra, r))
    sol, rank = gf2_solve(A, A @ x % 2)
    assert sol is not None
    np.testing.assert_array_equal(A @ sol % 2, A @ x % 2)
    assert 0 <= rank <= r
    if rank == r:
        np.testing.assert_array_equal(sol, x)


def test_gf2_inconsistent_and_validation():
    assert gf2_solve([[1, 1], [1, 1]], [0, 1])[0] is None
    with pytest.raises(ValueError, match="0, 1"):
        gf2_solve([[2]], [1])


@given(st.integers(2, 6), st.data())
def test_noiseless_elimination_recovers_secret(m, data):
    d = data.draw(st.integers(m + 1, 14))
    S = tuple(sorted(data.draw(st.sets(st.integers(1, d - 1), min_size=m - 1, max_size=m - 1))))
    X = pm.sample_boolean(8 * d, 2, d, data.draw(st.integers(0, 2**32 - 1)))
    found, rank = recover_parity(X, parity_instance(S, m, d)(X))
    if rank == d - 1:  # enough independent informative examples (fails with prob ~ 2^-3d)
        assert found == S


def test_noise_breaks_elimination_but_not_the_sq_bound():
    res = noise_experiment(3, 7, n=56, sigmas=(0.0, 2.0), trials=20, rng=0)
    clean, noisy = res
    assert clean.recovered == 20 and clean.inconsistent == 0
    assert noisy.eta == pytest.approx(0.1587, abs=1e-4)
    assert noisy.recovered <= 2 and noisy.inconsistent >= 15
    assert noisy.sq_queries_at_tau >= clean.sq_queries_at_tau > 0


@pytest.mark.parametrize("n, q, p", [(1, 2, 2), (2, 2, 2), (1, 4, 2), (1, 4, 4)])
def test_lwr_layer_equals_closed_form_on_the_cube(n, q, p):
    g = lwr_gadget(n, q, p)
    d = 1 + n * (q.bit_length() - 1)
    X = boolean_cube(d)
    for s, layer in lwr_family(n, q, p):
        ref = weighted_closed_form(X, lwr_weights(np.array(s), q), g.targets)
        # float64 error of sum_i c_i sigma_i: a few ulps times sum |c_i|
        tol = 64 * np.finfo(float).eps * np.abs(g.coefficients).sum()
        assert np.abs(layer(X) - ref).max() <= tol


def test_lwr_label_is_rounded_inner_product():
    q, p = 4, 2
    for s in range(q):
        layer = lwr_instance(np.array([s]), q, p)
        X = boolean_cube(3)
        u = (1 - X[:, 0, 1:] * X[:, 1, 1:]) / 2
        a = u @ np.array([1, 2])
        v = np.floor(p * ((a * s) % q) / q + 0.5) % p
        B = X[:, 0, 0] - X[:, 1, 0]
        expected = 2 * X[:, 1, 0] + B * np.cos(2 * np.pi * v / p)
        np.testing.assert_allclose(layer(X)[:, 0, 0], expected, atol=1e-10)


def test_lwr_q2_is_parity():
    for s in [(1, 0), (1, 1), (0, 1)]:
        X = boolean_cube(3)
        S = [b + 1 for b in range(2) if s[b]]
        np.testing.assert_allclose(lwr_instance(np.array(s), 2, 2)(X)[..., :1],
                                   parity_closed_form(X, S)[..., :1], atol=1e-12)


def test_lwr_sq_dimension_and_validation():
    size, D = lwr_sq_dimension(1, 4, 4, tau=0.01)
    assert D == 4 and 1 <= size < D  # not all members pairwise orthogonal (measured: 3)
    with pytest.raises(ValueError, match="power of two"):
        lwr_gadget(1, 6, 2)
    with pytest.raises(ValueError, match="0..q-1"):
        lwr_weights(np.array([5]), 4)
    with pytest.raises(ValueError, match="beyond float64|numerically singular"):
        lwr_gadget(2, 8, 2)
