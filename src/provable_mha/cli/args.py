"""Argument types shared by every ``provable-mha`` subcommand, and checks done before any work.

Each type is a callable for ``argparse`` (``type=``) that raises
:class:`argparse.ArgumentTypeError` with a message naming the accepted form; ranges are parsed
by one function, :func:`int_range`, for every command. :func:`writable_path` and
:func:`figure_path` check an output path *before* a run, so a long computation never ends in a
traceback about a directory; :func:`check_memory` (through
:func:`provable_mha.resources.check_memory`) refuses a run whose estimated memory is over
``--max-memory`` before anything is allocated.

:class:`Parser` is the parser class of the command and of every subcommand: its help keeps the
description's line breaks, appends each option's default, and its usage errors are one line.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..resources import DEFAULT_MAX_MEMORY, format_size, parse_size

__all__ = ["UsageError", "HelpFormatter", "Parser", "examples", "add_command", "learner_options", "add_run_options",
           "show_progress",
           "delayed_bar",
           "check_memory", "memory_size", "int_at_least", "nonneg_float", "positive_float",
           "fraction", "probability", "float_list", "int_range", "positive_ints", "seeds",
           "step_size", "writable_path", "figure_path", "MAX_RANGE_VALUES", "FIGURE_FORMATS",
           "PROGRESS_DELAY"]

#: Largest number of values one range argument (``2..5``, ``1,2,3``) may expand to.
MAX_RANGE_VALUES = 100_000
#: Seconds a job runs before its progress bar appears (hardness, gd; sweeps and learn show theirs at once).
PROGRESS_DELAY = 2.0
#: File suffixes matplotlib writes (``--plot``).
FIGURE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")


class UsageError(ValueError):
    """A command-line argument is invalid (exit code 2)."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Help for a terminal: descriptions and examples keep their line breaks; defaults are shown.

    An option's default is appended as ``(default: ...)`` unless its help already states it, the
    default is ``None`` (the help then says what happens without the option) or the option is a
    flag.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or any(action.default is v for v in (None, False, argparse.SUPPRESS)):
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return text + " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """``ArgumentParser`` with :class:`HelpFormatter` and one-line usage errors (exit code 2)."""

    def __init__(self, *args, formatter_class=HelpFormatter, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)

    def error(self, message: str):
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def examples(*lines: str) -> str:
    """An ``epilog`` listing example command lines, one per line."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def add_command(sub, name: str, *, help: str, description: str, example_lines: Sequence[str]) -> Parser:
    """Register a subcommand: terminal help (:class:`HelpFormatter`), description, examples at the end."""
    return sub.add_parser(name, help=help, description=description, epilog=examples(*example_lines),
                          formatter_class=HelpFormatter)


def learner_options(p, *, n_test: int) -> None:
    """``--method``, ``--restarts`` and ``--n-test``: how each planted problem is learned and tested
    (shared by ``learn``, ``demo`` and ``sweep``)."""
    p.add_argument("--method", choices=["practical", "structured"], default="practical",
                   help="practical: multi-start variable projection (fast); structured: constraint "
                        "generation with a certified parameter radius")
    p.add_argument("--restarts", type=int_at_least(0), default=100,
                   help="random starts of the search (it stops at the first accepted fit)")
    p.add_argument("--n-test", type=int_at_least(1), default=n_test,
                   help="fresh noiseless examples for the test error")


def show_progress(args) -> bool:
    """Progress on stderr only when it is a terminal and ``--quiet`` was not given."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def delayed_bar(iterable, args, desc: str, unit: str):
    """tqdm bar over ``iterable`` on stderr, shown after :data:`PROGRESS_DELAY` s if :func:`show_progress`."""
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, unit=unit, delay=PROGRESS_DELAY, disable=not show_progress(args),
                leave=False, dynamic_ncols=True)


def memory_size(text: str) -> int:
    """Type: a size in bytes, ``4GiB``, ``500MB``, ``2.5G`` or a plain number."""
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_run_options(p: argparse.ArgumentParser, memory: bool = True) -> None:
    """``--quiet`` and (if ``memory``) ``--max-memory``, shared by every command that computes."""
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress bars on stderr (they are shown only on a terminal anyway)")
    if memory:
        p.add_argument("--max-memory", type=memory_size, default=format_size(DEFAULT_MAX_MEMORY).replace(" ", ""),
                       metavar="SIZE",
                       help="refuse to start when the estimated memory is above this many bytes "
                            "(units KiB, MiB, GiB or kB, MB, GB)")


def check_memory(estimate: int, args, what: str) -> None:
    """Refuse (:class:`ValueError`, exit 2) a run estimated above ``args.max_memory`` bytes."""
    from ..resources import check_memory as check

    check(estimate, args.max_memory, what, hint="use smaller sizes or raise --max-memory")


def int_at_least(lo: int):
    """Type: an integer ``>= lo``."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {v}")
        return v
    parse.__name__ = f"int>={lo}"
    return parse


