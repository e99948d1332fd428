"""Progress on stderr only on a terminal and without --quiet; Ctrl-C in a sweep: one line, 130, resumable."""

import sys

import pytest

import provable_mha.sweep as sweep_module
from provable_mha.cli import args as cli_args
from provable_mha.cli import main
from provable_mha.sweep import read_results

SWEEP = ["sweep", "--m", "1", "--d", "4", "--k", "2", "--n", "40", "--n-test", "50", "--restarts", "2"]


@pytest.fixture
def tty(monkeypatch):
    """Make stderr (captured by capsys) claim to be a terminal."""
    def fake():
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    return fake


def test_sweep_progress_on_a_terminal(capsys, tty, tmp_path):
    tty()
    assert main([*SWEEP, "--seed", "0..2", "--out", str(tmp_path / "s.csv")]) == 0
    err = capsys.readouterr().err
    assert "sweep" in err and "3/3" in err and "cell" in err  # cells done/total
    assert "best test err" in err and "failed" in err
    assert "<" in err  # tqdm's elapsed<remaining (ETA)


def test_sweep_silent_when_quiet_or_not_a_terminal(capsys, tty, tmp_path):
    assert main([*SWEEP, "--seed", "0", "--out", str(tmp_path / "a.csv")]) == 0
    assert capsys.readouterr().err == ""  # pytest's capture is not a terminal
    tty()
    assert main([*SWEEP, "--seed", "0", "--out", str(tmp_path / "b.csv"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_learn_progress_follows_the_terminal(capsys, tty):
    small = ["learn", "--m", "1", "--d", "4", "--k", "2", "--n", "40", "--n-test", "50"]
    assert main(small) == 0
    assert capsys.readouterr().err == ""
    tty()
    assert main([*small, "--json"]) == 0
    captured = capsys.readouterr()
    assert "learn m=1" in captured.err and captured.out.lstrip().startswith("{")
    assert main([*small, "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_hardness_progress_after_the_delay(capsys, tty, monkeypatch):
    monkeypatch.setattr(cli_args, "PROGRESS_DELAY", 0.0)
    tty()
    assert main(["hardness", "--m", "2", "--d", "3..4"]) == 0
    assert "hardness: exact enumeration" in capsys.readouterr().err
    assert main(["hardness", "--m", "2", "--d", "3..4", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


REAL_RUN_CELL = sweep_module.run_cell


def _interrupting(after, calls):
    real = REAL_RUN_CELL

    def cell_func(cell, n_test=500, restarts=12):
        if len(calls) == after:
            raise KeyboardInterrupt
        calls.append(cell.key)
        return real(cell, n_test=n_test, restarts=restarts)
    return cell_func


def test_ctrl_c_ends_a_sweep_with_one_line_and_resumes(capsys, monkeypatch, tmp_path):
    out = tmp_path / "s.csv"
    first: list = []
    monkeypatch.setattr(sweep_module, "run_cell", _interrupting(2, first))
    assert main([*SWEEP, "--seed", "0..3", "--out", str(out)]) == 130
    captured = capsys.readouterr()
    assert captured.err == ("provable-mha sweep: interrupted after 2 of 4 cells; rerun the same command "
                            "to resume\n")
    assert "Traceback" not in captured.err + captured.out
    text = out.read_text()
    assert text.endswith("\n") and len(text.splitlines()) == 3  # header and two complete rows
    second: list = []
    monkeypatch.setattr(sweep_module, "run_cell", _interrupting(99, second))
    assert main([*SWEEP, "--seed", "0..3", "--out", str(out)]) == 0
    assert "4 cells: 2 computed now, 2 already in" in capsys.readouterr().out
    assert not set(first) & set(second) and len(second) == 2
    rows = read_results(out)
    assert sorted(int(r["seed"]) for r in rows) == [0, 1, 2, 3]


def test_ctrl_c_in_the_middle_of_a_row_leaves_no_torn_line(capsys, monkeypatch, tmp_path):
    out = tmp_path / "s.csv"
    real_append, writes = sweep_module._append, []

    def torn_append(fh, values):
        writes.append(values)
        if len(writes) == 3:  # header, one row, then half of the second row and Ctrl-C
            line = ",".join(map(str, values))
            fh.write(line[: len(line) // 2])
            fh.flush()
            raise KeyboardInterrupt
        real_append(fh, values)

    monkeypatch.setattr(sweep_module, "_append", torn_append)
    assert main([*SWEEP, "--seed", "0..2", "--out", str(out)]) == 130
    assert "interrupted after 1 of 3 cells" in capsys.readouterr().err
    text = out.read_text()
    assert text.endswith("\n") and len(text.splitlines()) == 2  # the torn half-row was dropped
    monkeypatch.setattr(sweep_module, "_append", real_append)
    assert main([*SWEEP, "--seed", "0..2", "--out", str(out)]) == 0
    assert len(read_results(out)) == 3 and len(out.read_text().splitlines()) == 4
