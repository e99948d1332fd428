"""Random-start configurations of the practical search: how many starts it needs near n*.

Usage (``docs/learner.md``, "Strategy practical", reports the results)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/start_scales.py          # ~15 min
    OPENBLAS_NUM_THREADS=1 python benchmarks/start_scales.py --quick  # smoke run, *_quick.csv

Per cell (m, d, k, planted scale, n_train): the planted layers and data of ``frontier.py``
(``sample_complexity.run_once``'s draws, seeds 0..s-1), ``pm.learn(..., restarts=300,
start_scales=..., ridge_path=...)`` with three configurations: the release-1 cycle (1, 2, 0.5, 3)
without a Tikhonov path, the soft scales (0.25, 0.1) without it, and the defaults (soft scales and
the ``RIDGE_PATH`` homotopy before the plain search of every start but the first). Reported: the number of starts the
search ran until one was accepted (``inf`` if none of the 300 was), how many seeds needed at most
100 (the default budget), the median and the wall time. Cells: six frontier cells at 1.5 n* (2 n*
for k = 16 and scale 8), and two cells that are in no other benchmark ((3,8,6) and (3,8,4) at 1.5
n*) as a held-out check.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import sample_complexity as sc  # sibling script
from _results import RESULTS, write_rows

import provable_mha as pm
from provable_mha.learner.practical import RIDGE_PATH, START_SCALES

RELEASE_1 = (1.0, 2.0, 0.5, 3.0)
#: name -> (start_scales, ridge_path)
CONFIGS = {"release 1": (RELEASE_1, ()), "soft": (START_SCALES, ()),
           "soft + ridge path (default)": (START_SCALES, RIDGE_PATH)}
BUDGET, DEFAULT = 300, 100
#: (m, d, k, planted scale, multiple of n*, seeds)
CELLS = [(2, 8, 4, 1.0, 1.5, 20), (2, 8, 8, 1.0, 1.5, 10), (2, 8, 16, 1.0, 2.0, 10), (2, 8, 4, 2.0, 1.5, 10),
         (2, 8, 4, 4.0, 1.5, 10), (2, 8, 4, 8.0, 2.0, 10), (3, 8, 6, 1.0, 1.5, 10), (3, 8, 4, 1.0, 1.5, 10)]
QUICK = [(1, 4, 3, 1.0, 1.5, 3)]


def starts_needed(m, d, k, scale, n_train, seed, scales, path) -> float:
    """Starts the search ran until one was accepted; ``inf`` if none of ``BUDGET`` was."""
    layer, X = sc.planted_data(m, d, k, n_train, seed, scale)
    res = pm.learn(X, layer(X), m, rng=seed, holdout=sc.N_HOLDOUT / len(X), strict=False, restarts=BUDGET,
                   start_scales=scales, ridge_path=path)
    info = next(p for p in res.phases if p.name == "search").info
    runs = info["runs"]
    return float(len(runs)) if runs[-1]["relative_residual"] <= info["threshold"] else math.inf


def run(cells, log=print) -> list[dict]:
    rows = []
    for m, d, k, scale, f, seeds in cells:
        n_train = sc.train_sizes(m, d, k, (f,))[0][1]
        for name, (scales, path) in CONFIGS.items():
            t0 = time.perf_counter()
            need = [starts_needed(m, d, k, scale, n_train, s, scales, path) for s in range(seeds)]
            rows.append({"cell": f"({m},{d},{k},{scale:g})", "n_train": n_train, "x_n_star": f,
                         "starts": name, "scales": " ".join(f"{s:g}" for s in scales),
                         "ridge_path": " ".join(f"{v:g}" for v in path), "seeds": seeds,
                         f"within_{DEFAULT}": sum(x <= DEFAULT for x in need),
                         f"within_{BUDGET}": sum(x <= BUDGET for x in need),
                         "median_starts": float(np.median(need)), "max_starts": max(need),
                         "seconds": round(time.perf_counter() - t0, 1), "load": round(os.getloadavg()[0], 2)})
            log(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one small cell, 3 seeds; writes *_quick.csv")
    args = p.parse_args(argv)
    rows = run(QUICK if args.quick else CELLS)
    suffix = "_quick" if args.quick else ""
    print(f"wrote {write_rows(RESULTS / f'start_scales{suffix}.csv', rows)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
