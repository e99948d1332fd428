"""Monotone basin hopping from failed starts (learner/hopping.py)."""

from dataclasses import dataclass

import numpy as np
import pytest

import provable_mha as pm
from provable_mha.learner import hopping


@dataclass
class _Run:
    thetas: np.ndarray
    relative_residual: float


def test_kick_has_the_stated_relative_size_per_head_and_is_reproducible():
    th = np.random.default_rng(0).standard_normal((3, 4, 4)) * np.array([1.0, 5.0, 0.2])[:, None, None]
    a = hopping.Kick(3, 4, np.random.default_rng(7), scale=0.5)(th.ravel()).reshape(3, 4, 4)
    b = hopping.Kick(3, 4, np.random.default_rng(7), scale=0.5)(th.ravel()).reshape(3, 4, 4)
    np.testing.assert_array_equal(a, b)
    rel = np.linalg.norm((a - th).reshape(3, -1), axis=1) / np.linalg.norm(th.reshape(3, -1), axis=1)
    np.testing.assert_allclose(rel, 0.5, rtol=1e-12)
    assert not hasattr(hopping.Kick(3, 4, np.random.default_rng(0)), "stepsize")  # scipy would adapt it


def test_chain_makes_exactly_patience_hops_when_none_improves_and_returns_the_start():
    first = _Run(np.ones((2, 3, 3)), 0.5)
    calls = []

    def worse(t):
        calls.append(t.copy())
        return _Run(t, 0.6)

    out = hopping.hop_chain(first, worse, 2, 3, 1e-10, np.random.default_rng(0), patience=7)
    assert out is first and len(calls) == 7
    assert all(np.linalg.norm(c - first.thetas) > 0 for c in calls)  # every hop is kicked from the start


def test_chain_is_monotone_and_stops_at_the_first_accepted_hop():
    first = _Run(np.ones((1, 2, 2)), 0.5)
    costs = iter([0.7, 0.4, 0.45, 0.3, 1e-12, 0.0])
    seen = []

    def search(t):
        run = _Run(t, next(costs))
        seen.append(run.relative_residual)
        return run

    out = hopping.hop_chain(first, search, 1, 2, 1e-10, np.random.default_rng(0), patience=5)
    assert out.relative_residual == 1e-12 and seen == [0.7, 0.4, 0.45, 0.3, 1e-12]


def test_no_hops_from_an_accepted_start_or_with_patience_zero():
    def never(t):
        raise AssertionError("no hop expected")

    acc, rej = _Run(np.ones((1, 2, 2)), 1e-12), _Run(np.ones((1, 2, 2)), 0.5)
    assert hopping.hop_chain(acc, never, 1, 2, 1e-10, np.random.default_rng(0), patience=5) is acc
    assert hopping.hop_chain(rej, never, 1, 2, 1e-10, np.random.default_rng(0), patience=0) is rej


def test_patience_rule_hops_only_on_small_layers():
    assert hopping.hop_patience(2, 8) == hopping.HOP_PATIENCE
    assert hopping.hop_patience(8, 8) == hopping.HOP_PATIENCE  # m d^2 = 512, the bound itself
    assert hopping.hop_patience(8, 64) == 0
    assert hopping.hop_patience(8, 64, 3) == 3


def _few_examples():
    """(2, 8, 16) with 3 training examples (1.5 n*): random starts alone do not find it."""
    layer = pm.planted_instance(2, 8, 16, rng=2)
    X = pm.sample_boolean(13, 16, 8, 2)
    return layer, X, layer(X)


def test_hops_recover_a_layer_that_the_same_starts_without_hops_miss():
    layer, X, Y = _few_examples()
    kw = {"rng": 2, "holdout": 10 / 13, "restarts": 5, "strict": False}
    without = pm.learn(X, Y, 2, hops=0, **kw)
    assert not without.certificate.certified
    res = pm.learn(X, Y, 2, **kw)
    assert res.certificate.certified and res.phases[0].sizes["hops"] > 0
    assert res.phases[0].info["runs"][-1]["start"].endswith("+hops")
    Xt = pm.sample_boolean(200, 16, 8, 5)
    assert np.linalg.norm(res.layer(Xt) - layer(Xt)) <= 1e-8 * np.linalg.norm(layer(Xt))


@pytest.mark.parametrize("bad", [-1, 1.5, "40", True])
def test_hops_option_is_validated(bad):
    layer, X, Y = _few_examples()
    with pytest.raises(ValueError, match="hops"):
        pm.learn(X, Y, 2, hops=bad)
