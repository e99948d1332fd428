import numpy as np
import pytest
from hypothesis import given

import provable_mha as pm
from provable_mha.testing import planted_layers


@given(planted_layers())
def test_planted_layers_pass_their_conditions(layer_k):
    layer, k = layer_k
    rep = pm.check_conditions(layer, k)
    assert rep.passed, str(rep)
    names = {c.name for c in rep}
    assert {"sum_w_conditioning", "theta_independence", "head_separation", "theta_norm_bound",
            "attention_not_uniform", "attention_not_one_hot"} <= names


@pytest.mark.parametrize("m, d, k", [(1, 8, 4), (2, 8, 4), (3, 8, 4), (2, 16, 8), (4, 16, 8)])
@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_target_instances_exist_and_are_reproducible(m, d, k, scale):
    a = pm.planted_instance(m, d, k, scale, rng=5)
    assert a == pm.planted_instance(m, d, k, scale, rng=5)
    assert pm.check_conditions(a, k).passed


def test_low_rank_instance():
    layer = pm.planted_instance(2, 8, 4, 1.0, rng=0, rank=4)
    assert all(np.linalg.matrix_rank(t) <= 4 for t in layer.thetas)
    assert all(np.linalg.matrix_rank(w) <= 4 for w in layer.ws)
    with pytest.raises(ValueError, match="rank"):
        pm.planted_instance(2, 8, 4, rng=0, rank=2)


def test_degenerate_layers_fail_the_right_conditions():
    d = 5
    rng = np.random.default_rng(0)
    th = rng.standard_normal((d, d)) / d
    w = rng.standard_normal((d, d)) / np.sqrt(d)
    twins = pm.MultiHeadAttention(np.stack([th, th]), np.stack([w, w]))
    rep = pm.check_conditions(twins, 3)
    assert not rep.passed
    assert {"theta_independence", "w_independence", "head_separation"} <= set(rep.failed)
    uniform = pm.MultiHeadAttention(np.zeros((1, d, d)), w[None])
    assert "attention_not_uniform" in pm.check_conditions(uniform, 3).failed
    sharp = pm.MultiHeadAttention(200 * np.eye(d)[None], w[None])
    failed = pm.check_conditions(sharp, 3).failed
    assert "attention_not_one_hot" in failed and "theta_norm_bound" in failed
    with pytest.raises(ValueError, match="no planted layer"):
        pm.planted_instance(2, 6, 3, scale=0.0, rng=0)


def test_report_api_and_thresholds():
    layer = pm.planted_instance(2, 8, 4, rng=0)
    rep = pm.check_conditions(layer, 4)
    assert rep["theta_norm_bound"].value == pytest.approx(np.linalg.norm(layer.thetas.reshape(2, -1), axis=1).max())
    assert "PASS" in str(rep)
    assert rep.to_dict()["passed"] is True
    strict = pm.check_conditions(layer, 4, thresholds={"theta_norm_bound": 1e-3})
    assert strict.failed == ["theta_norm_bound"]
    with pytest.raises(ValueError, match="unknown condition"):
        pm.check_conditions(layer, 4, thresholds={"nope": 1})
    with pytest.raises(ValueError, match="k must be"):
        pm.check_conditions(layer, 0)


@pytest.mark.parametrize("m, d", [(20, 4), (5, 2), (10, 3)])
def test_more_heads_than_d_squared_are_dependent(m, d):
    """With m > d^2 the m vectorised heads in R^{d^2} are dependent: sigma_m = 0, the conditions fail."""
    rng = np.random.default_rng(0)
    layer = pm.MultiHeadAttention(rng.standard_normal((m, d, d)), rng.standard_normal((m, d, d)))
    rep = pm.check_conditions(layer, 4)
    assert rep["theta_independence"].value == 0.0 and rep["w_independence"].value == 0.0
    assert {"theta_independence", "w_independence"} <= set(rep.failed) and not rep.passed