def _number(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return v


def nonneg_float(text: str) -> float:
    """Type: a finite number ``>= 0``."""
    v = _number(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return v


def positive_float(text: str) -> float:
    """Type: a finite number ``> 0``."""
    v = _number(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return v


def fraction(text: str) -> float:
    """Type: a number in the open interval (0, 1)."""
    v = _number(text)
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1), got {text!r}")
    return v


def probability(text: str) -> float:
    """Type: a number in the closed interval [0, 1]."""
    v = _number(text)
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"must be a probability in [0, 1], got {text!r}")
    return v


def float_list(text: str) -> list[float]:
    """Type: comma-separated finite numbers ``>= 0`` (at most :data:`MAX_RANGE_VALUES`)."""
    parts = str(text).split(",")
    if len(parts) > MAX_RANGE_VALUES:
        raise argparse.ArgumentTypeError(f"more than {MAX_RANGE_VALUES} values in one list")
    return [nonneg_float(t) for t in parts]


def int_range(lo: int, hi: int | None = None):
    """Type: ``"5"``, ``"2..5"`` (inclusive) or ``"2,3,5"``, every value in ``[lo, hi]``.

    A range of more than :data:`MAX_RANGE_VALUES` values is refused before it is expanded.
    """
    def parse(text: str) -> list[int]:
        text = str(text).strip()
        try:
            if ".." in text:
                a, b = (int(t) for t in text.split("..", 1))
                if a > b:
                    raise argparse.ArgumentTypeError(f"empty range {text!r}: {a} > {b}")
                if b - a >= MAX_RANGE_VALUES:
                    raise argparse.ArgumentTypeError(
                        f"range {text!r} has {b - a + 1} values, more than {MAX_RANGE_VALUES}")
                vals = list(range(a, b + 1))
            else:
                parts = text.split(",")
                if len(parts) > MAX_RANGE_VALUES:
                    raise argparse.ArgumentTypeError(f"more than {MAX_RANGE_VALUES} values in one list")
                vals = [int(t) for t in parts if t.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, a range like 2..5 or a list like 2,3,5; got {text!r}") from None
        if not vals:
            raise argparse.ArgumentTypeError(f"empty range {text!r}")
        if min(vals) < lo:
            raise argparse.ArgumentTypeError(f"values must be >= {lo}, got {text!r}")
        if hi is not None and max(vals) > hi:
            raise argparse.ArgumentTypeError(f"values must be <= {hi}, got {text!r}")
        return vals
    parse.__name__ = "range"
    return parse


positive_ints, seeds = int_range(1), int_range(0)


def step_size(text: str) -> float | str:
    """A positive step size, or the word ``safe``."""
    if text == "safe":
        return text
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'safe', got {text!r}") from exc
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"step size must be a positive finite number, got {text!r}")
    return value


def writable_path(path: str | os.PathLike | None, what: str = "output") -> str | None:
    """Check, before any work, that ``path`` can be written; return it unchanged.

    The parent directory must already exist (nothing is created, so a typo never makes
    directories, least of all at the file-system root) and be writable; an existing file must
    be writable. Raises :class:`UsageError` naming the problem.
    """
    if path is None:
        return None
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir() or str(path).endswith(("/", os.sep)) or not p.name:
        raise UsageError(f"{what} path {str(path)!r} is a directory, not a file")
    if not parent.is_dir():
        raise UsageError(f"{what} path {str(p)!r}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"{what} path {str(p)!r} is not writable")
    return str(p)


def figure_path(path: str | os.PathLike | None, what: str = "--plot") -> str | None:
    """:func:`writable_path` for a figure, whose suffix must also name a format in :data:`FIGURE_FORMATS`."""
    if path is None:
        return None
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FIGURE_FORMATS:
        raise UsageError(f"{what} path {str(path)!r} must end in one of "
                         f"{', '.join('.' + f for f in FIGURE_FORMATS)}")
    return writable_path(path, what)
