"""Sample-size counts and the local rank test of ``learner/limits.py``."""

import numpy as np
import pytest

import provable_mha as pm
from provable_mha.learner.limits import information_limit, local_identifiability, min_examples


def test_counts():
    assert min_examples(2, 8, 4) == 8 and information_limit(2, 8, 4) == 8.0
    assert information_limit(2, 8, 2) == 32.0  # the Theta count d^2 / (k(k-1)) dominates
    assert information_limit(1, 8, 1) == float("inf")


@pytest.mark.parametrize("m,d,k", [(1, 4, 3), (2, 8, 4), (3, 6, 5)])
def test_too_few_examples_never_identify(m, d, k):
    layer = pm.planted_instance(m, d, k, rng=1)
    n = min_examples(m, d, k) - 1  # n k d < 2 m d^2 rows: the Jacobian cannot have full column rank
    rep = local_identifiability(layer, pm.sample_boolean(n, k, d, rng=2))
    assert not rep.identified and rep.null_dim >= 2 * m * d * d - n * k * d and rep.sigma_ratio == 0.0


@pytest.mark.parametrize("m,d,k,seed", [(1, 4, 3, 0), (2, 8, 4, 1), (3, 6, 5, 2), (2, 6, 8, 3)])
def test_generic_layer_identified_at_three_times_the_count(m, d, k, seed):
    layer = pm.planted_instance(m, d, k, rng=seed)
    rep = local_identifiability(layer, pm.sample_boolean(3 * min_examples(m, d, k), k, d, rng=seed + 10))
    assert rep.identified and rep.rank == rep.parameters == 2 * m * d * d and rep.sigma_ratio > 1e-8


def test_degenerate_layers_show_their_null_directions():
    m, d, k = 2, 4, 3
    layer = pm.planted_instance(m, d, k, rng=0)
    th, ws = np.array(layer.thetas), np.array(layer.ws)
    X = pm.sample_boolean(30, k, d, rng=3)
    coincide = pm.MultiHeadAttention(np.stack([th[0], th[0]]), ws)  # only W_1 + W_2 is seen: d^2 null directions
    assert local_identifiability(coincide, X).null_dim >= d * d
    silent = pm.MultiHeadAttention(th, np.stack([ws[0], np.zeros((d, d))]))  # Theta_2 is never seen
    assert local_identifiability(silent, X).null_dim >= d * d
    swapped = pm.MultiHeadAttention(th[::-1], ws[::-1])  # head order changes nothing
    assert local_identifiability(swapped, X).rank == local_identifiability(layer, X).rank


def test_bad_inputs_are_refused():
    layer = pm.planted_instance(1, 4, 3, rng=0)
    with pytest.raises(ValueError, match="shape"):
        local_identifiability(layer, np.ones((5, 3, 5)))
    with pytest.raises(ValueError):
        local_identifiability(layer, np.ones((5, 4)))
    with pytest.raises(ValueError, match="MultiHeadAttention"):
        local_identifiability("layer", np.ones((5, 3, 4)))
    assert pm.local_identifiability is local_identifiability
