"""Argument types shared by every ``provable-mha`` subcommand, and checks done before any work.

Each type is a callable for ``argparse`` (``type=``) that raises
:class:`argparse.ArgumentTypeError` with a message naming the accepted form; ranges are parsed
by one function, :func:`int_range`, for every command. :func:`writable_path` checks an output
path *before* a run, so a long computation never ends in a traceback about a directory.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

__all__ = ["UsageError", "int_at_least", "nonneg_float", "positive_float", "fraction", "float_list",
           "int_range", "positive_ints", "seeds", "step_size", "writable_path"]


class UsageError(ValueError):
    """A command-line argument is invalid (exit code 2)."""


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


def float_list(text: str) -> list[float]:
    """Type: comma-separated finite numbers ``>= 0``."""
    return [nonneg_float(t) for t in str(text).split(",")]


def int_range(lo: int, hi: int | None = None):
    """Type: ``"5"``, ``"2..5"`` (inclusive) or ``"2,3,5"``, every value in ``[lo, hi]``."""
    def parse(text: str) -> list[int]:
        text = str(text).strip()
        try:
            if ".." in text:
                a, b = (int(t) for t in text.split("..", 1))
                if a > b:
                    raise argparse.ArgumentTypeError(f"empty range {text!r}: {a} > {b}")
                vals = list(range(a, b + 1))
            else:
                vals = [int(t) for t in text.split(",") if t.strip()]
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
    if p.exists() and p.is_dir():
        raise UsageError(f"{what} path {str(p)!r} is a directory")
    if not parent.is_dir():
        raise UsageError(f"{what} path {str(p)!r}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"{what} path {str(p)!r} is not writable")
    return str(p)
