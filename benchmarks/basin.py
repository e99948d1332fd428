"""How wide is the planted layer's basin, and how close must a start be? (the two missed frontier cells)

Usage (``docs/frontier.md`` §8 and ``docs/learner.md``, "(8,64,16) at 1.5 n*", report the results)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/basin.py          # ~12 min
    OPENBLAS_NUM_THREADS=1 python benchmarks/basin.py --quick  # smoke run, *_quick.csv

Per cell (m, d, k, planted scale, multiple of n*) and seed: the planted layer and training examples of
``frontier.py`` (``continuation.training_set``), then plain ``practical.local_search`` runs (no path)
from three kinds of start, ``DRAWS`` each (``default_rng([seed, 98])``):

* ``perturbed``: :math:`\\Theta_i^* + \\varepsilon\\,\\|\\Theta_i^*\\|_F\\,G_i/\\|G_i\\|_F` (G standard
  Gaussian), for each ε of ``EPS``; head i of the start has cosine about :math:`1/\\sqrt{1+\\varepsilon^2}`
  to planted head i;
* ``span mixture``: :math:`\\Theta_i = \\sum_j G_{ij}\\Theta_j^*` (G an m x m Gaussian), each scaled to
  the planted heads' mean norm: the planted span, the heads mixed;
* ``random``: ``practical.start_points`` (the search's own starts).

Reported: starts converged (relative training residual <= ``policy.EXACT_FIT_REL``), the median over
starts of the mean over heads of each start head's largest |cosine| to a planted head, and seconds per
start. A probe of the landscape, not of ``pm.learn``: no path, no restarts, no certificate.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
from _results import one_csv_main
from continuation import training_set

from provable_mha.learner import policy, practical

#: (m, d, k, planted scale, multiple of n*, seeds, draws per kind of start): the two cells the
#: frontier misses at 1.5 n* (docs/frontier.md §1)
CELLS = [(2, 8, 16, 1.0, 1.5, 5, 10), (8, 64, 16, 1.0, 1.5, 2, 2)]
QUICK = [(1, 4, 3, 1.0, 1.5, 2, 2)]
EPS = (0.3, 0.6, 1.0, 1.5, 2.0)


def starts(T: np.ndarray, rng: np.random.Generator, draws: int):
    """``(kind, eps, theta0)``: the perturbed, span-mixture and random starts of the module docstring."""
    m, d, _ = T.shape
    norms = np.linalg.norm(T.reshape(m, -1), axis=1)
    for eps in EPS:
        for _ in range(draws):
            G = rng.standard_normal(T.shape)
            yield "perturbed", eps, T + eps * (norms / np.linalg.norm(G.reshape(m, -1), axis=1))[:, None, None] * G
    for _ in range(draws):
        S = np.einsum("ij,jpq->ipq", rng.standard_normal((m, m)), T)
        yield "span mixture", "", S * (norms.mean() / np.linalg.norm(S.reshape(m, -1), axis=1))[:, None, None]
    for _, th0 in practical.start_points(m, d, rng, draws):
        yield "random", "", th0


def closeness(theta0: np.ndarray, T: np.ndarray) -> float:
    """Mean over the start's heads of the largest |cosine| to a planted head."""
    a, b = (x.reshape(len(x), -1) / np.linalg.norm(x.reshape(len(x), -1), axis=1)[:, None] for x in (theta0, T))
    return float(np.abs(a @ b.T).max(axis=1).mean())


def run(cells, log=print) -> list[dict]:
    rows = []
    for m, d, k, scale, f, seeds, draws in cells:
        tally: dict = {}
        for seed in range(seeds):
            X, Y, layer = training_set(m, d, k, scale, f, seed)
            T = np.asarray(layer.thetas)
            for kind, eps, th0 in starts(T, np.random.default_rng([seed, 98]), draws):
                t0 = time.perf_counter()
                res = practical.local_search(X, Y, m, th0)
                entry = tally.setdefault((kind, eps), [0, 0, [], 0.0])
                entry[0] += 1
                entry[1] += res.relative_residual <= policy.EXACT_FIT_REL
                entry[2].append(closeness(th0, T))
                entry[3] += time.perf_counter() - t0
        for (kind, eps), (runs, ok, cos, secs) in tally.items():
            rows.append({"cell": f"({m},{d},{k},{scale:g})", "n_train": len(X), "x_n_star": f, "seeds": seeds,
                         "start": kind, "eps": eps, "runs": runs, "converged": ok,
                         "median_start_cosine": round(float(np.median(cos)), 3),
                         "seconds_per_start": round(secs / runs, 3), "load": round(os.getloadavg()[0], 2)})
            log(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    return one_csv_main(__doc__, "one tiny cell, 2 seeds x 2 draws; *_quick.csv", "basin",
                        lambda: run(CELLS), lambda: run(QUICK), argv)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
