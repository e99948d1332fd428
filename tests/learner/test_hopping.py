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
    evaluations: int = 10


def test_kick_has_the_stated_relative_size_per_head_and_is_reproducible():
    th = np.random.default_rng(0).standard_normal((3, 4, 4)) * np.array([1.0, 5.0, 0.2])[:, None, None]
    a = hopping.Kick(np.random.default_rng(7), scale=0.5)(th)
    b = hopping.Kick(np.random.default_rng(7), scale=0.5)(th)
    np.testing.assert_array_equal(a, b)
    rel = np.linalg.norm((a - th).reshape(3, -1), axis=1) / np.linalg.norm(th.reshape(3, -1), axis=1)
    np.testing.assert_allclose(rel, 0.5, rtol=1e-12)


def _starts(costs, evaluations=10):
    return (_Run(np.full((1, 2, 2), float(i + 1)), c, evaluations) for i, c in enumerate(costs))


def _hops(costs, evaluations=10):
    seen, it = [], iter(costs)

    def hop(t):
        run = _Run(t, next(it), evaluations)
        seen.append(run)
        return run
    return hop, seen


def _events(starts, hop, patience, threshold=1e-10, share=1.0, after=1):
    kick = hopping.Kick(np.random.default_rng(0))
    return [(k, r.relative_residual, b.relative_residual)
            for k, r, b in hopping.dovetail(starts, hop, kick, threshold, patience, share, after)]


def test_hops_and_starts_alternate_by_evaluations_and_chains_are_monotone():
    hop, _ = _hops([0.7, 0.4, 0.45, 0.3])
    ev = _events(_starts([0.5, 0.6, 0.8, 0.9]), hop, patience=5)
    # start (chain opens at 0.5), hop (the hops have cost less), start, hop, ...; the starts run
    # out after the fourth start's hop: the hops never cost more than the starts
    assert [k for k, *_ in ev] == ["start", "hop"] * 4
    chain = [b for k, _, b in ev if k == "hop"]
    assert chain == [0.5, 0.4, 0.4, 0.3]


def test_a_chain_ends_after_patience_hops_without_progress_and_the_next_failed_start_opens_one():
    hop, seen = _hops([0.9] * 3 + [0.8] * 10, evaluations=1)
    ev = _events(_starts([0.5] * 4, evaluations=100), hop, patience=3)
    # cheap hops: the first chain makes its 3 hops before the second start; that start opens chain 2
    assert [k for k, *_ in ev][:5] == ["start", "hop", "hop", "hop", "start"]
    assert ev[5][0] == "hop" and ev[5][2] == 0.5 and len(seen) == 3 * 4  # one chain per start, 3 hops each
    assert ev[-1][0] == "hop"  # the fourth start's chain ends, and with no start left, so does the search


def test_the_hops_share_of_the_evaluations_is_bounded_by_share_times_the_starts():
    hop, seen = _hops([0.9] * 100, evaluations=3)
    ev = _events(_starts([0.5] * 5, evaluations=10), hop, patience=1000, share=4.0)
    spent = 3 * len(seen)
    assert 4.0 * 50 <= spent < 4.0 * 50 + 3  # every start's share used, never one hop more
    assert [k for k, *_ in ev][:15] == ["start"] + ["hop"] * 14  # 14 hops of 3 before 4 x 10 is passed


def test_the_first_chain_opens_at_the_after_th_failed_start_and_then_gets_the_whole_share():
    hop, seen = _hops([0.9] * 100, evaluations=10)
    ev = _events(_starts([0.5, 0.6, 0.3, 0.7], evaluations=10), hop, patience=1000, share=1.0, after=3)
    kinds = [k for k, *_ in ev]
    # no hop before the third failed start; that start (0.3) opens the chain, whose hops then catch
    # up with the share of all three starts before the fourth start runs
    assert kinds == ["start"] * 3 + ["hop"] * 3 + ["start", "hop"]
    assert all(b == 0.3 for k, _, b in ev if k == "hop")
    ev = _events(_starts([1e-12]), _hops([])[0], patience=5, after=1)
    assert ev == [("start", 1e-12, 1e-12)]  # an accepted start opens nothing
    assert hopping.HOP_AFTER >= 1


def test_search_stops_at_the_first_accepted_run_whichever_kind():
    hop, seen = _hops([0.4, 1e-12, 0.0])
    ev = _events(_starts([0.5, 0.6, 0.7]), hop, patience=5)
    assert ev[-1][:2] == ("hop", 1e-12) and len(seen) == 2
    ev = _events(_starts([0.5, 1e-12, 0.7]), _hops([0.6] * 5)[0], patience=5)
    assert ev[-1][:2] == ("start", 1e-12)


def test_patience_zero_is_the_starts_alone():
    def never(t):
        raise AssertionError("no hop expected")

    ev = _events(_starts([0.5, 0.6, 0.7]), never, patience=0)
    assert [k for k, *_ in ev] == ["start"] * 3


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
    kw = {"rng": 2, "holdout": 10 / 13, "restarts": 40, "strict": False}
    without = pm.learn(X, Y, 2, hops=0, **kw)
    assert not without.certificate.certified
    res = pm.learn(X, Y, 2, **kw)
    assert res.certificate.certified and res.phases[0].sizes["hops"] > 0
    assert res.phases[0].info["runs"][-1]["start"] == "hop"
    Xt = pm.sample_boolean(200, 16, 8, 5)
    assert np.linalg.norm(res.layer(Xt) - layer(Xt)) <= 1e-8 * np.linalg.norm(layer(Xt))


@pytest.mark.parametrize("bad", [-1, 1.5, "40", True])
def test_hops_option_is_validated(bad):
    layer, X, Y = _few_examples()
    with pytest.raises(ValueError, match="hops"):
        pm.learn(X, Y, 2, hops=bad)
