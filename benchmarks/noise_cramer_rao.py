"""Noisy fits against the Cramér–Rao prediction of their test error.

Under i.i.d. Gaussian label noise of level sigma, least squares is maximum likelihood. Its
parameter error is, to first order, N(0, sigma^2 H^{-1}) with H = J^T J the Fisher information
(times sigma^2) of the training inputs at the truth (all 2md^2 parameters), so the expected squared
test error is sigma^2 tr(H^{-1} G), G = J_test^T J_test on the test inputs: the Cramér–Rao
prediction of the relative test error is sigma sqrt(tr(H^{-1} G)) / ||Y_test||_F (no estimator
unbiased to first order does better). The benchmark fits ``pm.learn(X, Y, m, noise=sigma)`` and
prints measured / predicted per cell (median and range over seeds); the issue's target is
<= 1.2.

Usage: ``OPENBLAS_NUM_THREADS=1 python benchmarks/noise_cramer_rao.py [--quick]``; writes
``benchmarks/results/noise_cramer_rao.csv`` (not with ``--quick``).
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

import numpy as np
from _results import write_rows

import provable_mha as pm
from provable_mha.learner.design import joint_normal_equations

OUT = Path(__file__).parent / "results" / "noise_cramer_rao.csv"
N_TEST, N_HOLD = 500, 20


def predicted_error(truth, X_train, X_test, sigma) -> float:
    """The Cramér–Rao (first-order ML) relative test error of the module docstring."""
    th, ws = np.asarray(truth.thetas), np.asarray(truth.ws)
    zeros = lambda X: np.zeros((X.shape[0] * X.shape[1], X.shape[2]))  # noqa: E731
    H, _ = joint_normal_equations(th, ws, X_train, zeros(X_train))
    G, _ = joint_normal_equations(th, ws, X_test, zeros(X_test))
    return float(sigma * math.sqrt(np.trace(np.linalg.solve(H, G))) / np.linalg.norm(truth(X_test)))


def run_cell(m, d, k, factor, sigma, seeds):
    n_train = math.ceil(factor * pm.learner.information_limit(m, d, k))
    ratios = []
    for seed in seeds:
        truth = pm.planted_instance(m, d, k, rng=seed)
        X = pm.sample_boolean(n_train + N_HOLD, k, d, 100 + seed)
        Y = truth(X) + sigma * np.random.default_rng(seed).standard_normal(X.shape)
        res = pm.learn(X, Y, m, noise=sigma, rng=seed, holdout=N_HOLD / (n_train + N_HOLD), strict=False)
        Xt = pm.sample_boolean(N_TEST, k, d, 999)
        train = np.setdiff1d(np.arange(len(X)), np.random.default_rng(seed).permutation(len(X))[:N_HOLD])
        pred = predicted_error(truth, X[train], Xt, sigma)
        ratios.append(pm.relative_error(res.layer, Xt, truth(Xt)) / pred)
    return {"cell": f"({m},{d},{k})", "n_over_nstar": factor, "sigma": sigma, "seeds": len(ratios),
            "median_ratio": round(statistics.median(ratios), 3), "min_ratio": round(min(ratios), 3),
            "max_ratio": round(max(ratios), 3)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    cells = [(2, 8, 4, 3, 1e-3)] if args.quick else [
        (m, d, k, f, s) for (m, d, k) in [(1, 8, 4), (2, 8, 4), (3, 8, 4), (2, 16, 8)]
        for f in (3, 6) for s in (1e-4, 1e-2)]
    rows = []
    for m, d, k, f, s in cells:
        rows.append(run_cell(m, d, k, f, s, range(2 if args.quick else 5)))
        print(rows[-1], flush=True)
    if not args.quick:
        write_rows(OUT, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
