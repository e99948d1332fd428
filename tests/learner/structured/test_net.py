"""The sculpt route (m*k <= d): recovery, rounds, the gating W-step LP and diagnosed failures."""

import numpy as np
import pytest

import provable_mha as pm
from provable_mha.learner.structured.net import w_step_lp
from provable_mha.testing import planted_data


def _sculpt(X, Y, m, **kw):
    return pm.learn(X, Y, m, method="structured", route="sculpt", rng=0, cvxpy_widths=False, **kw)


def test_one_head_end_to_end():
    inst, X, Y = planted_data(1, 8, 4, 50, 0)
    res = _sculpt(X, Y, 1)
    assert pm.match_heads(inst, res.layer).max_error < 1e-6 and res.certificate.certified
    phases = [r["phase"] for r in res.rounds]
    assert phases == ["moments", "span", "g-polytope", "heads", "theta-bodies", "body"]
    assert res.rounds[4]["lp_max_residual"] < 1e-8


def test_two_heads_span_found_from_data():
    # the instance on which the ALS span step used to stall (residual 7.7e-2)
    inst = pm.planted_instance(2, 8, 4, 1.0, rng=7)
    X = pm.sample_boolean(125, 4, 8, 8)
    res = _sculpt(X, inst(X), 2)
    assert res.rounds[1]["relative_residual"] < 1e-10
    assert pm.match_heads(inst, res.layer).max_error < 1e-8
    assert res.certificate.param_radius is not None


def test_net_route_finds_the_heads(monkeypatch):
    # force the fallback: with a net instead of the vertices the same heads come out
    import provable_mha.learner.structured.net as net

    orig = net.polytope_vertices

    def unclean(P, **kw):
        v = orig(P, **kw)
        v.clean = False
        return v

    monkeypatch.setattr(net, "polytope_vertices", unclean)
    inst, X, Y = planted_data(2, 8, 4, 100, 2)
    res = _sculpt(X, Y, 2)
    heads = res.phase("heads")
    assert heads.info["route"] == "net" and heads.info["net_size"] >= 2
    assert pm.match_heads(inst, res.layer).max_error < 1e-8


def test_w_step_lp_is_zero_at_truth_and_positive_off_it():
    inst, X, Y = planted_data(2, 8, 4, 20, 4)
    t0, W, info = w_step_lp(np.asarray(inst.thetas), X, Y)
    assert t0 < 1e-7 and info.solver == "HIGHS"
    t1, _, _ = w_step_lp(np.asarray(inst.thetas) * 1.3, X, Y)
    assert t1 > 1e-3


def test_errors_are_diagnosed():
    inst, X, Y = planted_data(2, 8, 4, 60, 0)
    with pytest.raises(pm.LearnError, match="m\\*k <= d"):
        _sculpt(X, Y, 3)
    # labels not realizable by 2 heads: random outputs -> no span, no certificate
    Yr = np.random.default_rng(0).standard_normal(Y.shape)
    with pytest.raises(pm.LearnError):
        _sculpt(X, Yr, 2)
