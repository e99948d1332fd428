"""The learner's least-squares core against scipy.optimize.least_squares on the same problem.

Problem: the variable-projection residual r(Θ) = (I - D(Θ)D(Θ)^+) Y of the practical strategy,
planted layers, 3x the 2md/k example count, one start near the truth (Θ* + 0.05 G) so that every
solver converges and only the cost per solve is compared. Solvers, each run to a relative residual
of 1e-10 (or its own stopping rule):

* ``ours``       — :func:`provable_mha.learner.lsq.levenberg_marquardt` with Kaufman's normal
                   equations formed from structure (never the Jacobian);
* ``scipy-lm``   — MINPACK LM (``method="lm"``) with the same Kaufman Jacobian formed explicitly;
* ``scipy-trf``  — trust-region reflective (``method="trf"``, ``tr_solver="exact"``), same Jacobian.

Prints one row per (cell, solver): seconds (median of 3), final relative residual, Jacobian
evaluations; writes ``benchmarks/results/lsq_core.csv``. Run with ``OPENBLAS_NUM_THREADS=1``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from _results import write_rows
from scipy.optimize import least_squares

import provable_mha as pm
from provable_mha.learner import design, practical

OUT = Path(__file__).parent / "results" / "lsq_core.csv"
CELLS = [(2, 8, 4), (3, 8, 4), (2, 16, 8), (4, 16, 8)]


def kaufman_jacobian(t, X, Y, m):
    """-P_perp J_Theta formed explicitly (what a dense solver needs)."""
    n, k, d = X.shape
    step = design.w_step(t.reshape(m, d, d), X, Y)
    J = design.theta_jacobian(t.reshape(m, d, d), step.W.reshape(m, d, d), X).reshape(n * k, d, -1)
    J -= np.einsum("rs,sej->rej", step.Q, np.einsum("rs,rej->sej", step.Q, J, optimize=True), optimize=True)
    return -J.reshape(n * k * d, -1)


def run_cell(m, d, k, seed):
    layer = pm.planted_instance(m, d, k, rng=seed)
    n = 3 * pm.learner.min_examples(m, d, k)
    X = pm.sample_boolean(n, k, d, seed + 1)
    Y = layer(X)
    t0 = (np.asarray(layer.thetas) + 0.05 * np.random.default_rng(seed).standard_normal((m, d, d))).ravel()
    norm = float(np.linalg.norm(Y))
    fun = lambda t: practical.varpro_residual(t, X, Y, m)[0]
    out = {}

    def timed(name, call):
        secs, res = [], None
        for _ in range(3):
            s = time.perf_counter()
            res = call()
            secs.append(time.perf_counter() - s)
        out[name] = (statistics.median(secs), *res)

    def ours():
        run = practical.local_search(X, Y, m, t0.reshape(m, d, d))
        return run.relative_residual, run.iterations

    def scipy_method(method):
        def call():
            kw = {"tr_solver": "exact"} if method == "trf" else {}
            r = least_squares(fun, t0, jac=lambda t: kaufman_jacobian(t, X, Y, m), method=method,
                              xtol=1e-15, ftol=1e-15, gtol=1e-15, **kw)
            return float(np.linalg.norm(r.fun) / norm), int(r.njev)
        return call

    timed("ours", ours)
    timed("scipy-lm", scipy_method("lm"))
    timed("scipy-trf", scipy_method("trf"))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="first cell only")
    args = p.parse_args(argv)
    rows = []
    for m, d, k in CELLS[:1] if args.quick else CELLS:
        res = run_cell(m, d, k, seed=0)
        base = res["ours"][0]
        for name, (secs, rel, jevs) in res.items():
            rows.append({"cell": f"({m},{d},{k})", "solver": name, "seconds": round(secs, 4),
                         "ratio_to_ours": round(secs / base, 2), "relative_residual": f"{rel:.1e}",
                         "jacobians": jevs})
            print(f"{rows[-1]['cell']:>10} {name:>10} {secs:8.3f} s  x{secs / base:6.1f}  residual {rel:.1e}  "
                  f"jacobians {jevs}", flush=True)
    if not args.quick:
        write_rows(OUT, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
