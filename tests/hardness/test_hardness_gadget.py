import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import expit

from provable_mha.hardness import (
    gadget_matrix,
    min_weight_representation,
    solve_gadget,
    solve_general_gadget,
)


@pytest.mark.parametrize("m", range(1, 7))
def test_parity_gadget_solves_its_system(m):
    g = solve_gadget(m)
    assert g.heads == m and g.temperatures[0] == 0.0
    assert np.all(np.diff(g.temperatures) > 0) and g.temperatures[-1] <= 40.0
    N = np.arange(m)
    # independent evaluation of sum_i c_i sigma(a_i N)
    pairs = list(zip(g.temperatures, g.coefficients, strict=True))
    direct = np.array([sum(c * expit(a * n) for a, c in pairs) for n in N])
    np.testing.assert_allclose(direct, (-1.0) ** N, atol=1e-12)
    assert g.residual < 1e-12
    assert g.coefficients.sum() == pytest.approx(2.0, abs=1e-12)  # the N = 0 row


def test_parity_gadget_coefficients_match_documented_growth():
    # docs/hardness.md §1 (this project's measurement): max|c_i| = 6, 13.3, 45.4, 160.5, 614.0
    # for m = 2..6 with a_max = 40, i.e. the family's ||W_i|| grows about 4x per head
    got = [solve_gadget(m).max_abs_coefficient for m in range(2, 7)]
    np.testing.assert_allclose(got, [6, 13.3, 45.4, 160.5, 614.0], rtol=0.01)
    ratios = np.array(got[1:]) / np.array(got[:-1])
    assert np.all(ratios > 2) and np.all(ratios < 5)


def test_m2_closed_form():
    # a_1 = a: c_1 = -2 / (sigma(a) - 1/2), c_0 = 2 - c_1
    g = solve_gadget(2, temperatures=[0.0, 3.0])
    c1 = -2.0 / (expit(3.0) - 0.5)
    np.testing.assert_allclose(g.coefficients, [2 - c1, c1], rtol=1e-13)


@given(st.lists(st.floats(-3, 3, allow_nan=False), min_size=1, max_size=5))
def test_general_gadget_realizes_any_g(values):
    g = solve_general_gadget(values)
    T = np.arange(len(values))
    np.testing.assert_allclose(g.evaluate(T), values, atol=1e-9)
    M = gadget_matrix(g.temperatures, g.R)
    np.testing.assert_allclose(M @ g.coefficients, values, atol=1e-9)


def test_gadget_validation():
    with pytest.raises(ValueError, match="m must be"):
        solve_gadget(0)
    with pytest.raises(ValueError, match="strictly increasing"):
        solve_gadget(3, temperatures=[0, 2, 1])
    with pytest.raises(ValueError, match="must be 0"):
        solve_gadget(2, temperatures=[1, 2])
    with pytest.raises(ValueError, match="exceed a_max"):
        solve_gadget(2, temperatures=[0, 50])
    with pytest.raises(ValueError, match="beyond float64"):
        solve_general_gadget(np.ones(13))
    with pytest.raises(ValueError, match="numerically singular"):
        # nearly equal temperatures make the system singular to float64
        solve_general_gadget([1, -1, 1], temperatures=[0, 30, 30 + 1e-13])


def test_cp_sat_parity_needs_all_unit_weights():
    r = 5
    U = (np.arange(2**r)[:, None] >> np.arange(r)) & 1
    rep = min_weight_representation((-1.0) ** U.sum(1), r, time_limit=10, seed=0)
    assert rep.status == "OPTIMAL"
    np.testing.assert_array_equal(rep.weights, np.ones(r))
    assert rep.heads == r + 1


def test_cp_sat_representation_is_exact_and_beats_naive_lwr_weights():
    # f(u) = round((u0 + 2 u1) mod 4 / 2) mod 2 = [a in {1, 2}]: naive weights (1, 2) need 4 heads
    r = 2
    U = (np.arange(4)[:, None] >> np.arange(r)) & 1
    a = U @ np.array([1, 2])
    f = np.floor(2 * (a % 4) / 4 + 0.5) % 2
    rep = min_weight_representation(f, r, time_limit=5)
    assert rep.heads == 3 and rep.status == "OPTIMAL"
    np.testing.assert_array_equal(rep.g_values[U @ rep.weights], f)
    # and the gadget realizes that table
    g = solve_general_gadget(rep.g_values)
    np.testing.assert_allclose(g.evaluate(U @ rep.weights), f, atol=1e-12)


def test_cp_sat_validation():
    with pytest.raises(ValueError, match="2\\*\\*r"):
        min_weight_representation(np.ones(3), 2)
    with pytest.raises(ValueError, match="no weighted-count"):
        # XOR of 2 bits with weights <= 1 is impossible only if w_max < 1: use a 3-valued target
        U = (np.arange(8)[:, None] >> np.arange(3)) & 1
        min_weight_representation(U @ np.array([1, 2, 4]), 3, w_max=1)
