"""Fuzzing the command line: malformed argument lists exit 2 with one line, valid ones exit 0.

Options and their types are read from ``build_parser()``, so every command (including ones added
later) is covered. A malformed list is a cheap valid base command with one defect: a value no
option of that type accepts, a missing value, an unknown option, a value given to a flag, a bad
choice, or an output path that cannot be written. Every case runs in a temporary directory that
also holds an existing result file and CSV store; afterwards they must be byte-for-byte the same
and nothing else may exist. Hypothesis draws the cases (profile ``ci``: few, ``thorough``: 300);
a deterministic sweep over every option of every command runs as well.
"""

import argparse
import contextlib
import io
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provable_mha.cli import build_parser, main

PARSER = build_parser()
COMMANDS = dict(next(a for a in PARSER._actions if isinstance(a, argparse._SubParsersAction)).choices)

#: Cheap valid argument lists ({tmp} is the example's directory); commands not listed here are
#: fuzzed through their parser only.
BASE = {
    "demo": ["--m", "1", "--d", "4", "--k", "2", "--n-test", "50", "--restarts", "2"],
    "learn": ["--m", "1", "--d", "4", "--k", "2", "--n", "40", "--n-test", "50", "--restarts", "2"],
    "hardness": ["--m", "2", "--d", "3"],
    "gd": ["--H", "1", "--n", "10", "--n-test", "10", "--T", "2", "--d", "2", "--steps", "2", "--seeds", "1"],
    "sweep": ["--m", "1", "--d", "4", "--k", "2", "--n", "40", "--seed", "0", "--n-test", "50",
              "--restarts", "2", "--out", "{tmp}/new.csv"],
}
#: Values that no typed option accepts (not a number, not finite, negative, malformed range).
BAD_VALUES = ["", " ", "abc", "nan", "-nan", "inf", "-inf", "1e400", "-1", "-2.5", "5..2", "1..", "..",
              "1..x", "0x1f", "1.5.2", "1,a", "9" * 5000, "0..99999999999", "--"]
#: Output paths that cannot be written ({tmp}: the example's directory, which exists).
BAD_PATHS = ["{tmp}/missing/out.csv", "{tmp}", "/no_such_dir_provable_mha/out.csv", "{tmp}/missing/"]
BAD_SCHEDULERS = ["abc", "tcp://", "tcp://127.0.0.1", "http://127.0.0.1:8786", "tcp://127.0.0.1:1"]


def _options(command: str) -> list[argparse.Action]:
    return [a for a in COMMANDS[command]._actions
            if a.option_strings and not isinstance(a, argparse._HelpAction)]


def _defects(command: str, values=BAD_VALUES) -> list[list[str]]:
    """Every defect this module knows for ``command`` (typed options get ``values``), each a list of
    extra arguments."""
    out = [["--frobnicate"], ["--frobnicate", "1"], ["extra-positional"], ["-Z"]]
    for action in _options(command):
        opt = action.option_strings[-1]
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            out.append([f"{opt}=yes"])
            continue
        out.append([opt])  # value missing (it is the last argument)
        if action.choices is not None:
            out.append([opt, "bogus-choice"])
        elif action.type is not None:
            out += [[opt, v] for v in values]
        elif command in BASE and opt in ("--save", "--out", "--csv", "--plot"):
            out += [[opt, p] for p in BAD_PATHS]
            if opt == "--plot":
                out.append([opt, "{tmp}/figure.xyz"])
        elif command in BASE and opt == "--scheduler":
            out += [[opt, s] for s in BAD_SCHEDULERS]
    return out


#: The deterministic sweep: every defect of every option, with four representative bad values.
ALL_DEFECTS = [(c, d) for c in sorted(COMMANDS) for d in _defects(c, ["abc", "nan", "-1", "1e400"])]


@contextlib.contextmanager
def _sandbox():
    """A directory with an existing result file and sweep store; checks they survive untouched."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "old.csv").write_text("m,d,k,n,scale,seed,method,noise\n1,4,2,40,1.0,0,practical,0.0\n")
        (root / "old.npz").write_bytes(b"not really an npz, but it must survive")
        before = {p.name: p.read_bytes() for p in root.iterdir()}
        yield root, before


@contextlib.contextmanager
def _in_dir(path: Path):
    """Run in ``path`` (contextlib.chdir needs Python 3.11)."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _check_malformed(command: str, defect: list[str]) -> None:
    with _sandbox() as (root, before), _in_dir(root):  # a stray relative output lands here
        base = [a.format(tmp=root) for a in BASE.get(command, [])]
        argv = [command, *base, *(a.format(tmp=root) for a in defect)]
        code, out, err = _run(argv)
        assert code == 2, (argv, code, out[-300:], err)
        assert "Traceback" not in err and out == "", (argv, err)
        assert err.endswith("\n") and err.count("\n") == 1, (argv, err)
        assert {p.name: p.read_bytes() for p in root.iterdir()} == before, argv  # nothing damaged
        assert not Path("/no_such_dir_provable_mha").exists(), argv


@pytest.mark.parametrize("command, defect", ALL_DEFECTS, ids=[f"{c}:{' '.join(d)[:40]}" for c, d in ALL_DEFECTS])
def test_every_defect_of_every_command(command, defect):
    _check_malformed(command, defect)


@given(st.sampled_from(sorted(COMMANDS)).flatmap(
    lambda c: st.tuples(st.just(c), st.lists(st.sampled_from(_defects(c)), min_size=1, max_size=3))))
def test_malformed_argument_lists_exit_2(case):
    command, defects = case
    # several defects at once: still one line, exit 2. An option missing its value goes last, where
    # it stays a defect (followed by e.g. a stray word it would take that word as its value).
    defects = sorted(defects, key=lambda d: len(d) == 1 and d[0].startswith("-") and "=" not in d[0])
    _check_malformed(command, [a for d in defects for a in d])


@st.composite
def _valid(draw):
    command = draw(st.sampled_from(sorted(COMMANDS)))
    if command not in BASE or draw(st.integers(0, 9)) == 0:
        return [command, "--help"]
    argv = [command, *BASE[command]]
    if command == "learn":
        argv += ["--seed", str(draw(st.integers(0, 5))), "--scale", draw(st.sampled_from(["0.5", "1", "1.5"]))]
        argv += draw(st.sampled_from([[], ["--json"], ["--save", "{tmp}/r.npz"], ["-q"]]))
    elif command == "hardness":
        argv += ["--m", draw(st.sampled_from(["2", "2..3", "2,3"])), "--d", draw(st.sampled_from(["3", "3..4"]))]
    elif command == "gd":
        argv += ["--H", draw(st.sampled_from(["1", "1,2"])), "--steps", str(draw(st.integers(1, 3))),
                 "--lr", draw(st.sampled_from(["0.5", "safe"]))]
        argv += draw(st.sampled_from([[], ["--csv", "{tmp}/h.csv"], ["--plot", "{tmp}/h.png"]]))
    elif command == "sweep":
        argv += ["--seed", draw(st.sampled_from(["0", "0..1"]))]
    return argv


@given(_valid())
def test_valid_argument_lists_exit_0(argv):
    with _sandbox() as (root, before), _in_dir(root):
        argv = [a.format(tmp=root) for a in argv]
        code, out, err = _run(argv)
        assert code == 0, (argv, err)
        assert "Traceback" not in err and out
        after = {p.name: p.read_bytes() for p in root.iterdir()}
        assert {k: after[k] for k in before} == before  # existing files untouched
