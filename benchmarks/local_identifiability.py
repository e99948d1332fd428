"""Is the information limit n* sharp? The Jacobian rank at the planted layer on the training inputs.

Usage (``docs/frontier.md``, "Is n* sharp?", reports the results)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/local_identifiability.py          # ~8 min
    OPENBLAS_NUM_THREADS=1 python benchmarks/local_identifiability.py --quick  # smoke run, *_quick.csv

For each frontier cell with 2md^2 <= 2048 parameters and each multiple f of n*: the same planted
layers and the same training inputs as ``frontier.py`` (``sample_complexity.run_once`` draws
n_train + 10 examples and ``pm.learn(rng=seed)`` holds out the first 10 of
``default_rng(seed).permutation(n)``; reproduced here). ``pm.local_identifiability`` reports whether
the Jacobian of (Theta, W) -> outputs has full column rank there, i.e. whether the data identify
the layer locally (an isolated solution up to head order). If sizes where the learner fails were
rank-deficient, no learner could recover there and a sharper limit would follow; if they are full
rank, the misses are the search's.

Probe (``--probe``, skipped in ``--quick``): at (2,8,4) and 1.25 n* (full rank in every seed, the
learner 1/3 in the frontier), ``pm.learn`` with 1000 random starts; the best training residual
of any start tells whether more restarts would help.

Output: ``results/local_identifiability.csv`` (per cell and size), ``results/raw/restart_probe.csv``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import sample_complexity as sc  # sibling script
from _results import RESULTS, write_rows
from frontier import GRID, MULTIPLES
from learner_vs_baselines import learn_split

import provable_mha as pm

MAX_PARAMETERS = 2048  # the SVD of the (n k d) x 2md^2 Jacobian: seconds at 2048, minutes per seed at 4096
QUICK = [(1, 4, 3, 1.0), (2, 6, 4, 1.0)]


def training_inputs(m: int, d: int, k: int, scale: float, n_train: int, seed: int):
    """The planted layer and the exact training inputs ``frontier.run_call`` gives ``pm.learn``."""
    layer, X = sc.planted_data(m, d, k, n_train, seed, scale)
    return layer, X[learn_split(len(X), seed, holdout=sc.N_HOLDOUT / len(X))]


def rank_rows(cells, seeds: int, log=print) -> list[dict]:
    rows = []
    for m, d, k, scale in cells:
        for f, n_train in sc.train_sizes(m, d, k, MULTIPLES[:5]):
            reps = [pm.local_identifiability(*training_inputs(m, d, k, scale, n_train, s)) for s in range(seeds)]
            ratios = [r.sigma_ratio for r in reps]
            row = {"cell": f"({m},{d},{k},{scale:g})", "n_star": round(sc.n_star(m, d, k), 3), "multiple": f,
                   "n_train": n_train, "rows_over_parameters": round(n_train * k * d / (2 * m * d * d), 3),
                   "full_rank": f"{sum(r.identified for r in reps)}/{seeds}",
                   "max_null_dim": max(r.null_dim for r in reps),
                   "median_sigma_ratio": float(f"{np.median(ratios):.2g}"),
                   "min_sigma_ratio": float(f"{min(ratios):.2g}")}
            log(", ".join(f"{key}={v}" for key, v in row.items()), flush=True)
            rows.append(row)
    return rows


def probe(seeds=(0, 1, 2), restarts: int = 1000, log=print) -> list[dict]:
    m, d, k = 2, 8, 4
    n_train = sc.train_sizes(m, d, k, (1.25,))[0][1]
    rows = []
    for seed in seeds:
        layer, X = sc.planted_data(m, d, k, n_train, seed, 1.0)
        n = len(X)
        Xt = pm.sample_boolean(sc.N_TEST, k, d, rng=np.random.default_rng([seed, 2]))
        t0 = time.perf_counter()
        res = pm.learn(X, layer(X), m, rng=seed, holdout=sc.N_HOLDOUT / n, strict=False, restarts=restarts)
        runs = next(p for p in res.phases if p.name == "search").info["runs"]
        rows.append({"cell": f"({m},{d},{k},1)", "n_train": n_train, "seed": seed, "restarts_allowed": restarts,
                     "starts_run": len(runs), "best_start_residual": min(r["relative_residual"] for r in runs),
                     "test_rel_error": pm.relative_error(res.layer, Xt, layer(Xt)),
                     "seconds": round(time.perf_counter() - t0, 2), "load": round(os.getloadavg()[0], 2)})
        log(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="two small cells, 3 seeds; writes *_quick.csv, no probe")
    p.add_argument("--no-probe", action="store_true", help="skip the 1000-start probe")
    args = p.parse_args(argv)
    if args.quick:
        cells, seeds = QUICK, 3
    else:
        cells = [(c.m, c.d, c.k, c.scale) for c in GRID if 2 * c.m * c.d * c.d <= MAX_PARAMETERS]
        seeds = 10
    suffix = "_quick" if args.quick else ""
    print(f"wrote {write_rows(RESULTS / f'local_identifiability{suffix}.csv', rank_rows(cells, seeds))}")
    if not (args.quick or args.no_probe):
        print(f"wrote {write_rows(RESULTS / 'raw' / 'restart_probe.csv', probe())}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
