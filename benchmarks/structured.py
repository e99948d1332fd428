"""The structured (constraint-generation) learner: targets, generation vs all-at-once, width vs n.

Four studies, each printing its table and writing ``benchmarks/results/structured_<name>.csv``:

* ``targets`` — planted cells with m*k > d and m up to 4: recovered (test error <= 1e-8 on 2000
  fresh inputs) and certified, wall time, parameter radius against the true error, examples the
  body used out of the training examples (3x the information limit n*, 20 held out).
* ``generation`` — problems with a large pool (10x n*) learned by constraint generation (default)
  and with every example active from the first round (``init_factor`` large: "all at once"):
  constraints in the final body and wall time.
* ``widths`` — the body's radius on the first n examples at one fit (exact labels and noise
  sigma = 1e-8), n from below the 2md/k count to 20x; the rate of the noisy radius in n is fitted
  on log-log (least squares, slope with its standard error).
* ``samples`` — the smallest n/n* at which (a) the structured body certifies a parameter radius
  <= 1e-6 and (b) the practical method reaches test error <= 1e-6, in every one of the seeds.

Usage: ``OPENBLAS_NUM_THREADS=1 python benchmarks/structured.py [--quick] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import math
import resource
import statistics
import time
from pathlib import Path

import numpy as np
from _results import write_rows

import provable_mha as pm
from provable_mha.learner.structured.trajectory import body_trajectory

OUT = Path(__file__).parent / "results"
N_TEST = 2000
N_HOLD = 20


def _data(m, d, k, seed, n_train, sigma=0.0):
    truth = pm.planted_instance(m, d, k, rng=seed)
    X = pm.sample_boolean(n_train + N_HOLD, k, d, 100 + seed)
    Y = truth(X)
    if sigma:
        Y = Y + sigma * np.random.default_rng(seed).standard_normal(Y.shape)
    return truth, X, Y, N_HOLD / (n_train + N_HOLD)


def _block_error(truth, layer):
    perm = pm.match_heads(truth, layer).perm
    return max(max(np.linalg.norm(truth.thetas[i] - layer.thetas[j]), np.linalg.norm(truth.ws[i] - layer.ws[j]))
               for i, j in enumerate(perm))


def _write(name, rows):
    if rows:
        write_rows(OUT / f"structured_{name}.csv", rows)


def targets(quick):
    cells = [(2, 8, 8), (3, 16, 4)] if quick else [(2, 8, 8), (3, 16, 4), (3, 16, 8), (4, 16, 8), (4, 8, 4)]
    rows = []
    for m, d, k in cells:
        n_train = math.ceil(3 * pm.learner.information_limit(m, d, k))
        runs = []
        for seed in range(1 if quick else 3):
            truth, X, Y, h = _data(m, d, k, seed, n_train)
            t0 = time.perf_counter()
            res = pm.learn(X, Y, m, method="structured", rng=seed, holdout=h, strict=False)
            secs = time.perf_counter() - t0
            Xt = pm.sample_boolean(N_TEST, k, d, 999)
            body = [r for r in res.rounds if r["phase"] == "body"][-1]
            runs.append({"ok": pm.relative_error(res.layer, Xt, truth(Xt)) <= 1e-8 and res.certificate.certified,
                         "secs": secs, "radius": res.certificate.param_radius, "err": _block_error(truth, res.layer),
                         "used": body["n_examples"]})
        ok = sum(r["ok"] for r in runs)
        row = {"cell": f"({m},{d},{k})", "n_train": n_train, "recovered_certified": f"{ok}/{len(runs)}",
               "median_seconds": round(statistics.median(r["secs"] for r in runs), 2),
               "max_radius": max((r["radius"] or math.inf) for r in runs),
               "max_true_error": max(r["err"] for r in runs),
               "examples_in_body": f"{min(r['used'] for r in runs)}-{max(r['used'] for r in runs)}",
               "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
        rows.append(row)
        print(row, flush=True)
    return rows


def generation(quick):
    rows = []
    for m, d, k, factor in [(2, 8, 4, 10)] if quick else [(2, 8, 4, 10), (3, 16, 8, 10), (4, 16, 8, 10)]:
        n_train = math.ceil(factor * pm.learner.information_limit(m, d, k))
        for mode, opts in (("generation", {}), ("all at once", {"init_factor": 1e6})):
            secs, cons = [], []
            for seed in range(1 if quick else 3):
                truth, X, Y, h = _data(m, d, k, seed, n_train)
                t0 = time.perf_counter()
                res = pm.learn(X, Y, m, method="structured", rng=seed, holdout=h, **opts)
                secs.append(time.perf_counter() - t0)
                cons.append([r for r in res.rounds if r["phase"] == "body"][-1]["n_constraints"])
            rows.append({"cell": f"({m},{d},{k})", "n_train": n_train, "mode": mode,
                         "median_constraints": int(statistics.median(cons)),
                         "median_seconds": round(statistics.median(secs), 2)})
            print(rows[-1], flush=True)
    return rows


def widths(quick):
    m, d, k = 2, 8, 4
    sizes = [4, 6, 8, 10, 12, 16, 24, 32, 48, 64, 96, 128, 160]
    rows, slope = [], None
    for sigma in (0.0, 1e-8):
        truth, X, Y, h = _data(m, d, k, 0, 160, sigma)
        fit = pm.learn(X, Y, m, rng=0, noise=sigma, holdout=h)
        traj = body_trajectory(X[:160], Y[:160], np.asarray(fit.layer.thetas), np.asarray(fit.layer.ws), sizes,
                               noise=sigma)
        err = _block_error(truth, fit.layer)
        for n, t in zip(sizes, traj, strict=True):
            rows.append({"sigma": sigma, "n": n, "n_over_2md_k": n / 8, "radius": t.radius or math.inf,
                         "true_error": err})
        pts = [(n, t.radius) for n, t in zip(sizes, traj, strict=True) if t.radius and n >= 16]
        if sigma and len(pts) > 2:
            A = np.vstack([np.log([p[0] for p in pts]), np.ones(len(pts))]).T
            y = np.log([p[1] for p in pts])
            coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
            se = math.sqrt(float(res[0]) / (len(pts) - 2) / np.sum((A[:, 0] - A[:, 0].mean()) ** 2)) if res.size else 0
            slope = (float(coef[0]), se)
    for r in rows:
        print(r)
    if slope:
        print(f"noisy radius ~ n^{slope[0]:.2f} (standard error {slope[1]:.2f})")
        for r in rows:
            r["fitted_slope_noisy"] = round(slope[0], 3)
    return rows


def samples(quick):
    m, d, k = 2, 8, 4
    nstar = pm.learner.information_limit(m, d, k)
    seeds = range(2 if quick else 5)
    rows = []
    for method in ("structured", "practical"):
        found = None
        for factor in (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0):
            n_train = math.ceil(factor * nstar)
            ok = 0
            for seed in seeds:
                truth, X, Y, h = _data(m, d, k, seed, n_train)
                res = pm.learn(X, Y, m, method=method, rng=seed, holdout=h, strict=False)
                Xt = pm.sample_boolean(N_TEST, k, d, 999)
                if method == "structured":
                    ok += (res.certificate.param_radius or math.inf) <= 1e-6 and res.certificate.certified
                else:
                    ok += pm.relative_error(res.layer, Xt, truth(Xt)) <= 1e-6
            if ok == len(seeds):
                found = (factor, n_train)
                break
        rows.append({"cell": f"({m},{d},{k})", "method": method,
                     "target": "param radius <= 1e-6" if method == "structured" else "test error <= 1e-6",
                     "smallest_n_over_nstar": found[0] if found else "> 4", "n_train": found[1] if found else "",
                     "seeds": len(seeds)})
        print(rows[-1], flush=True)
    return rows


STUDIES = {"targets": targets, "generation": generation, "widths": widths, "samples": samples}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one seed, the smallest cells; nothing written")
    p.add_argument("--only", nargs="*", choices=list(STUDIES), default=list(STUDIES))
    args = p.parse_args(argv)
    for name in args.only:
        print(f"== {name}", flush=True)
        rows = STUDIES[name](args.quick)
        if not args.quick:
            _write(name, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
