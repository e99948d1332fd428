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
