"""Random-start configurations of the practical search: how many starts it needs near n*.

Usage (``docs/learner.md``, "Strategy practical", reports the results)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/start_scales.py          # ~20 min
    OPENBLAS_NUM_THREADS=1 python benchmarks/start_scales.py --quick  # smoke run, *_quick.csv

Per cell (m, d, k, planted scale, n_train): the planted layers and data of ``frontier.py``
(``sample_complexity.run_once``'s draws, seeds 0..s-1), ``pm.learn(..., restarts=300,
start_scales=..., ridge_path=..., path_starts=...)`` with four configurations: the release-1 cycle
(1, 2, 0.5, 3) without a Tikhonov path; release 2's soft scales (0.25, 0.1) with its short path
(1e-3 .. 1e-5, 5 LM iterations per weight); scale-1 starts with the ``RIDGE_PATH`` continuation
always begun at 1e-2 (each weight run until its cost stalls, ``RIDGE_ITERS`` / ``RIDGE_STALL``); and
the defaults (the same, begun alternately at 1e-2 and 1e-3, ``PATH_STARTS``). A path is followed by
every start but the first; a configuration's iteration rule is set on ``practical`` while it runs.
Reported: the number of starts the search ran until one was accepted (``inf`` if none of the 300
was), how many seeds needed at most 100 (the default budget), the median and the wall time. Cells:
six frontier cells at 1.5 n* (2 n* for k = 16 and scale 8), and two cells that are in no other
benchmark ((3,8,6) and (3,8,4) at 1.5 n*) as a held-out check.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import sample_complexity as sc  # sibling script
from _results import one_csv_main

import provable_mha as pm
from provable_mha.learner import practical

RELEASE_1 = (1.0, 2.0, 0.5, 3.0)
_CONTINUATION = (practical.START_SCALES, practical.RIDGE_PATH, practical.RIDGE_ITERS, practical.RIDGE_STALL)
#: name -> (start_scales, ridge_path, iterations per weight, (stall window, ratio) or None, path_starts)
CONFIGS = {"release 1": (RELEASE_1, (), 0, None, (1.0,)),
           "release 2 (soft + short path)": ((0.25, 0.1), (1e-3, 3e-4, 1e-4, 3e-5, 1e-5), 5, None, (1.0,)),
           "path from 1e-2": (*_CONTINUATION, (1e-2,)),
           "continuation (default)": (*_CONTINUATION, practical.PATH_STARTS)}
BUDGET, DEFAULT = 300, 100
#: (m, d, k, planted scale, multiple of n*, seeds)
CELLS = [(2, 8, 4, 1.0, 1.5, 20), (2, 8, 8, 1.0, 1.5, 10), (2, 8, 16, 1.0, 2.0, 10), (2, 8, 4, 2.0, 1.5, 10),
         (2, 8, 4, 4.0, 1.5, 10), (2, 8, 4, 8.0, 2.0, 10), (3, 8, 6, 1.0, 1.5, 10), (3, 8, 4, 1.0, 1.5, 10)]
QUICK = [(1, 4, 3, 1.0, 1.5, 3)]


def starts_needed(m, d, k, scale, n_train, seed, scales, path, firsts) -> float:
    """Starts the search ran until one was accepted; ``inf`` if none of ``BUDGET`` was."""
    layer, X = sc.planted_data(m, d, k, n_train, seed, scale)
    res = pm.learn(X, layer(X), m, rng=seed, holdout=sc.N_HOLDOUT / len(X), strict=False, restarts=BUDGET,
                   start_scales=scales, ridge_path=path, path_starts=firsts)
    info = next(p for p in res.phases if p.name == "search").info
    runs = info["runs"]
    return float(len(runs)) if runs[-1]["relative_residual"] <= info["threshold"] else math.inf


@contextlib.contextmanager
def _path_rule(iters: int, stall: tuple[int, float] | None):
    """Set how many LM iterations each path weight gets (``None``: a fixed count, no stall rule)."""
    saved = practical.RIDGE_ITERS, practical.RIDGE_STALL
    practical.RIDGE_ITERS, practical.RIDGE_STALL = iters, stall or (0, 1.0)
    try:
        yield
    finally:
        practical.RIDGE_ITERS, practical.RIDGE_STALL = saved


def run(cells, log=print) -> list[dict]:
    rows = []
    for m, d, k, scale, f, seeds in cells:
        n_train = sc.train_sizes(m, d, k, (f,))[0][1]
        for name, (scales, path, iters, stall, firsts) in CONFIGS.items():
            t0 = time.perf_counter()
            with _path_rule(iters, stall):
                need = [starts_needed(m, d, k, scale, n_train, s, scales, path, firsts) for s in range(seeds)]
            rows.append({"cell": f"({m},{d},{k},{scale:g})", "n_train": n_train, "x_n_star": f,
                         "starts": name, "scales": " ".join(f"{s:g}" for s in scales),
                         "ridge_path": " ".join(f"{v:g}" for v in path),
                         "path_starts": " ".join(f"{v:g}" for v in firsts), "seeds": seeds,
                         f"within_{DEFAULT}": sum(x <= DEFAULT for x in need),
                         f"within_{BUDGET}": sum(x <= BUDGET for x in need),
                         "median_starts": float(np.median(need)), "max_starts": max(need),
                         "seconds": round(time.perf_counter() - t0, 1), "load": round(os.getloadavg()[0], 2)})
            log(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    return one_csv_main(__doc__, "one small cell, 3 seeds; writes *_quick.csv", "start_scales",
                        lambda: run(CELLS), lambda: run(QUICK), argv)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
