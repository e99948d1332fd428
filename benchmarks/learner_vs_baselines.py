"""The learner against two baselines, in one process, on identical samples.

Usage::

    python benchmarks/learner_vs_baselines.py            # full grid, 3 seeds, 120 s cap
    OPENBLAS_NUM_THREADS=1 python benchmarks/learner_vs_baselines.py --time-cap 60   # the committed results (~25 min)
    python benchmarks/learner_vs_baselines.py --quick    # smoke run: 2 small cells, 1 seed
    python benchmarks/learner_vs_baselines.py --summarize benchmarks/results/raw/learner.csv

Methods, each on the *same* planted instance and the *same* training examples:

* ``ours`` — ``pm.learn(X, Y, m, method="practical")`` on ``n_train`` training plus 20% held-out
  examples (the wall time includes the certificate, which the baselines do not compute);
* ``a_fd_varpro_lm`` — the reference baseline, :func:`provable_mha.baselines.fd_varpro_lm`:
  variable projection, MINPACK LM with a 2-point finite-difference Jacobian, up to 5 random
  starts, stop at the first success;
* ``b_adam`` — :func:`provable_mha.baselines.adam_joint`: Adam on the squared loss over
  (Θ, W) with the analytic gradient, 5000 steps per start, lr 3e-2 cosine-decayed to 1e-5, up to
  3 starts.

The baselines get exactly the training examples ``pm.learn`` trains on (its split is reproduced
from its seed and checked against ``LearnResult.train_relative_error``). Success: relative test
error <= 1e-8 on 2000 fresh Boolean examples. A baseline that hits the time cap counts as a
failure. Seeds are the outer loop, and every row is appended to the CSV as soon as it is
measured, so an interrupted run still leaves complete cells for the first seeds.

Output. One row per (seed, cell, method) in ``benchmarks/results/raw/learner.csv``, columns:
``method``, ``cell`` (label), ``m, d, k,
scale``, ``variant`` (planted / near_degenerate / spec_reference), ``seed``, ``n_train``,
``n_holdout`` (ours only), ``info_limit`` (ceil 2md/k), ``samples_multiple`` (n_train /
info_limit), ``success`` (0/1), ``test_rel_error``, ``train_rel_error``, ``seconds`` (wall time
of the call), ``ratio_to_a`` (seconds / seconds of a on the same seed and cell), ``restarts``
(starts run), ``timed_out``, ``time_cap``, ``search_seconds`` (ours: the search phase),
``load_before, load_after`` (1-minute load average), ``cpus``, ``blas_threads``.
The table per (cell, method) goes to ``benchmarks/results/learner.csv`` (rendered into the
README), columns: ``method``, ``cell``, ``n_train``, ``x_info_limit`` (n_train / ceil 2md/k),
``success`` (successes/seeds), ``median_seconds``, ``ratio_to_a`` (median seconds / median
seconds of a in the same cell and run), ``timeouts``, ``median_load`` (1-minute load average
after the calls, on ``cpus`` cores). ``--quick`` writes ``learner_quick.csv`` beside each.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import time
from pathlib import Path

import numpy as np

import provable_mha as pm
from provable_mha.baselines import adam_joint, fd_varpro_lm
from provable_mha.learner.api import split_indices

SUCCESS = 1e-8
N_TEST = 2000
HOLDOUT = 0.2
FIELDS = ["method", "cell", "m", "d", "k", "scale", "variant", "seed", "n_train", "n_holdout",
          "info_limit", "samples_multiple", "success", "test_rel_error", "train_rel_error",
          "seconds", "ratio_to_a", "restarts", "timed_out", "time_cap", "search_seconds",
          "load_before", "load_after", "cpus", "blas_threads"]
GRID = [(m, d, k, s, "planted", None) for (m, d, k) in [(1, 8, 4), (2, 8, 4), (3, 8, 4),
                                                         (2, 16, 8), (4, 16, 8)] for s in (1, 2)]
EXTRA = [(2, 8, 4, 3, "planted", None),            # sharp attention
         (2, 8, 4, 1, "near_degenerate", None),    # Θ_2 = Θ_1 + 0.1 (Θ_2' - Θ_1)
         (3, 6, 4, 2, "spec_reference", 400)]      # the setting where the baseline was first measured
QUICK = [(1, 8, 4, 1, "planted", None), (2, 8, 4, 1, "planted", None)]


def info_limit(m: int, d: int, k: int) -> int:
    """The information limit ceil(2md/k) on training examples."""
    return math.ceil(2 * m * d / k)


def instance(m, d, k, scale, variant, seed):
    """The planted layer of one cell; ``near_degenerate`` pulls head 2 towards head 1."""
    inst = pm.planted_instance(m=m, d=d, k=k, scale=scale, rng=10_000 + seed)
    if variant != "near_degenerate":
        return inst
    th = inst.thetas.copy()
    th[1] = th[0] + 0.1 * (th[1] - th[0])
    return pm.MultiHeadAttention(th, inst.ws)


def total_for(n_train: int, holdout: float = HOLDOUT) -> int:
    """Smallest n whose ``pm.learn`` split leaves exactly ``n_train`` training examples."""
    n = n_train + 1
    while n - max(1, int(round(holdout * n))) < n_train:
        n += 1
    if n - max(1, int(round(holdout * n))) != n_train:
        raise ValueError(f"no total gives exactly {n_train} training examples")
    return n


def learn_split(n: int, seed: int, holdout: float = HOLDOUT):
    """Training indices of ``pm.learn(..., holdout=holdout, rng=seed)`` (its permutation, reproduced)."""
    return split_indices(n, holdout, np.random.default_rng(seed))[0]


def _run_cell(cell, seed, cap, writer, fh):
    m, d, k, scale, variant, n_fixed = cell
    label = f"({m},{d},{k},{scale})" + ("" if variant == "planted" else f" {variant}")
    lim = info_limit(m, d, k)
    n_train = n_fixed or 3 * lim
    n = total_for(n_train)
    inst = instance(m, d, k, scale, variant, seed)
    X = pm.sample_boolean(n, k, d, 20_000 + seed)
    Y = inst(X)
    Xt = pm.sample_boolean(N_TEST, k, d, 30_000 + seed)
    Yt = inst(Xt)
    learn_seed = 40_000 + seed
    tr = learn_split(n, learn_seed)
    Xtr, Ytr = X[tr], Y[tr]
    base = {"cell": label, "m": m, "d": d, "k": k, "scale": scale, "variant": variant, "seed": seed,
            "n_train": n_train, "info_limit": lim, "samples_multiple": n_train / lim,
            "time_cap": cap, "cpus": os.cpu_count(),
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default")}
    rows = []

    def record(method, fn):
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        out = fn()
        secs = time.perf_counter() - t0
        layer = out.pop("layer")
        row = {**base, "method": method, "seconds": secs, "load_before": load0,
               "load_after": os.getloadavg()[0], **out}
        row["test_rel_error"] = math.inf if layer is None else pm.relative_error(layer, Xt, Yt)
        row["success"] = int(row["test_rel_error"] <= SUCCESS and not row.get("timed_out", 0))
        rows.append(row)

    def ours():
        try:
            res = pm.learn(X, Y, m, method="practical", holdout=HOLDOUT, rng=learn_seed, strict=False)
        except pm.LearnError:  # strict=False: only solver failures and the like get here
            return {"layer": None, "train_rel_error": float("nan"), "timed_out": 0}
        check = pm.relative_error(res.layer, Xtr, Ytr)
        if res.n_train != n_train or not math.isclose(check, res.train_relative_error, rel_tol=1e-6,
                                                      abs_tol=1e-14):
            raise RuntimeError("pm.learn's training split was not reproduced; baselines would see "
                               "other examples")
        search = [p for p in res.phases if p.name == "search"]
        runs = search[0].sizes.get("starts", "") if search else ""
        return {"layer": res.layer, "train_rel_error": res.train_relative_error, "timed_out": 0,
                "n_holdout": res.n_holdout, "restarts": runs,
                "search_seconds": search[0].seconds if search else ""}

    def baseline(fn, **kw):
        def go():
            r = fn(Xtr, Ytr, m, rng=50_000 + seed, time_cap=cap, **kw)
            return {"layer": r.layer, "train_rel_error": r.train_relative_error,
                    "restarts": r.restarts, "timed_out": int(r.timed_out)}
        return go

    record("ours", ours)
    record("a_fd_varpro_lm", baseline(fd_varpro_lm, restarts=5))
    record("b_adam", baseline(adam_joint, restarts=3))
    t_a = rows[1]["seconds"]
    for row in rows:
        row["ratio_to_a"] = row["seconds"] / t_a
        writer.writerow({f: row.get(f, "") for f in FIELDS})
        print(f"  seed {seed} {label:<28} {row['method']:<15} ok={row['success']} "
              f"err={row['test_rel_error']:.1e} {row['seconds']:7.1f}s load={row['load_after']:.1f}",
              flush=True)
    fh.flush()


SUMMARY = ["method", "cell", "n_train", "x_info_limit", "success", "median_seconds", "ratio_to_a",
           "timeouts", "median_load", "cpus"]


def summarize(path, out=None) -> list[dict]:
    """Aggregate a per-run CSV per (cell, method), print the table, optionally write it to ``out``."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    cells = list(dict.fromkeys(r["cell"] for r in rows))
    methods = ["ours", "a_fd_varpro_lm", "b_adam"]
    table = []
    print(f"{'method':<15} {'(m,d,k,scale)':<30} {'n_train':>7} {'x2md/k':>6} {'success':>8} "
          f"{'median s':>9} {'ratio to a':>10} {'timeouts':>8}")
    for cell in cells:
        a_t = [float(r["seconds"]) for r in rows if r["cell"] == cell and r["method"] == methods[1]]
        for meth in methods:
            rs = [r for r in rows if r["cell"] == cell and r["method"] == meth]
            if not rs:
                continue
            med = statistics.median(float(r["seconds"]) for r in rs)
            ratio = med / statistics.median(a_t) if a_t else float("nan")
            ok = sum(int(r["success"]) for r in rs)
            tout = sum(int(r["timed_out"] or 0) for r in rs)
            row = {"method": meth, "cell": cell, "n_train": rs[0]["n_train"],
                   "x_info_limit": float(rs[0]["samples_multiple"]), "success": f"{ok}/{len(rs)}",
                   "median_seconds": round(med, 3), "ratio_to_a": round(ratio, 4), "timeouts": tout,
                   "median_load": round(statistics.median(float(r["load_after"]) for r in rs), 2),
                   "cpus": rs[0]["cpus"]}
            table.append(row)
            print(f"{meth:<15} {cell:<30} {row['n_train']:>7} {row['x_info_limit']:>6.1f} "
                  f"{row['success']:>8} {med:>9.2f} {ratio:>10.3f} {tout:>8}")
    loads = [float(r["load_after"]) for r in rows]
    if loads:
        print(f"1-min load average during the run: median {statistics.median(loads):.2f}, "
              f"max {max(loads):.2f} on {rows[0]['cpus']} cpus")
    if out is not None:
        with open(out, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=SUMMARY)
            writer.writeheader()
            writer.writerows(table)
    return table


