"""identifiability: the report, the constructions of equal layers, and match_heads(k=)."""

import itertools

import numpy as np
import pytest

import provable_mha as pm
from provable_mha.identifiability import PAIR_KINDS


def _boolean_inputs(k: int, d: int) -> np.ndarray:
    """Every input of {±1}^(k×d)."""
    return np.array(list(itertools.product([-1.0, 1.0], repeat=k * d))).reshape(-1, k, d)


def _pair_k(kind: str, m: int) -> int:
    need = PAIR_KINDS[kind][0]
    return need if need is not None else (min(m, 3) if kind == "boolean_d1" else 3)


CASES = [(kind, m, d) for kind in PAIR_KINDS for m in (2, 3) for d in (1, 2, 3)]


@pytest.mark.parametrize("kind,m,d", CASES)
def test_pairs_agree_on_every_boolean_input_and_differ_in_parameters(kind, m, d):
    k = _pair_k(kind, m)
    pair = pm.non_identifiable_pair(kind, m, d, rng=m + d, k=k)
    a, b = pair
    assert pair.k in (None, k) and a != b
    X = _boolean_inputs(k, d)  # at most 2^9 inputs
    assert np.abs(a(X) - b(X)).max() <= 1e-12
    # the parameters stay apart after every head matching, and match_heads reports at least that
    assert pair.gap >= 0.1
    assert pm.match_heads(a, b).max_error >= pair.gap - 1e-12


@pytest.mark.parametrize("kind,m,d", CASES)
def test_pairs_on_real_inputs(kind, m, d):
    k = _pair_k(kind, m)
    a, b = pm.non_identifiable_pair(kind, m, d, rng=m + d, k=k)
    X = pm.sample_gaussian(300, k, d, rng=0) * 2.0
    diff = np.abs(a(X) - b(X)).max()
    if PAIR_KINDS[kind][1] == "any":
        assert diff <= 1e-12
    else:  # Boolean-only: real inputs tell the two layers apart
        assert diff > 1e-3


@pytest.mark.parametrize("kind", ["coincident", "silent", "opposite", "flip"])
def test_pairs_hold_for_every_k_they_claim(kind):
    a, b = pm.non_identifiable_pair(kind, 3, 4, rng=0)
    ks = range(1, 6) if PAIR_KINDS[kind][0] is None else [PAIR_KINDS[kind][0]]
    for k in ks:
        X = pm.sample_gaussian(50, k, 4, rng=k)
        assert np.abs(a(X) - b(X)).max() <= 1e-12
    if kind in ("opposite", "flip"):  # the two-token identities fail for k = 3
        X = pm.sample_gaussian(50, 3, 4, rng=0)
        assert np.abs(a(X) - b(X)).max() > 1e-3


def test_report_flags_each_pair():
    rep = lambda kind, k, **kw: pm.identifiability(pm.non_identifiable_pair(kind, 3, 3, rng=1).a, k, **kw)  # noqa: E731
    assert rep("coincident", 3).coincident == [(0, 1)]
    assert rep("silent", 3).silent == [0]
    assert rep("one_token", 1).constant_attention
    assert rep("opposite", 2, inputs="real").opposite == [(0, 1)]
    assert rep("opposite", 2).identifiable  # the two-token checks need inputs=...
    assert rep("flip", 2, inputs="real").zero_sum == [(0, 1)]
    b = pm.non_identifiable_pair("opposite", 3, 3, rng=1).b  # its partner has a uniform head
    assert pm.identifiability(b, 2, inputs="boolean").uniform == [1]
    a1 = pm.non_identifiable_pair("boolean_d1", 3, 1, rng=0, k=3).a
    assert pm.identifiability(a1, 3, inputs="boolean").boolean_deficit
    assert pm.identifiability(a1, 3, inputs="real").identifiable  # Theorem 1: k >= 3, distinct Θ, W != 0


def test_boolean_d1_pair_in_higher_dimension_is_a_local_degeneracy_on_boolean_inputs():
    a = pm.non_identifiable_pair("boolean_d1", 2, 2, rng=0, k=2).a
    assert pm.identifiability(a, 2, jacobian=True, inputs="boolean").jacobian_null_dim > 0


def test_generic_layers_are_identifiable_and_the_default_report_is_unchanged():
    layer = pm.random_layer(3, 4, rng=0)
    for k in (2, 3):
        for inputs in (None, "real", "boolean"):
            rep = pm.identifiability(layer, k, inputs=inputs)
            assert rep.identifiable and rep.summary() == "identifiable up to head order"
    rep = pm.identifiability(layer, 3)
    assert (rep.inputs, rep.opposite, rep.uniform, rep.zero_sum, rep.boolean_deficit) == (None, [], [], [], False)
    # Theorem 1 seen locally: no null direction of the Jacobian on real inputs, k = 2 and 3
    for k in (2, 3):
        assert pm.identifiability(layer, k, jacobian=True, inputs="real", n_samples=40).jacobian_null_dim == 0


def test_rtol_and_validation():
    a = pm.non_identifiable_pair("coincident", 2, 3, rng=0).a
    near = pm.MultiHeadAttention(a.thetas + np.array([0.0, 1e-5])[:, None, None], a.ws)
    assert pm.identifiability(near, 3).coincident == [(0, 1)]
    assert pm.identifiability(near, 3, rtol=1e-7).identifiable
    with pytest.raises(ValueError, match="inputs"):
        pm.identifiability(a, 3, inputs="gaussian")
    with pytest.raises(ValueError, match="kind"):
        pm.non_identifiable_pair("nope")
    with pytest.raises(ValueError, match="m >= 2"):
        pm.non_identifiable_pair("coincident", 1)
    with pytest.raises(ValueError, match="k <= m"):
        pm.non_identifiable_pair("boolean_d1", 2, 1, k=3)


@pytest.mark.parametrize("kind,k", [("coincident", 3), ("silent", 3), ("one_token", 1)])
def test_match_heads_with_k_compares_only_what_is_identified(kind, k):
    a, b = pm.non_identifiable_pair(kind, 3, 4, rng=2)
    plain = pm.match_heads(a, b)
    assert plain.unidentified == () and plain.identified_error is None and plain.group_w_errors is None
    hm = pm.match_heads(a, b, k=k)
    assert hm.max_error >= 0.1  # every parameter, as before
    assert hm.identified_error <= 1e-12  # what the function determines agrees
    assert hm.unidentified
    if kind == "coincident":
        assert hm.unidentified == ((0, 1),) and hm.group_w_errors[0] <= 1e-12
    if kind == "one_token":
        assert hm.unidentified == ((0, 1, 2),)


def test_match_heads_with_k_still_sees_real_differences():
    a = pm.non_identifiable_pair("coincident", 3, 4, rng=2).a
    other = pm.MultiHeadAttention(a.thetas, a.ws * np.array([1.0, 1.0, 1.5])[:, None, None])
    assert pm.match_heads(a, other, k=3).identified_error == pytest.approx(0.5)
    perm = a.permute_heads([2, 0, 1])
    hm = pm.match_heads(a, perm, k=3)
    assert hm.identified_error <= 1e-15 and hm.max_error <= 1e-15
