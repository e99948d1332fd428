import argparse

import numpy as np
import pytest

import provable_mha as pm
from provable_mha.cli.args import int_range
from provable_mha.cli.hardness import register
from provable_mha.hardness import (
    cost_instances,
    family_conditions,
    format_cost_table,
    format_family_conditions,
    learner_cost,
    parity_family,
    parity_secrets,
    plot_cost,
)

parse_range = int_range(1)


def test_parity_families_violate_the_structural_conditions():
    for m in (2, 3, 4):
        summary = family_conditions(parity_family(m, 7), k=2)
        D = summary["members"]
        for name in ("sum_w_conditioning", "theta_independence", "w_independence",
                     "attention_not_uniform", "theta_norm_bound"):
            assert summary["failed"][name] == D, (m, name)
        assert summary["values"]["theta_independence"] == (0.0, 0.0)  # collinear Thetas
        assert "theta_independence" in format_family_conditions(summary)
    planted = pm.planted_instance(3, 7, k=2, rng=0)
    assert family_conditions([((), planted)], k=2)["failed"]["theta_independence"] == 0


class _Result:
    def __init__(self, layer, searched):
        self.layer = layer
        self.phases = {"search": {"search_size": searched}}


def _make_stand_in(d, m_values, seed):
    """Exhaustive search over known Theta candidates + least-squares W-step.

    Candidates: the planted Thetas first, then every parity-family member. The W-step solves
    Y = sum_i A_i(X) X W_i for W by least squares; a candidate is accepted when the relative
    training residual is < 1e-9. The reported search size is the number of candidates tried.
    """
    cands = {m: [cost_instances(m, d, seed)["planted"].thetas]
             + [layer.thetas for _, layer in parity_family(m, d)] for m in m_values}

    def learner(X, Y, m, rng=None):
        n, k, dd = X.shape
        for tried, th in enumerate(cands[m], start=1):
            A = pm.MultiHeadAttention(th, np.zeros_like(th)).attention(X)  # (n, m, k, k)
            feats = np.einsum("nmab,nbd->namd", A, X).reshape(n * k, m * dd)
            W, *_ = np.linalg.lstsq(feats, Y.reshape(n * k, dd), rcond=None)
            if np.linalg.norm(feats @ W - Y.reshape(n * k, dd)) <= 1e-9 * np.linalg.norm(Y):
                ws = W.reshape(m, dd, dd)
                return _Result(pm.MultiHeadAttention(th, ws), tried)
        raise pm.LearnError("no candidate fits")

    return learner


def test_learner_cost_with_stand_in(tmp_path):
    d, ms, seed = 6, (2, 3, 4), 0
    rows = learner_cost(ms, d, learner=_make_stand_in(d, ms, seed), n_test=200, tol=1e-8,
                        seed=seed)
    assert [(r.kind, r.m) for r in rows] == [(k, m) for m in ms for k in ("parity", "planted")]
    for r in rows:
        assert r.success and r.test_error <= 1e-8 and r.examples == 2 * r.m * d
        if r.kind == "planted":
            assert r.search_size == 1
        else:  # position of the secret in the family, +1 for the planted candidate first
            layer = cost_instances(r.m, d, seed)["parity"]
            idx = [S for S in parity_secrets(r.m, d)].index(
                tuple(int(b) for b in np.nonzero(np.diag(layer.thetas[1]))[0]))
            assert r.search_size == idx + 2
    text = format_cost_table(rows)
    assert "search" in text and len(text.splitlines()) == 1 + len(rows)
    path = tmp_path / "cost.png"
    plot_cost(rows, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_learner_failures_are_recorded():
    def broken(X, Y, m, rng=None):
        raise pm.LearnError("nope")

    rows = learner_cost([2], 4, learner=broken, n_grid=[8, 16], n_test=50)
    assert all(not r.success and r.examples is None and "LearnError: nope" in r.note for r in rows)
    with pytest.raises(ValueError, match="d = 3 is too small"):
        learner_cost([4], 3, learner=broken)


def _parser():
    p = argparse.ArgumentParser(prog="provable-mha")
    sub = p.add_subparsers(dest="command", required=True)
    register(sub)
    return p


def test_cli_prints_table(capsys):
    args = _parser().parse_args(["hardness", "--m", "2..3", "--d", "5", "--conditions"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    lines = [ln.split() for ln in out.splitlines() if ln.strip()[:1].isdigit()]
    assert [(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in lines[:2]] == [(2, 5, 4, 4),
                                                                                   (3, 5, 6, 6)]
    assert "8..8" in out and "theta_independence" in out


def test_cli_range_parsing_and_errors(capsys):
    assert parse_range("2..5") == [2, 3, 4, 5]
    assert parse_range("3") == [3] and parse_range("2,4") == [2, 4]
    for bad in ("5..2", "a..b", "0", "2..x"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_range(bad)
    with pytest.raises(SystemExit):
        _parser().parse_args(["hardness", "--m", "5..2"])
    assert "empty range" in capsys.readouterr().err
    args = _parser().parse_args(["hardness", "--d", "9"])
    with pytest.raises(ValueError, match="d must be <= 8"):
        args.func(args)
    args = _parser().parse_args(["hardness", "--m", "6", "--d", "4"])
    with pytest.raises(ValueError, match="no \\(m, d\\)"):
        args.func(args)