@pytest.mark.parametrize("m, d", [(4, 2), (3, 3), (2, 5)])
def test_independence_is_sigma_m_over_the_largest_norm(m, d):
    rng = np.random.default_rng(1)
    layer = pm.MultiHeadAttention(rng.standard_normal((m, d, d)), rng.standard_normal((m, d, d)))
    flat = layer.thetas.reshape(m, -1)
    expected = np.linalg.svd(flat @ flat.T, compute_uv=False)[m - 1] ** 0.5 / np.linalg.norm(flat, axis=1).max()
    assert pm.check_conditions(layer, 3)["theta_independence"].value == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("factor", [1e-200, 1e-100, 1e100, 1e300])
def test_relative_conditions_do_not_depend_on_the_scale(factor):
    """Scale-invariant conditions give the same value for W -> c W at any c (no overflow/underflow)."""
    layer = pm.planted_instance(2, 4, 3, rng=0)
    ref = pm.check_conditions(layer, 3)
    rep = pm.check_conditions(pm.MultiHeadAttention(layer.thetas, factor * layer.ws), 3)
    for name in ("sum_w_conditioning", "w_independence", "head_separation", "attention_not_uniform"):
        assert rep[name].value == pytest.approx(ref[name].value, rel=1e-12), name
    assert rep["w_norm_bound"].value == pytest.approx(factor * ref["w_norm_bound"].value, rel=1e-12)


def test_resource_limits_are_checked_before_allocation(monkeypatch):
    import math

    import provable_mha._validation as val

    layer = pm.planted_instance(2, 8, 4, rng=0)
    with pytest.raises(ValueError, match=r"check_conditions\(m = 2, d = 8, k = 1000000\) would allocate about "
                                         r"[0-9.e+]+ GiB, above the memory limit of 4 GiB"):
        pm.check_conditions(layer, k=1_000_000)
    with pytest.raises(ValueError, match="memory limit"):
        pm.check_conditions(layer, 4, memory_limit=1000)
    assert pm.check_conditions(layer, 4, memory_limit=math.inf).passed
    monkeypatch.setattr(val, "MEMORY_LIMIT", 1000)
    with pytest.raises(ValueError, match="memory limit"):
        pm.check_conditions(layer, 4)
    with pytest.raises(ValueError, match="memory limit"):
        pm.planted_instance(2, 8, 4)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="planted_instance.*memory limit"):
        pm.planted_instance(2, 100_000, 4)
    with pytest.raises(ValueError, match="memory_limit must be"):
        pm.check_conditions(layer, 4, memory_limit=float("nan"))


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 2.0}, "k must be an integer"), ({"k": True}, "k must be an integer"), ({"k": -1}, "k must be >= 1"),
    ({"thresholds": {"theta_norm_bound": float("nan")}}, "must be finite"),
    ({"thresholds": {"theta_norm_bound": True}}, "must be a real number"),
    ({"thresholds": {"theta_norm_bound": "10"}}, "must be a real number"),
    ({"thresholds": [("theta_norm_bound", 1.0)]}, "thresholds must be a dict"),
])
def test_check_conditions_arguments(kwargs, match):
    layer = pm.planted_instance(1, 3, 2, rng=0)
    with pytest.raises(ValueError, match=match):
        pm.check_conditions(layer, **{"k": 2, **kwargs})


@pytest.mark.parametrize("kwargs, match", [
    ({"scale": True}, "scale must be a real number"), ({"scale": float("nan")}, "scale must be finite"),
    ({"scale": float("inf")}, "scale must be finite"), ({"scale": -1.0}, "scale must be >= 0"),
    ({"scale": "1"}, "scale must be a real number"), ({"m": 2.0}, "m must be an integer"),
    ({"d": 0}, "d must be >= 1"), ({"rank": 1.5}, "rank must be an integer"), ({"rank": 9}, "rank must be <= d"),
    ({"rng": 0.5}, "rng must be"), ({"rng": -3}, "rng seed must be non-negative"),
])
def test_planted_instance_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pm.planted_instance(**{"m": 2, "d": 8, "k": 4, **kwargs})
