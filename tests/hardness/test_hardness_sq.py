import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from provable_mha.hardness import (
    boolean_cube,
    closed_form_parts,
    correlation_matrix,
    moment_agreement,
    noisy_pairwise_correlations,
    separation_matrix,
    sq_dimension,
    sq_query_lower_bound,
    sq_table,
    walsh_hadamard,
)
from provable_mha.hardness.sq import family_outputs, format_sq_table, moment_degrees


@pytest.fixture(scope="module", params=[2, 3, 4, 5])
def family_on_cube(request):
    m = request.param
    secrets, X, F = family_outputs(m, 7)
    return m, secrets, X, F


def test_s_dependent_parts_pairwise_orthogonal(family_on_cube):
    m, secrets, X, F = family_on_cube
    A, B = closed_form_parts(X)
    corr = correlation_matrix(F - A[None])
    off = corr[~np.eye(len(secrets), dtype=bool)]
    assert np.abs(off).max() < 1e-12
    np.testing.assert_allclose(np.diag(corr), 1.0)


def test_separation_is_exactly_8(family_on_cube):
    _, secrets, _, F = family_on_cube
    sep = separation_matrix(F)
    off = sep[~np.eye(len(secrets), dtype=bool)]
    np.testing.assert_allclose(off, 8.0, atol=1e-10)
    assert np.all(np.diag(sep) < 1e-10)


def test_moments_agree_below_degree_2m_minus_2_and_not_at_it(family_on_cube):
    m, _, _, F = family_on_cube
    deg = moment_degrees(F, powers=(1, 2, 3))
    # correlational moments E[p(X) Y] first differ at degree 2m-1, E[p(X) Y^2] at 2(m-1)
    assert deg["Y[0,0]^1"] == deg["Y[1,0]^1"] == 2 * m - 1
    assert deg["Y[0,0]^2"] == deg["Y[1,0]^2"] == 2 * (m - 1)
    assert min(deg.values()) == 2 * (m - 1)


def test_sq_dimension_equals_binomial(family_on_cube):
    m, secrets, X, F = family_on_cube
    A, _ = closed_form_parts(X)
    corr = correlation_matrix(F - A[None])
    size, members = sq_dimension(corr, tau=1e-9)
    assert size == len(secrets) == math.comb(6, m - 1)
    assert members == list(range(size))


def test_sq_dimension_is_a_true_maximum_clique():
    # a graph where the answer is known: blocks of mutually correlated members
    C = np.eye(6)
    C[0, 1] = C[1, 0] = 0.5  # 0 and 1 correlated
    C[2, 3] = C[3, 2] = C[2, 4] = C[4, 2] = 0.5
    size, members = sq_dimension(C, tau=0.1)
    assert size == 4  # one of {0,1} + {3,4} + 5 (2 excluded)
    sub = np.abs(C[np.ix_(members, members)])
    assert np.all(sub[~np.eye(4, dtype=bool)] <= 0.1)
    assert sq_dimension(C, tau=0.5)[0] == 6


def test_walsh_hadamard_against_direct_sum():
    rng = np.random.default_rng(0)
    d = 2
    X = boolean_cube(d).reshape(-1, 2 * d)
    f = rng.standard_normal(len(X))
    coef = walsh_hadamard(f)
    for mask in range(2 ** (2 * d)):
        chars = np.prod(X[:, [j for j in range(2 * d) if mask >> j & 1]], axis=1)
        assert coef[mask] == pytest.approx(np.mean(f * chars), abs=1e-12)


def test_moment_agreement_entry_point_small():
    assert moment_agreement(2, 3)["Y[0,0]^2"] == 2
    assert moment_agreement(1, 3)["Y[0,0]^1"] is None  # one member: nothing to disagree


@given(st.integers(2, 4), st.integers(0, 40).map(lambda k: k / 100))
def test_noisy_correlations_exact(m, eta):
    d = m + 2
    C = noisy_pairwise_correlations(m, d, eta)
    D = math.comb(d - 1, m - 1)
    np.testing.assert_allclose(C, 0.5 * (1 - 2 * eta) ** 2 * np.eye(D), atol=1e-12)


def test_query_bound_and_table():
    assert sq_query_lower_bound(21, 0.5) == pytest.approx(5.0)
    assert sq_query_lower_bound(21, 0.5, eta=0.25) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="eta"):
        sq_query_lower_bound(5, 0.1, eta=0.5)
    rows = sq_table([2, 3], [5])
    assert [r["D"] for r in rows] == [4, 6] and all(r["sq_dim"] == r["binom"] for r in rows)
    assert all(r["sep_min"] == pytest.approx(8) and r["sep_max"] == pytest.approx(8) for r in rows)
    assert [r["moment_degree"] for r in rows] == [2, 4]
    text = format_sq_table(rows)
    assert "C(d-1,m-1)" in text and len(text.splitlines()) == 3
    with pytest.raises(ValueError, match="d <= 8"):
        boolean_cube(9)
