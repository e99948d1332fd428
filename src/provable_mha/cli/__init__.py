"""Command line ``provable-mha <command>``: thin — parses arguments, calls the library, prints.

One module per command, each with ``register(subparsers)``; :mod:`.args` holds the argument types,
the help formatter and the checks they share. :data:`DESCRIPTION` and :data:`EPILOG` are the
top-level help (plain terminal text; ``docs/cli.md`` is the reference). Exit codes:
:data:`EXIT_OK` 0 success, :data:`EXIT_LEARN` 1 the learner failed
(:class:`provable_mha.LearnError`), :data:`EXIT_USAGE` 2 bad arguments or a run refused before it
started (one line on stderr), :data:`EXIT_INTERRUPTED` 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys

from .args import Parser, UsageError

__all__ = ["main", "build_parser", "UsageError", "EXIT_OK", "EXIT_LEARN", "EXIT_USAGE",
           "EXIT_INTERRUPTED", "DESCRIPTION", "EPILOG"]

EXIT_OK, EXIT_LEARN, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

DESCRIPTION = """\
Learn multi-head attention layers with certified algorithms, and study the theory around them.

  F(X) = sum_i softmax(X Theta_i X^T) X W_i,  X in {-1,+1}^(k x d),  m heads

Each command plants, learns, measures or tabulates; run 'provable-mha COMMAND --help' for its
options, defaults and examples. Progress bars go to stderr, only when it is a terminal."""

EPILOG = """\
exit codes:
  0    success
  1    the learner failed (too few examples, no fit, not certified); reason on stderr
  2    bad arguments, or a run refused before it started (memory, paths); one line on stderr
  130  interrupted (Ctrl-C); a sweep resumes when the same command is run again

examples:
  provable-mha demo
  provable-mha learn --m 2 --d 8 --k 4 --n 400 --seed 0
  provable-mha learn --m 2 --d 8 --k 4 --n 400 --json > result.json
  provable-mha sweep --m 1..3 --n 20,40,80 --seed 0..4 --out runs.csv --plot runs.png
  provable-mha hardness --m 2..5 --d 7
  provable-mha gd --H 1,2,4,8 --plot heads.png

documentation: docs/cli.md (options, JSON schema), docs/learner.md (the algorithm)"""


def build_parser() -> argparse.ArgumentParser:
    """The ``provable-mha`` argument parser with all subcommands."""
    from .. import __version__
    from . import export, gd, hardness, learn, score, sweep

    p = Parser(prog="provable-mha", description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("--version", action="version", version=f"provable-mha {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="command",
                           title="commands")
    for module in (learn, hardness, gd, sweep, export, score):
        module.register(sub)
    return p


def _error(exc: BaseException) -> str:
    """One line: the exception's message with line breaks folded."""
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (0, 1, 2 or 130)."""
    from ..errors import LearnError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2, message printed)
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except LearnError as exc:
        print(f"provable-mha: learning failed: {_error(exc)}", file=sys.stderr)
        return EXIT_LEARN
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return EXIT_OK
    except KeyboardInterrupt:
        print("provable-mha: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, ImportError, OSError) as exc:
        print(f"provable-mha: error: {_error(exc)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
