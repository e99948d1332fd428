"""Quick checks of the reference learners and of the learner benchmark's smoke mode."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import provable_mha as pm
from provable_mha.baselines import adam_joint, fd_varpro_lm, squared_loss_grad
from provable_mha.learner.design import design_matrix, theta_jacobian

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "learner_vs_baselines.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("learner_vs_baselines", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def easy():
    """A planted (m, d, k) = (1, 4, 2) instance, 3x the information limit, and a test set."""
    inst = pm.planted_instance(m=1, d=4, k=2, scale=1.0, rng=11)
    X, Xt = pm.sample_boolean(12, 2, 4, 12), pm.sample_boolean(500, 2, 4, 13)
    return inst, X, inst(X), Xt, inst(Xt)


def test_analytic_gradient_matches_jacobian():
    inst = pm.planted_instance(m=2, d=4, k=3, scale=1.0, rng=1)
    X = pm.sample_boolean(7, 3, 4, 2)
    Y = inst(X) + 0.1 * np.random.default_rng(3).standard_normal(X.shape)
    th, ws = inst.thetas, inst.ws
    loss, g_th, g_ws = squared_loss_grad(th, ws, X, Y)
    R = inst(X) - Y
    assert loss == pytest.approx(0.5 * np.sum(R**2) / 7)
    np.testing.assert_allclose(g_th.ravel(), theta_jacobian(th, ws, X).T @ R.ravel() / 7, atol=1e-14)
    np.testing.assert_allclose(g_ws.reshape(8, 4), design_matrix(th, X).T @ R.reshape(21, 4) / 7,
                               atol=1e-14)


def test_fd_varpro_lm_recovers_easy_instance(easy):
    inst, X, Y, Xt, Yt = easy
    res = fd_varpro_lm(X, Y, 1, rng=5, time_cap=20)
    assert res.accepted and not res.timed_out
    assert 1 <= res.restarts <= 5
    assert pm.relative_error(res.layer, Xt, Yt) <= 1e-8


def test_adam_reduces_loss(easy):
    inst, X, Y, Xt, Yt = easy
    short = adam_joint(X, Y, 1, rng=5, restarts=1, steps=20, time_cap=20)
    longer = adam_joint(X, Y, 1, rng=5, restarts=1, steps=1000, time_cap=20)
    assert not longer.timed_out and longer.restarts == 1
    assert longer.train_relative_error < 0.1 * short.train_relative_error
    assert pm.relative_error(longer.layer, Xt, Yt) < 0.05  # measured 4e-3: fitting, not yet exact


def test_time_cap_is_a_reported_failure(easy):
    _, X, Y, _, _ = easy
    res = fd_varpro_lm(X, Y, 1, rng=5, time_cap=0.0)
    assert res.timed_out and res.restarts == 1


def test_benchmark_reproduces_learn_split(bench):
    inst = pm.planted_instance(m=1, d=4, k=2, scale=1.0, rng=0)
    n = bench.total_for(12)
    X = pm.sample_boolean(n, 2, 4, 1)
    Y = inst(X)
    res = pm.learn(X, Y, 1, rng=7, strict=False)
    tr = bench.learn_split(n, 7)
    assert res.n_train == len(tr) == 12
    assert pm.relative_error(res.layer, X[tr], Y[tr]) == pytest.approx(res.train_relative_error,
                                                                         rel=1e-6, abs=1e-14)


def test_benchmark_quick_mode_runs(bench, tmp_path, capsys):
    assert bench.main(["--quick", "--cells", "1,4,2,1", "--time-cap", "10", "--out", str(tmp_path)]) == 0
    with open(tmp_path / "raw" / "learner_quick.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["method"] for r in rows] == ["ours", "a_fd_varpro_lm", "b_adam"]
    assert set(rows[0]) == set(bench.FIELDS)
    assert all(r["n_train"] == "12" for r in rows)
    with open(tmp_path / "learner_quick.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["method"] for r in table] == ["ours", "a_fd_varpro_lm", "b_adam"]
    assert set(table[0]) == set(bench.SUMMARY) and table[1]["ratio_to_a"] == "1.0"
    assert "ratio to a" in capsys.readouterr().out
