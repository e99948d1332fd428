"""Command line ``provable-mha <command>``: thin — parses arguments, calls the library, prints.

Commands: ``demo`` (a default planted instance learned end to end), ``learn`` (plant, sample,
learn, measure; ``--json`` for machine-readable output), ``hardness`` (SQ lower-bound table),
``gd`` (gradient descent against the number of heads) and ``sweep`` (a resumable grid of
``learn`` runs, locally or on Dask). One module per command; :mod:`.args` holds the argument
types they share. Exit codes: 0 success, 1 the learner failed
(:class:`provable_mha.LearnError`), 2 bad arguments (message on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys

from .args import UsageError

__all__ = ["main", "build_parser", "UsageError", "EXIT_OK", "EXIT_LEARN", "EXIT_USAGE"]

EXIT_OK, EXIT_LEARN, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The ``provable-mha`` argument parser with all subcommands."""
    from . import export, gd, hardness, learn, score, sweep

    p = argparse.ArgumentParser(prog="provable-mha", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    for module in (learn, hardness, gd, sweep, export, score):
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (0, 1 or 2)."""
    from ..errors import LearnError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2, message printed)
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except LearnError as exc:
        print(f"provable-mha: learning failed: {exc}", file=sys.stderr)
        return EXIT_LEARN
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return EXIT_OK
    except (ValueError, ImportError) as exc:
        print(f"provable-mha: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
