"""``provable-mha hardness``: the SQ lower-bound table for the parity family.

Not wired by itself: the main CLI calls :func:`register` on its subparsers, e.g.
``hardness.cli.register(sub)`` inside :func:`provable_mha.cli.build_parser`.
"""

from __future__ import annotations

import argparse

__all__ = ["register", "parse_range", "run"]


def parse_range(text: str) -> list[int]:
    """Parse ``"5"``, ``"2..5"`` (inclusive) or ``"2,3,5"`` into a list of positive integers."""
    text = str(text).strip()
    try:
        if ".." in text:
            lo_s, hi_s = text.split("..", 1)
            lo, hi = int(lo_s), int(hi_s)
            if lo > hi:
                raise argparse.ArgumentTypeError(f"empty range {text!r}: {lo} > {hi}")
            vals = list(range(lo, hi + 1))
        else:
            vals = [int(v) for v in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected an integer, a range like 2..5 or a list like 2,3,5; got {text!r}") from exc
    if any(v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"values must be >= 1, got {text!r}")
    return vals


def run(args) -> int:
    """Print the exact SQ table (and, with ``--conditions``, the violated conditions)."""
    from .report import family_conditions, format_family_conditions
    from .sq import MAX_EXACT_D, format_sq_table, sq_table

    bad = [d for d in args.d if d > MAX_EXACT_D]
    if bad:
        raise ValueError(f"--d must be <= {MAX_EXACT_D} for exact enumeration over 2^(2d) inputs, "
                         f"got {bad}")
    pairs = [(m, d) for m in args.m for d in args.d if d >= m]
    if not pairs:
        raise ValueError(f"no (m, d) with d >= m in --m {args.m} and --d {args.d}")
    rows = [r for m, d in pairs for r in sq_table([m], [d], tau=args.tau)]
    print("parity family, k = 2, exact enumeration over all 2^(2d) inputs")
    print(format_sq_table(rows))
    if args.conditions:
        from .parity import parity_family

        for m, d in pairs:
            summary = family_conditions(parity_family(m, d), k=2)
            print(format_family_conditions(summary, f"parity m={m} d={d}"))
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``hardness`` subcommand to an ``argparse`` subparsers object; returns its parser."""
    p = subparsers.add_parser(
        "hardness", help="SQ lower-bound table of the parity family (exact enumeration)",
        description="Exact SQ analysis of the parity family: family size C(d-1, m-1), pairwise "
                    "correlations, separation E||F_S - F_S'||^2, moment degree, query bound.")
    p.add_argument("--m", type=parse_range, default=[2, 3, 4, 5],
                   help="heads: an integer, a range 2..5 or a list 2,3 (default 2..5)")
    p.add_argument("--d", type=parse_range, default=[7],
                   help="token dimension(s), <= 8 (default 7)")
    p.add_argument("--tau", type=float, default=None,
                   help="SQ tolerance (default D^(-1/3) per row)")
    p.add_argument("--conditions", action="store_true",
                   help="also report which non-degeneracy conditions each family violates")
    p.set_defaults(func=run)
    return p
