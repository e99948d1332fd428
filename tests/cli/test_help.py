"""Every ``--help`` is terminal text: no reStructuredText, each option's default shown, examples last."""

import argparse
import re

import pytest

from provable_mha.cli import build_parser, main

RST = re.compile(r"``|:(math|func|class|mod|meth|attr|data|ref):|^\.\. |\\\\", re.M)


def _subparsers(parser):
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


COMMANDS = sorted(_subparsers(build_parser()))


def _option_blocks(text: str) -> dict[str, str]:
    """Rendered help of each option, keyed by its first option string."""
    blocks, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^  (-{1,2}[\w-]+)", line)
        if m:
            current = m.group(1)
            blocks[current] = line
        elif current and line.startswith("    "):
            blocks[current] += " " + line.strip()
        else:
            current = None
    return blocks


def _default_text(action) -> str | None:
    """What the help must show for this option's default (None: only the word 'default')."""
    d = action.default
    if d is None:
        return None
    return str(d)


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_is_terminal_text_with_defaults_and_examples(command, capsys):
    argv = [command, "--help"] if command else ["--help"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert not RST.search(text), RST.search(text).group(0)
    parser = build_parser() if command is None else _subparsers(build_parser())[command]
    assert text == parser.format_help()  # main prints exactly the parser's help
    blocks = _option_blocks(re.sub(r"\s+\n", "\n", text))
    checked = 0
    for action in parser._actions:
        if not action.option_strings or action.default is argparse.SUPPRESS:
            continue
        if action.required or isinstance(action, (argparse._StoreTrueAction, argparse._HelpAction)):
            continue
        block = " ".join(blocks[action.option_strings[0]].split())
        assert "default" in block, f"{command} {action.option_strings[0]}: no default in {block!r}"
        want = _default_text(action)
        if want is not None:
            assert f"default: {want})" in block, f"{command} {action.option_strings[0]}: {block!r}"
        checked += 1
    # not vacuous: every command but score (one valued option, --tol) has at least three
    assert checked >= (0 if command is None else 1 if command == "score" else 3)
    tail = text.rstrip().split("\n\n")[-1] if command else text.split("examples:")[-1]
    assert "provable-mha" in tail
    if command:
        assert tail.startswith("examples:"), tail  # the help ends with examples
        assert all(f"provable-mha {command}" in line for line in tail.splitlines()[1:])


def test_top_level_lists_every_command_and_exit_codes(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in COMMANDS:
        assert f"    {command} " in text
    assert "exit codes:" in text and "130" in text


def test_usage_error_is_one_line(capsys):
    assert main(["learn", "--m", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "see provable-mha learn --help" in err
