"""Does basin hopping from failed starts pay? The practical search with and without hops.

Usage (``docs/learner.md``, "Basin hopping", reports the results)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/hops.py          # ~13 min at load 2
    OPENBLAS_NUM_THREADS=1 python benchmarks/hops.py --quick  # smoke run, *_quick.csv

Per cell (m, d, k, planted scale, multiple of n*) and seed: the planted layer and training examples of
``frontier.py`` (``continuation.training_set``), then ``practical.practical`` twice on the same data
and the same start generator (``default_rng([seed, 97])``), at most ``RESTARTS`` starts each: once
with hops (the default rule, :func:`provable_mha.learner.hopping.hop_patience`) and once without
(``hops=0``).

Reported per cell and arm: seeds whose fit was accepted, the median seconds per seed, the median
number of starts and hops, and how many seeds recover the planted layer to relative test error
``sample_complexity.SUCCESS`` (1e-8)
on 1000 fresh inputs (acceptance by the training residual alone is not recovery).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import sample_complexity as sc  # sibling script
from _results import one_csv_main
from continuation import training_set

import provable_mha as pm
from provable_mha.learner import practical
from provable_mha.learner.problem import Problem

#: (m, d, k, planted scale, multiple of n*, seeds): dense cells (hops on). (2,8,16) and scale 8 at a
#: size the frontier's search without hops failed (docs/frontier.md §1); (2,8,4) at one it passed,
#: for the cost of hops where fresh starts succeed
CELLS = [(2, 8, 16, 1.0, 1.5, 10), (2, 8, 4, 1.0, 1.25, 10), (2, 8, 4, 8.0, 1.5, 6)]
QUICK = [(1, 4, 3, 1.0, 1.0, 2)]
RESTARTS = 100  # pm.learn's default


def one(X, Y, layer, m: int, seed: int, hops: int | None) -> dict:
    """One practical search; its acceptance, cost and test error."""
    opts = {} if hops is None else {"hops": hops}
    t0 = time.perf_counter()
    cand = practical.practical(Problem(X, Y, m, restarts=RESTARTS, options=opts), np.random.default_rng([seed, 97]))
    secs = time.perf_counter() - t0
    Xt = pm.sample_boolean(1000, X.shape[1], X.shape[2], np.random.default_rng([seed, 96]))
    err = pm.relative_error(pm.MultiHeadAttention(cand.thetas, cand.ws), Xt, layer(Xt))
    sizes = cand.phases[0].sizes
    return {"accepted": cand.accepted, "recovered": err <= sc.SUCCESS, "seconds": secs, "starts": sizes["starts"],
            "hops": sizes["hops"]}


def run(cells, log=print) -> list[dict]:
    rows = []
    for m, d, k, scale, f, seeds in cells:
        data = [training_set(m, d, k, scale, f, seed) for seed in range(seeds)]  # both arms, the same examples
        for arm, hops in (("hops", None), ("no hops", 0)):
            out = [one(X, Y, layer, m, seed, hops) for seed, (X, Y, layer) in enumerate(data)]
            rows.append({"cell": f"({m},{d},{k},{scale:g})", "n_train": len(data[0][0]), "x_n_star": f, "arm": arm,
                         "seeds": seeds, "restarts": RESTARTS, "accepted": sum(o["accepted"] for o in out),
                         "recovered": sum(o["recovered"] for o in out),
                         "median_seconds": round(statistics.median(o["seconds"] for o in out), 2),
                         "median_starts": statistics.median(o["starts"] for o in out),
                         "median_hops": statistics.median(o["hops"] for o in out),
                         "load": round(os.getloadavg()[0], 2)})
            log(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    return one_csv_main(__doc__, "one tiny cell, 2 seeds; *_quick.csv", "hops",
                        lambda: run(CELLS), lambda: run(QUICK), argv)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
