"""``provable-mha hardness``: the SQ lower-bound table for the parity family.

The parity family is this project's own reconstruction (``docs/hardness.md`` §2), not taken from
arXiv 2402.04084; the table's numbers are exact enumerations over all 2^(2d) inputs.

Registered by :func:`provable_mha.cli.build_parser`; the work is done by
:mod:`provable_mha.hardness`. Each ``(m, d)`` row is an exact enumeration; a progress bar over the
rows appears on a terminal once the table has taken more than 2 s.
"""

from __future__ import annotations

import argparse

from .args import (
    add_command,
    add_run_options,
    delayed_bar,
    int_range,
    positive_float,
)

__all__ = ["register", "run"]


def run(args) -> int:
    """Print the exact SQ table (and, with ``--conditions``, the violated conditions)."""
    from ..hardness.report import family_conditions, format_family_conditions
    from ..hardness.sq import MAX_EXACT_D, format_sq_table, sq_table

    bad = [d for d in args.d if d > MAX_EXACT_D]
    if bad:
        raise ValueError(f"--d must be <= {MAX_EXACT_D} for exact enumeration over 2^(2d) inputs, "
                         f"got {bad}")
    pairs = [(m, d) for m in args.m for d in args.d if d >= m]
    if not pairs:
        raise ValueError(f"no (m, d) with d >= m in --m {args.m} and --d {args.d}")
    rows = []
    with delayed_bar(pairs, args, "hardness: exact enumeration", "row") as bar:
        for m, d in bar:
            bar.set_postfix_str(f"m={m} d={d}", refresh=False)
            rows.extend(sq_table([m], [d], tau=args.tau))
    print("parity family, k = 2, exact enumeration over all 2^(2d) inputs")
    print(format_sq_table(rows))
    if args.conditions:
        from ..hardness.parity import parity_family

        for m, d in pairs:
            summary = family_conditions(parity_family(m, d), k=2)
            print(format_family_conditions(summary, f"parity m={m} d={d}"))
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``hardness`` subcommand to an ``argparse`` subparsers object; returns its parser."""
    p = add_command(
        subparsers, "hardness", help="SQ lower-bound table of the parity family (exact enumeration)",
        description="Exact SQ analysis of the parity family with k = 2 tokens: family size "
                    "C(d-1, m-1),\npairwise correlations, separation E||F_S - F_S'||^2, moment "
                    "degree and query bound,\nby enumerating all 2^(2d) inputs (docs/hardness.md).",
        example_lines=["provable-mha hardness --m 2..5 --d 7",
                        "provable-mha hardness --m 2,3 --d 5..8 --tau 0.1",
                        "provable-mha hardness --m 3 --d 6 --conditions"])
    p.add_argument("--m", type=int_range(1), default="2..5",
                   help="heads: an integer, a range 2..5 or a list 2,3")
    p.add_argument("--d", type=int_range(1), default="7",
                   help="token dimension(s), at most 8 (same forms as --m)")
    p.add_argument("--tau", type=positive_float, default=None,
                   help="SQ tolerance, a correlation (default: D^(-1/3) per row, D the family size)")
    p.add_argument("--conditions", action="store_true",
                   help="also report which non-degeneracy conditions each family violates")
    add_run_options(p, memory=False)
    p.set_defaults(func=run)
    return p
