"""``provable-mha hardness``: the SQ lower-bound table for the parity family.

The parity family is this project's own reconstruction (``docs/hardness.md`` §2), not taken from
arXiv 2402.04084; the table's numbers are exact enumerations over all 2^(2d) inputs.

Registered by :func:`provable_mha.cli.build_parser`; the work is done by
:mod:`provable_mha.hardness`.
"""

from __future__ import annotations

import argparse

from .args import int_range

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
    rows = [r for m, d in pairs for r in sq_table([m], [d], tau=args.tau)]
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
    p = subparsers.add_parser(
        "hardness", help="SQ lower-bound table of the parity family (exact enumeration)",
        description="Exact SQ analysis of the parity family: family size C(d-1, m-1), pairwise "
                    "correlations, separation E||F_S - F_S'||^2, moment degree, query bound.")
    p.add_argument("--m", type=int_range(1), default=[2, 3, 4, 5],
                   help="heads: an integer, a range 2..5 or a list 2,3 (default 2..5)")
    p.add_argument("--d", type=int_range(1), default=[7],
                   help="token dimension(s), <= 8 (default 7)")
    p.add_argument("--tau", type=float, default=None,
                   help="SQ tolerance (default D^(-1/3) per row)")
    p.add_argument("--conditions", action="store_true",
                   help="also report which non-degeneracy conditions each family violates")
    p.set_defaults(func=run)
    return p
