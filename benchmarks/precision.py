"""How much precision the matrix-free search buys: float32 products, and the LSMR tolerance.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/precision.py           # ~25 min; results/precision_*.csv
    OPENBLAS_NUM_THREADS=1 python benchmarks/precision.py --quick   # smoke run, *_quick.csv

Part 1 (``precision_float32.csv``).
The matrix-free search (``practical.varpro_operator``) spends its time in the Jacobian products
:func:`provable_mha.learner.design.theta_jvp` / ``theta_vjp`` (inside LSMR) and the W-step's QR.
Per cell, on a planted layer at 3 n* and Theta perturbed by 1e-2 from the truth (a point the
search passes through), each is timed in float64 and with every operand cast to float32 (best of
5 calls), and the float32 result's relative error against float64 is reported (issue: "float32
where it does not change the answer — measure"). The answer is judged in float64 (acceptance at
1e-10 relative residual, below float32's unit round-off 6e-8), but the products only build each
step's linear model, solved to 1e-3 or 1e-5 anyway: part 3 measures the search with them.

Part 2 (``precision_lsmr.csv``). The inner LSMR solves ran to relative tolerance 1e-8 (an
exact Gauss–Newton step) when this was measured; ``practical.LSMR_RTOL`` is 1e-3 since.
Inexact Gauss–Newton (Dembo, Eisenstat & Steihaug 1982) needs only a loose step far from the
solution. Per cell at 3 n* and seed, one random start (logit scale 1, no path, like the search's
first) is run by ``practical.local_search`` with the matrix-free linear algebra, the default
products (float32 since ``PRODUCT_DTYPE``; float64 when the table in ``docs/learner.md`` was first
measured) and each tolerance; reported: wall time, LM iterations, final relative residual, whether it is
below the acceptance threshold 1e-10, and the parameter error against the planted layer (heads
matched).

Part 3 (``precision_search.csv``). The matrix-free search now takes its Jacobian products in
float32 (``practical.PRODUCT_DTYPE``; residual, W-step, LSMR vectors and the judged fit stay
float64). Per cell at 1.5 n* (the frontier's target size) and seed, the same first
``SEARCH_STARTS`` starts of ``practical.practical`` (plain, path from 1e-2, path from 1e-3) are run
by ``practical.local_search`` with float64 and with float32 products, one after the other in this
process: wall time, LM iterations, final relative residual, accepted, parameter error.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import sample_complexity as sc  # sibling script
from _results import RESULTS, quick_cli, write_rows

import provable_mha as pm
from provable_mha.learner import policy
from provable_mha.learner.design import design_matrix, theta_jvp, theta_vjp, w_step
from provable_mha.learner.practical import RIDGE_PATH, local_search, start_path, start_points

CELLS = [(4, 16, 8), (4, 32, 8), (4, 64, 16), (8, 64, 16)]
LSMR_CELLS, LSMR_SEEDS, RTOLS = [(4, 32, 8), (4, 64, 16)], (0, 1, 2), (1e-8, 1e-6, 1e-4, 1e-3, 1e-2)
SEARCH_CELLS, SEARCH_SEEDS, SEARCH_STARTS = [(4, 16, 8), (4, 32, 8), (4, 64, 16)], (0, 1, 2), 3


def best_of(f, args=(), repeats=5) -> float:
    """Fastest of ``repeats`` calls ``f(*args)``, seconds."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def planted(m: int, d: int, k: int, multiple: float, seed: int):
    """``(n, layer, X, Y)``: the planted layer of ``seed`` and its first n = ceil(multiple n*) inputs."""
    n = int(np.ceil(multiple * sc.n_star(m, d, k)))
    layer, X = sc.planted_data(m, d, k, n, seed)
    return n, layer, X[:n], layer(X[:n])


def run_cell(m: int, d: int, k: int) -> dict:
    n, layer, X, Y = planted(m, d, k, 3, seed=0)
    rng = np.random.default_rng(1)
    th = np.asarray(layer.thetas) + 1e-2 * rng.standard_normal((m, d, d)) / d
    ws = w_step(th, X, Y)
    A = ws.A
    XW = np.einsum("nbd,mde->nmbe", X, ws.W.reshape(m, d, d))
    V, R = rng.standard_normal((m, d, d)), rng.standard_normal(X.shape)
    row = {"cell": f"({m},{d},{k})", "n_train": n}
    for name, fn, args in (("jvp", theta_jvp, (A, XW, X, V)), ("vjp", theta_vjp, (A, XW, X, R))):
        ref = fn(*args)
        a32 = tuple(a.astype(np.float32) for a in args)
        out32 = fn(*a32)
        row[f"{name}_f64_s"] = best_of(fn, args)
        row[f"{name}_f32_s"] = best_of(fn, a32)
        row[f"{name}_speedup"] = row[f"{name}_f64_s"] / row[f"{name}_f32_s"]
        row[f"{name}_f32_rel_err"] = float(np.linalg.norm(out32 - ref) / np.linalg.norm(ref))
        row[f"{name}_f32_dtype"] = str(out32.dtype)
    D = design_matrix(th, X, A)
    D32 = D.astype(np.float32)
    row["qr_f64_s"], row["qr_f32_s"] = best_of(np.linalg.qr, (D,)), best_of(np.linalg.qr, (D32,))
    row["qr_speedup"] = row["qr_f64_s"] / row["qr_f32_s"]
    return row