def _parse_cells(specs):
    cells = []
    for spec in specs:
        m, d, k, s = (float(v) for v in spec.split(","))
        cells.append((int(m), int(d), int(k), s if s % 1 else int(s), "planted", None))
    return cells


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 2 small cells, 1 seed, 30 s cap")
    p.add_argument("--seeds", type=int, default=None, help="seeds per cell (default 3; quick 1)")
    p.add_argument("--time-cap", type=float, default=None, help="per-call cap for each baseline, s")
    p.add_argument("--cells", nargs="*", default=None, help="cells as m,d,k,scale (planted)")
    p.add_argument("--out", type=Path, default=None, help="directory for the CSVs (default results/)")
    p.add_argument("--summarize", type=Path, default=None,
                   help="only tabulate a per-run CSV (writes the table CSV when --out is given)")
    args = p.parse_args(argv)
    name = "learner_quick.csv" if args.quick else "learner.csv"
    results = args.out or Path(__file__).parent / "results"
    if args.summarize:
        summarize(args.summarize, results / name if args.out else None)
        return 0
    cells = _parse_cells(args.cells) if args.cells else (QUICK if args.quick else GRID + EXTRA)
    seeds = args.seeds or (1 if args.quick else 3)
    cap = args.time_cap or (30.0 if args.quick else 120.0)
    raw = results / "raw" / name
    raw.parent.mkdir(parents=True, exist_ok=True)
    print(f"{len(cells)} cells x {seeds} seeds, baseline cap {cap:.0f} s, writing {raw}", flush=True)
    with open(raw, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for seed in range(seeds):
            for cell in cells:
                _run_cell(cell, seed, cap, writer, fh)
    summarize(raw, results / name)
    print(f"wrote {raw} and {results / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
