"""The one CSV writer of the benchmarks: ``benchmarks/results/*.csv`` are rendered into the README."""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def write_rows(path: str | Path, rows: Sequence[dict]) -> Path:
    """Write ``rows`` (dicts with the same keys, in order) as a CSV with a header; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def quick_cli(doc: str, quick_help: str, argv=None) -> tuple[bool, str]:
    """Parse a benchmark's only option, ``--quick`` (a smoke run); returns ``(quick, suffix)``, the
    suffix (``"_quick"`` or ``""``) going into the names of the CSVs it writes."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=quick_help)
    quick = p.parse_args(argv).quick
    return quick, "_quick" if quick else ""


def one_csv_main(doc: str, quick_help: str, stem: str, full, quick, argv=None) -> int:
    """The ``main`` of a benchmark that writes one CSV: ``--quick`` (:func:`quick_cli`) runs
    ``quick()``, otherwise ``full()``; the rows go to ``RESULTS/<stem>[_quick].csv``."""
    is_quick, suffix = quick_cli(doc, quick_help, argv)
    rows = quick() if is_quick else full()
    print(f"wrote {write_rows(RESULTS / f'{stem}{suffix}.csv', rows)}")
    return 0
