"""Success rate of ``pm.learn`` (practical mode) against the number of examples, via the sweep.

Runs a resumable grid with :func:`provable_mha.sweep.run_sweep` (raw rows in
``benchmarks/results/raw/sweep_learner.csv``; rerunning skips finished cells) and writes the
per-(m, d, k, n, scale) summary over seeds to ``benchmarks/results/sweep_learner.csv``::

    python benchmarks/sweep_learner.py [--jobs 2] [--scheduler local|tcp://host:8786] [--max-m 2]
    python benchmarks/sweep_learner.py --summary-only   # summary of the cells finished so far

The summary's ``seeds`` column says how many seeds of each cell are finished.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from provable_mha.learner import min_examples
from provable_mha.sweep import grid, read_results, run_sweep, summarize

RESULTS = Path(__file__).resolve().parent / "results"
SHAPES = [(1, 8, 4), (2, 8, 4), (3, 8, 4)]
MULTIPLES = [1.5, 2, 3, 4]  # training examples as multiples of the information limit 2md/k


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--scheduler", default=None)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--max-m", type=int, default=max(s[0] for s in SHAPES),
                   help="only the shapes with m <= this")
    p.add_argument("--summary-only", action="store_true",
                   help="summarize the finished cells of the grid without running any")
    args = p.parse_args(argv)
    cells = []
    for m, d, k in SHAPES:
        if m > args.max_m:
            continue
        ns = [round(f * min_examples(m, d, k) / 0.8) for f in MULTIPLES]
        cells += grid([m], [d], [k], ns, scale=[1.0], seed=range(args.seeds))
    raw = RESULTS / "raw" / "sweep_learner.csv"
    if not args.summary_only:
        run_sweep(cells, raw, n_jobs=args.jobs, scheduler=args.scheduler)
    keys = {c.key for c in cells}
    rows = [r for r in read_results(raw) if (int(r["m"]), int(r["d"]), int(r["k"]), int(r["n"]),
                                             float(r["scale"]), int(r["seed"]), r["mode"],
                                             float(r["noise"])) in keys]
    summary = summarize(rows)
    for s in summary:
        n_train = s["n"] - max(1, round(0.2 * s["n"]))  # the split pm.learn makes (holdout 0.2)
        s["n_train_over_limit"] = round(n_train / min_examples(s["m"], s["d"], s["k"]), 2)
    cols = ["m", "d", "k", "n", "n_train_over_limit", "scale", "seeds", "success_rate",
            "median_test_error", "mean_seconds"]
    with open(RESULTS / "sweep_learner.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(summary)
    print(f"wrote {RESULTS / 'sweep_learner.csv'} ({len(summary)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
