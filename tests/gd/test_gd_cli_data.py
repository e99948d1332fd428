"""The gd subcommand (through register on a fresh parser), the data models and the NTK SOCP."""

import argparse

import numpy as np
import pytest

from provable_mha import gd
from provable_mha.cli.gd import register


def _parser():
    p = argparse.ArgumentParser(prog="provable-mha")
    register(p.add_subparsers(dest="command", required=True))
    return p


def test_gd_subcommand_runs_and_writes_files(tmp_path, capsys):
    args = _parser().parse_args(["gd", "--H", "1,2", "--n", "40", "--n-test", "100", "--T", "4",
                                 "--d", "6", "--steps", "20", "--seeds", "2",
                                 "--csv", str(tmp_path / "h.csv"),
                                 "--plot", str(tmp_path / "h.png")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "train loss" in out and out.count("\n") >= 5
    assert (tmp_path / "h.png").stat().st_size > 1000
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines[0].startswith("H,train_loss") and len(lines) == 3


@pytest.mark.parametrize("argv", [["gd", "--H", "0,2"], ["gd", "--H", "a"],
                                  ["gd", "--normalization", "l1"], ["gd", "--lr", "fast"],
                                  ["gd", "--lr", "-1"]])
def test_gd_subcommand_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(argv)
    assert "error" in capsys.readouterr().err


def test_gd_subcommand_safe_step(capsys):
    args = _parser().parse_args(["gd", "--H", "1,4", "--n", "30", "--n-test", "50", "--T", "4",
                                 "--d", "5", "--steps", "5", "--seeds", "1", "--lr", "safe"])
    assert args.lr == "safe" and args.func(args) == 0
    assert "lr=safe" in capsys.readouterr().out


def test_gd_subcommand_bad_values_raise_valueerror():
    args = _parser().parse_args(["gd", "--n", "0"])
    with pytest.raises(ValueError, match="n must be >= 1"):
        args.func(args)


def test_tokenized_mixture_structure():
    data = gd.tokenized_mixture(500, 6, 8, signal_tokens=2, n_noise_clusters=3,
                                signal_strength=2.0, noise_std=0.0, rng=0)
    X, y = data
    mu = data.info["means"]
    np.testing.assert_allclose(mu @ mu.T, 4.0 * np.eye(4), atol=1e-12)   # orthogonal, norm 2
    mask = data.info["signal_mask"]
    assert np.all(mask.sum(1) == 2)
    np.testing.assert_allclose(X[mask], (y[:, None] * np.ones((1, 6)))[mask][:, None] * mu[0])
    noise_tok = X[~mask]
    assert np.allclose(np.min(np.linalg.norm(noise_tok[:, None] - mu[1:], axis=-1), 1), 0)
    first = gd.tokenized_mixture(50, 4, 5, signal_first=True, rng=1)
    assert first.info["signal_mask"][:, 0].all()


def test_tokenized_mixture_label_noise_rate_binomial():
    """Flip rate matches label_noise: binomial test at level 1e-3 over a fixed seed."""
    from scipy.stats import binomtest

    data = gd.tokenized_mixture(4000, 2, 3, label_noise=0.2, rng=5)
    flips = int(np.sum(data.y != data.info["clean_y"]))
    assert binomtest(flips, 4000, 0.2).pvalue > 1e-3
    labels = int(np.sum(data.y > 0))
    assert binomtest(labels, 4000, 0.5).pvalue > 1e-3


@pytest.mark.parametrize("kwargs, msg", [
    ({"signal_tokens": 9}, "signal_tokens must be <="),
    ({"n_noise_clusters": 8}, "n_noise_clusters must be <="),
    ({"label_noise": 1.5}, "label_noise"),
    ({"noise_std": -1.0}, "noise_std"),
])
def test_tokenized_mixture_rejects_bad_input(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        gd.tokenized_mixture(10, 4, 8, **kwargs)


def test_planted_teacher_labels_are_the_teacher_signs():
    data = gd.planted_teacher(200, 5, 6, H=3, rng=0)
    t = data.info["teacher"]
    np.testing.assert_array_equal(data.y, np.where(t(data.X) >= 0, 1.0, -1.0))
    test = gd.planted_teacher(50, 5, 6, teacher=t, tokens="mixture", rng=1)
    assert test.info["teacher"] is t
    with pytest.raises(ValueError, match="tokens"):
        gd.planted_teacher(5, 2, 3, tokens="uniform")


def test_ntk_margin_matches_two_point_closed_form():
    """For two examples the max margin is the norm of the min-norm point of the segment
    [y1 f1, y2 f2] (hard-margin SVM duality)."""
    rng = np.random.default_rng(0)
    m = gd.MHAClassifier(2, 3, rng=1)
    X = rng.standard_normal((2, 3, 3))
    y = np.array([1.0, -1.0])
    F = y[:, None] * gd.ntk_features(m, X)
    a, b = F
    t = np.clip((b - a) @ b / ((b - a) @ (b - a)), 0, 1)
    p = t * a + (1 - t) * b
    res = gd.ntk_margin(m, X, y)
    assert res.gamma == pytest.approx(np.linalg.norm(p), rel=1e-6)
    assert res.achieved == pytest.approx(res.gamma, rel=1e-6)
    assert np.linalg.norm(res.direction) <= 1 + 1e-9


def test_ntk_margin_non_separable_and_zero_features():
    m = gd.MHAClassifier(2, 3, rng=1)
    X = np.random.default_rng(0).standard_normal((1, 3, 3))
    X2 = np.concatenate([X, X])
    res = gd.ntk_margin(m, X2, np.array([1.0, -1.0]))  # identical inputs, opposite labels
    assert res.gamma == pytest.approx(0.0, abs=1e-7) and not res.separable
    zero = gd.ntk_margin(m, np.zeros((2, 3, 3)), np.array([1.0, -1.0]))
    assert zero.gamma == 0 and zero.status == "zero_features"


def test_heads_plot_is_drawn_by_plotting(tmp_path, monkeypatch):
    """gd draws no figures: HeadsExperiment.plot delegates to plotting.plot_heads_experiment."""
    from pathlib import Path

    from provable_mha import plotting

    exp = gd.heads_experiment([1, 2], n=20, n_test=30, T=3, d=4, steps=3, seeds=2)
    calls = []
    real = plotting.plot_heads_experiment
    monkeypatch.setattr(plotting, "plot_heads_experiment",
                        lambda result, ax=None, path=None: calls.append(result) or real(result, ax, path))
    out = tmp_path / "heads.png"
    assert exp.plot(out) == out and out.stat().st_size > 1000
    assert calls == [exp]
    sources = Path(gd.__file__).parent.glob("*.py")
    assert not [p.name for p in sources if "matplotlib" in p.read_text()]
