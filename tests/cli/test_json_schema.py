"""``learn --json`` prints exactly the keys documented in docs/cli.md, and records --rank."""

import dataclasses
import json
import re
from pathlib import Path

import pytest

import provable_mha as pm
from provable_mha.cli import main
from provable_mha.cli.report import JSON_KEYS, SUMMARY_KEYS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
SMALL = ["--m", "2", "--d", "4", "--k", "2", "--n", "60", "--n-test", "100", "--restarts", "4"]


def _documented(label: str) -> list[str]:
    """Keys in the first column of the table that follows the line starting with ``label``."""
    lines = DOC.split("\n" + label, 1)[1].splitlines()[1:]
    keys, started = [], False
    for line in lines:
        m = re.match(r"^\| `(\w+)` \|", line)
        if m:
            keys.append(m.group(1))
            started = True
        elif started and not line.startswith("|"):
            break
    assert keys, f"no table after {label!r} in docs/cli.md"
    return keys


@pytest.fixture(scope="module")
def payload():
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["learn", *SMALL, "--rank", "2", "--json"]) == 0
    return json.loads(out.getvalue())


def test_top_level_and_summary_keys_are_documented(payload):
    assert list(payload) == _documented("Top-level keys:") == list(JSON_KEYS)
    assert list(payload["summary"]) == _documented("`summary`:") == list(SUMMARY_KEYS)


def test_metrics_and_certificate_keys_are_documented(payload):
    assert set(payload["metrics"]) == set(_documented("`metrics`:"))
    cert_fields = [f.name for f in dataclasses.fields(pm.Certificate)]
    assert list(payload["certificate"]) == _documented("`certificate` (") == cert_fields


def test_json_records_rank_cell_and_summary(payload):
    assert payload["rank"] == 2 and payload["schema_version"] == 1
    assert payload["cell"] == {"m": 2, "d": 4, "k": 2, "n": 60, "scale": 1.0, "seed": 0,
                               "method": "practical", "noise": 0.0}
    s = payload["summary"]
    assert s["outcome"] == "certified" and s["certified"] and not s["vacuous"]
    assert s["information_limit"] == 8.0 and s["min_examples"] == 8  # max(2*2*4/2, 16/2), ceil(2md/k)
    assert s["n_train"] == 48 and s["n_train_over_information_limit"] == pytest.approx(6.0)
    assert str(payload["certificate"]["n_distinct_holdout"]) in s["statement"]


def test_human_summary_comes_first(capsys):
    assert main(["learn", *SMALL]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "result:     learned and CERTIFIED"
    assert lines[2].startswith("statement:  With probability at least 0.95 over the held-out draw")
    assert "x the information limit n* = 8" in lines[3] and "2md/k = 8" in lines[3]
    assert lines[4].startswith("time:       search ") and "certify" in lines[4]


def _cert(**kw):
    base = dict(certified=False, vacuous=False, statement="", assumptions=[], n_holdout=8,
                n_distinct_holdout=4, delta=0.05, epsilon=1e-8, max_residual=1e-15, rms_residual=1e-15,
                relative_error=1e-15, failure_rate_bound=1.0)
    return pm.Certificate(**{**base, **kw})


def test_pac_sentence_in_every_case():
    from provable_mha.cli.report import outcome, pac_sentence

    ok = _cert(certified=True, n_distinct_holdout=20, failure_rate_bound=0.15, param_radius=4.3e-9)
    assert outcome(ok) == "certified"
    assert pac_sentence(ok) == ("With probability at least 0.95 over the held-out draw, a fresh input has max "
                                "residual above 1e-08 with probability at most 0.15 (all 20 distinct unseen "
                                "held-out inputs fit within it), and every layer that fits the training data "
                                "in the trust region is within 4.3e-09 of the learned parameters.")
    vac = _cert(vacuous=True, statement="VACUOUS, not certified: only 4 < 6 distinct unseen held-out inputs "
                                        "[under: examples are independent]")
    assert outcome(vac) == "vacuous"
    assert pac_sentence(vac) == "The held-out check proves nothing here: only 4 < 6 distinct unseen held-out inputs."
    bad = _cert(statement="NOT certified: held-out max residual 2.75e-01 exceeds eps = 1.26e-08 on 49 inputs")
    assert outcome(bad) == "not certified"
    assert pac_sentence(bad) == ("The held-out check failed: held-out max residual 2.75e-01 exceeds "
                                 "eps = 1.26e-08 on 49 inputs.")
