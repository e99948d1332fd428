import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import provable_mha as pm
from provable_mha import hardness
from provable_mha.hardness import (
    boolean_cube,
    chi,
    closed_form_parts,
    parity_closed_form,
    parity_family,
    parity_instance,
    solve_gadget,
)


def _loop_closed_form(X, S):
    """The closed form of docs/hardness.md §1, entry by entry, written independently."""
    out = np.zeros_like(X)
    for n, (x0, x1) in enumerate(X):
        c = np.prod([x0[b] * x1[b] for b in S]) if S else 1.0
        out[n, 0, 0] = 2 * x1[0] + (x0[0] - x1[0]) * c
        out[n, 1, 0] = 2 * x0[0] - (x0[0] - x1[0]) * c
    return out


def test_public_api():
    fam = hardness.parity_family(m=3, d=7)
    assert len(fam) == math.comb(6, 2)
    for S, layer in fam:
        assert isinstance(layer, pm.MultiHeadAttention) and layer.m == 3 and layer.d == 7
        assert len(S) == 2 and 0 not in S and all(1 <= b <= 6 for b in S)
    assert len({S for S, _ in fam}) == len(fam)


@pytest.mark.parametrize("m", [2, 3, 4, 5])
def test_layer_equals_closed_form_on_the_whole_cube(m):
    # every member of every family with m <= d <= 7, all 2^(2d) inputs
    for d in range(m, 8):
        X = boolean_cube(d)
        for S, layer in parity_family(m, d):
            err = np.abs(layer(X) - parity_closed_form(X, S)).max()
            assert err <= 1e-12, (m, d, S, err)


def test_closed_form_matches_independent_loop():
    X = boolean_cube(4)
    for S in [(), (2,), (1, 3), (1, 2, 3)]:
        np.testing.assert_array_equal(parity_closed_form(X, S), _loop_closed_form(X, S))


@given(st.integers(2, 6), st.data())
def test_property_random_inputs_and_secrets(m, data):
    d = data.draw(st.integers(m, 12))
    S = data.draw(st.sets(st.integers(1, d - 1), min_size=m - 1, max_size=m - 1))
    X = pm.sample_boolean(64, 2, d, data.draw(st.integers(0, 2**32 - 1)))
    layer = parity_instance(S, m, d)
    Y = layer(X)
    np.testing.assert_allclose(Y, parity_closed_form(X, S), atol=1e-11)
    A, B = closed_form_parts(X)
    # only column 0 is non-zero; the two rows of B are opposite; A, B do not depend on S
    assert np.all(Y[:, :, 1:] == 0)
    np.testing.assert_array_equal(B[:, 1], -B[:, 0])
    # the parity is read off the label wherever B != 0
    keep = B[:, 0, 0] != 0
    np.testing.assert_allclose((Y[keep, 0, 0] - A[keep, 0, 0]) / B[keep, 0, 0], chi(X[keep], S),
                               atol=1e-11)


@given(st.integers(2, 5), st.data())
def test_property_structure_of_parameters(m, data):
    d = data.draw(st.integers(m, 10))
    S = sorted(data.draw(st.sets(st.integers(1, d - 1), min_size=m - 1, max_size=m - 1)))
    layer = parity_instance(S, m, d)
    g = solve_gadget(m)
    mask = np.zeros(d)
    mask[S] = 1
    np.testing.assert_allclose(layer.thetas, 0.5 * g.temperatures[:, None, None] * np.diag(mask))
    assert np.count_nonzero(layer.ws) == m and np.all(layer.ws[:, 0, 0] == g.coefficients)
    # degenerate by construction: collinear Thetas, rank-one W's, a uniform head
    assert np.linalg.matrix_rank(layer.thetas.reshape(m, -1)) == 1
    assert np.all(layer.thetas[0] == 0)


def test_validation_messages():
    with pytest.raises(ValueError, match="subset of"):
        parity_instance([0, 2], 3, 5)
    with pytest.raises(ValueError, match=r"\|S\| must be"):
        parity_instance([1], 3, 5)
    with pytest.raises(ValueError, match="repeated"):
        parity_instance([1, 1], 3, 5)
    with pytest.raises(ValueError, match="d >= m"):
        parity_family(5, 4)
    with pytest.raises(ValueError, match="integer"):
        parity_instance([1.5], 2, 5)
    with pytest.raises(ValueError, match="k = 2"):
        parity_closed_form(np.ones((3, 5)), [1])
    with pytest.raises(ValueError, match="-1, \\+1"):
        parity_closed_form(np.full((2, 5), 0.5), [1])
