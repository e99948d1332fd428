"""The ``provable-mha`` command line: demo, learn (table and JSON), exit codes, wiring, sweep."""

import json
import subprocess
import sys

import pytest

import provable_mha as pm
from provable_mha.cli import build_parser, main

SMALL = ["--m", "1", "--d", "4", "--k", "2", "--n", "40", "--n-test", "100", "--restarts", "2"]


def test_demo_learns_and_certifies(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "conditions for m=2, d=8, k=4: PASS" in out
    assert "24 to train" in out and "60 held out" in out  # 3x the information limit 2md/k = 8
    assert "certified: yes" in out
    test_err = float(out.split("    test     ")[1].split()[0])
    assert test_err < 1e-6


def test_learn_json_is_machine_readable(capsys, tmp_path):
    out_file = tmp_path / "res.npz"
    assert main(["learn", *SMALL, "--seed", "3", "--json", "--save", str(out_file)]) == 0
    payload = json.loads(capsys.readouterr().out)  # nothing but JSON on stdout
    assert payload["cell"] == {"m": 1, "d": 4, "k": 2, "n": 40, "scale": 1.0, "seed": 3,
                               "method": "practical", "noise": 0.0}
    mt = payload["metrics"]
    assert mt["status"] == "ok" and mt["test_error"] < 1e-8 and mt["head_error"] < 1e-6
    assert mt["n_train"] + mt["n_holdout"] == 40
    assert [p["name"] for p in payload["phases"]][-1] == "certify"
    assert payload["certificate"]["certified"] is True
    res = pm.load(out_file)
    assert isinstance(res, pm.LearnResult) and res.m == 1
    planted = pm.planted_instance(1, 4, 2, rng=3)
    assert pm.match_heads(planted, res.layer).max_error == pytest.approx(mt["head_error"])


def test_learn_table_and_noise(capsys):
    assert main(["learn", *SMALL, "--noise", "0.01"]) == 0
    out = capsys.readouterr().out
    for word in ("phase", "search", "certify", "held-out", "test", "heads matched", "certificate"):
        assert word in out
    test_err = float(out.split("    test     ")[1].split()[0])
    assert 1e-5 < test_err < 0.1  # noise 0.01 leaves an error of the noise's order


@pytest.mark.parametrize("argv, message", [
    (["learn", "--m", "0"], "--m: must be >= 1"),
    (["learn", "--noise", "-1"], "--noise: must be a finite number >= 0"),
    (["learn", "--noise", "nan"], "--noise: must be finite"),
    (["learn", "--holdout", "1.5"], "fraction in (0, 1)"),
    (["learn", "--method", "exact"], "invalid choice"),
    (["learn", "--m", "2", "--d", "8", "--k", "4", "--scale", "0"], "met the conditions"),
    (["sweep", "--out", "x.csv", "--seed", "1..a"], "expected an integer"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err


def test_learn_failure_exits_1(capsys):
    assert main(["learn", "--m", "2", "--d", "8", "--k", "4", "--n", "5"]) == 1
    err = capsys.readouterr().err
    assert "learning failed" in err and "too few examples" in err


def test_subcommands_are_wired():
    parser = build_parser()
    names = set(parser._subparsers._group_actions[0].choices)
    assert names == {"demo", "learn", "hardness", "gd", "sweep", "export", "score"}
    assert main(["--help"]) == 0


def test_hardness_and_gd_run(capsys):
    assert main(["hardness", "--m", "2..3", "--d", "5"]) == 0
    out = capsys.readouterr().out
    assert "parity family" in out and out.count("\n") >= 3
    assert main(["gd", "--H", "1,2", "--n", "20", "--n-test", "40", "--T", "4", "--d", "4",
                 "--steps", "5", "--seeds", "1"]) == 0
    assert "heads experiment" in capsys.readouterr().out


def test_sweep_resumes_from_cli(capsys, tmp_path):
    out = tmp_path / "s.csv"
    base = ["sweep", "--m", "1", "--d", "4", "--k", "2", "--n", "12", "--n-test", "50",
            "--restarts", "2", "--out", str(out)]
    assert main([*base, "--seed", "0"]) == 0
    assert main([*base, "--seed", "0..2", "--plot", str(tmp_path / "s.png")]) == 0
    text = capsys.readouterr().out
    assert "3 cells: 2 computed now, 1 already in" in text
    assert (tmp_path / "s.png").stat().st_size > 1000
    lines = out.read_text().splitlines()
    assert len(lines) == 4 and len(set(lines)) == 4


def test_console_script_entry_point():
    proc = subprocess.run([sys.executable, "-m", "provable_mha.cli", "learn", "--m", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "must be >= 1" in proc.stderr and proc.stdout == ""


def test_learn_structured_plot_draws_the_body(tmp_path, capsys):
    out = tmp_path / "body.png"
    assert main(["learn", "--method", "structured", "--m", "1", "--d", "4", "--k", "3", "--n", "40",
                 "--n-test", "50", "--plot", str(out), "-q"]) == 0
    assert out.stat().st_size > 1000 and out.read_bytes()[:4] == b"\x89PNG"
    assert main(["learn", "--plot", str(tmp_path / "x.png"), "--n", "40", "-q"]) == 2  # practical: no body
    assert "--method structured" in capsys.readouterr().err
