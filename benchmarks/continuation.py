"""Per-start success of the practical search's start configurations near n*.

Usage (``docs/learner.md``, "Continuation", reports the results)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/continuation.py          # ~70 min
    OPENBLAS_NUM_THREADS=1 python benchmarks/continuation.py --quick  # smoke run, *_quick.csv

``start_scales.py`` counts the starts ``pm.learn`` needs; this script looks at single starts. Per
cell (m, d, k, planted scale, multiple of n*): for seeds 0..2 the planted layer and training examples of
``frontier.py`` (``sample_complexity.planted_data``, the split of ``pm.learn(rng=seed)``), then
``STARTS`` random starts per seed (``practical.start_points`` from ``default_rng([seed, 99])``),
each run by ``practical.local_search`` with a configuration of ``start_scales.CONFIGS`` (release 1
has no path; start j follows ``practical.start_path(j + 1, ...)``, so the default alternates its
first weight, 1e-2, 1e-3, 1e-2, ...), plus the path always begun at 1e-3, and on the matrix-free
cells (m d^2 > ``practical.DENSE_MAX_PARAMS``) the default with the path's inner LSMR solves at
1e-3 for every weight (as before ``practical.PATH_LSMR_RTOL``) and at 1e-5 for every weight (as before
``practical.PATH_ACCURATE_MIN``); the dense steps are exact either way. Reported: accepted starts
(relative residual <= 1e-10), seconds per start and seconds per accepted start (time to a success at
that rate).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import sample_complexity as sc  # sibling script
from _results import one_csv_main
from learner_vs_baselines import learn_split
from start_scales import CONFIGS as START_CONFIGS
from start_scales import _path_rule

from provable_mha.learner import policy, practical

SEEDS, STARTS = 3, 30
#: name -> (start_scales, ridge_path, iterations per weight, stall rule, path_starts): start_scales.py's
#: four and the path always begun at 1e-3
CONFIGS = {**START_CONFIGS, "path from 1e-3": (*START_CONFIGS["path from 1e-2"][:4], (1e-3,))}
#: name -> (configuration it varies, LSMR tolerance of the path, the lightest weight that gets it (0: every
#: weight; the default is ``practical.PATH_ACCURATE_MIN``)): run on matrix-free cells only
TOLERANCE_CONFIGS = {"default, path LSMR 1e-3": ("continuation (default)", 1e-3, 0.0),
                     "default, path LSMR 1e-5 throughout": ("continuation (default)", 1e-5, 0.0)}
#: (m, d, k, planted scale, multiple of n*)
CELLS = [(2, 8, 4, 1.0, 1.25), (4, 16, 8, 1.0, 1.5), (4, 32, 8, 1.0, 1.5), (8, 8, 4, 1.0, 1.5), (2, 8, 4, 4.0, 1.5)]
QUICK = [(1, 4, 3, 1.0, 1.5), (1, 24, 3, 1.0, 1.5)]  # the second: matrix-free (576 > 512 parameters)


def training_set(m: int, d: int, k: int, scale: float, f: float, seed: int):
    """``(X, Y, layer)``: the examples ``pm.learn(rng=seed, holdout=10/n)`` trains on in ``frontier.py``'s
    run, and the planted layer that labelled them."""
    n_train = sc.train_sizes(m, d, k, (f,))[0][1]
    layer, X = sc.planted_data(m, d, k, n_train, seed, scale)
    tr = learn_split(len(X), seed, holdout=sc.N_HOLDOUT / len(X))
    return X[tr], layer(X[tr]), layer


def configurations(m: int, d: int):
    """(name, configuration, (path LSMR tolerance, lightest path weight solved to it)) run on a cell:
    every ``CONFIGS`` entry at the defaults, and the ``TOLERANCE_CONFIGS`` where the steps are matrix-free."""
    out = [(name, cfg, (practical.PATH_LSMR_RTOL, practical.PATH_ACCURATE_MIN)) for name, cfg in CONFIGS.items()]
    if practical.uses_matrix_free(m, d):
        out += [(name, CONFIGS[base], (rtol, cut)) for name, (base, rtol, cut) in TOLERANCE_CONFIGS.items()]
    return out


def run(cells, seeds: int, starts: int, log=print) -> list[dict]:
    rows = []
    for m, d, k, scale, f in cells:
        data = [training_set(m, d, k, scale, f, s) for s in range(seeds)]
        for name, (scales, path, iters, stall, firsts), (rtol, cut) in configurations(m, d):
            ok, secs = 0, 0.0
            with _path_rule(iters, stall):
                for s, (X, Y, _) in enumerate(data):
                    gen = np.random.default_rng([s, 99])
                    for j, (_, th0) in enumerate(practical.start_points(m, d, gen, starts, scales)):
                        t0 = time.perf_counter()
                        run_ = practical.local_search(X, Y, m, th0, path_lsmr_rtol=rtol, path_accurate_min=cut,
                                                      ridge_path=practical.start_path(j + 1, path, firsts))
                        secs += time.perf_counter() - t0
                        ok += run_.relative_residual <= policy.EXACT_FIT_REL
            total = seeds * starts
            rows.append({"cell": f"({m},{d},{k},{scale:g})", "n_train": len(data[0][0]), "x_n_star": f, "starts": name,
                         "runs": total, "accepted": ok, "seconds_per_start": round(secs / total, 3),
                         "seconds_per_accepted": round(secs / ok, 2) if ok else "inf",
                         "load": round(os.getloadavg()[0], 2)})
            log(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    return one_csv_main(__doc__, "two small cells (one matrix-free), 2 seeds x 3 starts; *_quick.csv",
                        "continuation", lambda: run(CELLS, SEEDS, STARTS), lambda: run(QUICK, 2, 3), argv)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