def start_stream(seed: int) -> np.random.Generator:
    """The starts' random stream: not ``default_rng(seed)``, from which ``pm.planted_instance`` draws the
    planted Theta (with that stream the first start *is* the planted layer whenever its first draw
    passes the conditions, e.g. at (4,16,8) seeds 1 and 2); as in ``continuation.py``."""
    return np.random.default_rng([seed, 99])


def lsmr_rows(m: int, d: int, k: int, seed: int) -> list[dict]:
    """One start, every tolerance of ``RTOLS`` (part 2)."""
    n, layer, X, Y = planted(m, d, k, 3, seed)
    _, th0 = next(start_points(m, d, start_stream(seed), 1))
    rows = []
    for rtol in RTOLS:
        t0 = time.perf_counter()
        run = local_search(X, Y, m, th0, linear_algebra="matrix-free", lsmr_rtol=rtol)
        err = pm.match_heads(layer, pm.MultiHeadAttention(run.thetas, run.ws)).max_error
        rows.append({"cell": f"({m},{d},{k})", "n_train": n, "seed": seed, "lsmr_rtol": rtol,
                     "seconds": time.perf_counter() - t0, "iterations": run.iterations,
                     "relative_residual": run.relative_residual,
                     "accepted": int(run.relative_residual <= policy.EXACT_FIT_REL), "param_error": err})
    return rows


def search_rows(m: int, d: int, k: int, seed: int, starts: int = SEARCH_STARTS) -> list[dict]:
    """The first ``starts`` starts of the practical strategy, float64 then float32 products (part 3)."""
    n, layer, X, Y = planted(m, d, k, 1.5, seed)
    rows = []
    for j, (_, th0) in enumerate(start_points(m, d, start_stream(seed), starts)):
        path = start_path(j, RIDGE_PATH)
        for dtype in (np.float64, np.float32):
            t0 = time.perf_counter()
            run = local_search(X, Y, m, th0, linear_algebra="matrix-free", ridge_path=path, product_dtype=dtype)
            err = pm.match_heads(layer, pm.MultiHeadAttention(run.thetas, run.ws)).max_error
            rows.append({"cell": f"({m},{d},{k})", "n_train": n, "seed": seed, "start": j,
                         "path_from": path[0] if path else "", "products": np.dtype(dtype).name,
                         "seconds": time.perf_counter() - t0, "iterations": run.iterations,
                         "relative_residual": run.relative_residual,
                         "accepted": int(run.relative_residual <= policy.EXACT_FIT_REL), "param_error": err})
    return rows


def _show(row: dict) -> None:
    print({k: (f"{v:.3g}" if isinstance(v, float) else v) for k, v in row.items()}, flush=True)


def main(argv=None) -> int:
    quick, suffix = quick_cli(__doc__, "one small cell, one seed; writes *_quick.csv", argv)
    cells, lsmr_cells, seeds = ([(2, 16, 8)], [(2, 16, 8)], (0,)) if quick else (CELLS, LSMR_CELLS, LSMR_SEEDS)
    rows = []
    for cell in cells:
        rows.append(run_cell(*cell))
        _show(rows[-1])
    print(f"wrote {write_rows(RESULTS / f'precision_float32{suffix}.csv', rows)}")
    rows = []
    for cell in lsmr_cells:
        for seed in seeds:
            for row in lsmr_rows(*cell, seed):
                rows.append(row)
                _show(row)
    print(f"wrote {write_rows(RESULTS / f'precision_lsmr{suffix}.csv', rows)}")
    rows = []
    for cell in ([(2, 16, 8)] if quick else SEARCH_CELLS):
        for seed in ((0,) if quick else SEARCH_SEEDS):
            for row in search_rows(*cell, seed, starts=2 if quick else SEARCH_STARTS):
                rows.append(row)
                _show(row)
    print(f"wrote {write_rows(RESULTS / f'precision_search{suffix}.csv', rows)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
