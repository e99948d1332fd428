"""Samples and time ``pm.learn`` needs to recover planted layers, beside the theoretical curves.

Usage (``docs/theory_vs_measurement.md`` reports the results)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/sample_complexity.py           # full grid (11 min measured)
    OPENBLAS_NUM_THREADS=1 python benchmarks/sample_complexity.py --quick   # smoke run (< 1 min)

Measured: for each method and each cell (m, d, k) of three sweeps through a centre, training sizes
n_train = ceil(f n*) for increasing multiples f of the information limit
n* = max(2md/k, d^2/(k(k-1))). Each seed plants ``pm.planted_instance(m, d, k, scale=1, rng=seed)``,
draws n_train + 10 Boolean inputs and calls ``pm.learn(X, Y, m, method=..., rng=seed,
holdout=10/n, strict=False, **OPTIONS[method])`` (exactly n_train examples trained on). Success:
relative error <= 1e-8 on 1000 fresh inputs; ``pm.LearnError`` is a failure. A size passes when
>= ``need`` of ``seeds`` runs succeed (9/10; 3/3 with ``--quick``) and is abandoned once it cannot;
the scan stops at the first passing size (``n_train_needed``; larger sizes are not run, so
non-monotone success goes unseen). ``median_seconds``: median wall time of the call over all seeds
at that size (failures included), bootstrap 95% interval over seeds.

Theory: n*; the shape of the (dk)^{O(m^3)} time bound of Chen & Li (arXiv 2402.04084, abstract;
constant unknown, drawn with constant 1); the SQ query bound (D-1)tau^2, D = C(d-1, m-1),
tau = D^{-1/3} (``docs/hardness.md`` §2: SQ algorithms on the parity family, k = 2, not planted
layers); the per-iteration cost n k m^2 d^4 + (m d^2)^3 of the practical search (``docs/learner.md``).

Fits: least squares on logs against each swept variable. Time: 95% percentile interval of a
bootstrap over seeds (2000 resamples). Samples: 95% t interval from the regression's standard
error (NaN with 2 points) and the slopes the grid's resolution allows (each threshold anywhere in
(largest failing size, passing size]).

Output: ``results/sample_complexity.csv`` (per method and cell), ``results/sample_complexity_fits.csv``,
``results/raw/sample_complexity_runs.csv`` (per call); ``--quick`` writes ``*_quick.csv`` instead.
Times are wall times on a 2-core machine shared with other jobs (``load`` records the load average).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

import provable_mha as pm
from provable_mha.hardness.sq import sq_query_lower_bound
from provable_mha.learner import information_limit, min_examples

RESULTS = Path(__file__).resolve().parent / "results"
SUCCESS = 1e-8
N_HOLDOUT = 10
N_TEST = 1000
SCALE = 1.0
N_BOOT = 2000
#: Options passed to ``pm.learn`` per method. ``cvxpy_widths=False``: the structured default solves
#: the body's widths again with CVXPY when 2md^2 <= 300 (a consistency check of the body model
#: that leaves the certified radius unchanged; about 10 s of Clarabel at (2, 8, 4)). It is off in
#: every cell so that one algorithm is timed across the grid, not one that switches at 2md^2 = 300.
OPTIONS = {"practical": {}, "structured": {"cvxpy_widths": False}}
RUN_FIELDS = ["method", "m", "d", "k", "n_star", "multiple", "n_train", "n_holdout", "seed", "success",
              "test_rel_error", "certified", "seconds", "cpu_seconds", "certify_seconds", "load", "error"]
SUMMARY_FIELDS = ["method", "options", "m", "d", "k", "n_star", "n_train_needed", "x_n_star", "n_train_failed",
                  "successes", "median_seconds", "seconds_ci_low", "seconds_ci_high", "median_cpu_seconds",
                  "runs", "median_load", "sq_queries_parity", "log10_dk_m3", "cpus", "blas_threads"]
FIT_FIELDS = ["method", "quantity", "against", "fixed", "points", "exponent", "ci_low", "ci_high", "ci_method",
              "grid_low", "grid_high", "n_star_exponent", "iteration_cost_exponent", "bound_exponent_over_c"]


@dataclass(frozen=True)
class Grid:
    """Three sweeps through ``centre = (m, d, k)`` and the multiples of n* tried in each cell."""

    methods: tuple[str, ...]
    centre: tuple[int, int, int]
    ms: tuple[int, ...]
    ds: tuple[int, ...]
    ks: tuple[int, ...]
    multiples: tuple[float, ...]
    seeds: int
    need: int

    def sweep(self, axis: str) -> list[tuple[int, int, int]]:
        """The cells of one sweep (``axis`` in ``"m"``, ``"d"``, ``"k"``), in increasing order."""
        m0, d0, k0 = self.centre
        values = {"m": self.ms, "d": self.ds, "k": self.ks}[axis]
        return [{"m": (v, d0, k0), "d": (m0, v, k0), "k": (m0, d0, v)}[axis] for v in sorted(values)]

    def cells(self) -> list[tuple[int, int, int]]:
        """Every distinct cell of the three sweeps (the centre once)."""
        out: list[tuple[int, int, int]] = []
        for axis in ("m", "d", "k"):
            out += [c for c in self.sweep(axis) if c not in out]
        return out

    def fixed(self, axis: str) -> str:
        m0, d0, k0 = self.centre
        return {"m": f"d={d0} k={k0}", "d": f"m={m0} k={k0}", "k": f"m={m0} d={d0}"}[axis]


FULL = Grid(methods=("practical", "structured"), centre=(2, 8, 4), ms=(1, 2, 3, 4, 5), ds=(6, 8, 12, 16, 20),
            ks=(2, 4, 8), multiples=(1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 6.0), seeds=10, need=9)
QUICK = Grid(methods=("practical", "structured"), centre=(2, 6, 4), ms=(1, 2), ds=(6, 8), ks=(2, 4),
             multiples=(1.5, 2.0, 3.0, 4.0), seeds=3, need=3)


# ---------------------------------------------------------------- theory
def n_star(m: int, d: int, k: int) -> float:
    """The information limit n* = max(2md/k, d^2/(k(k-1))) (``docs/learner.md``)."""
    return information_limit(m, d, k)


def log10_bound_shape(m: int, d: int, k: int, c: float = 1.0) -> float:
    """log10 of (dk)^{c m^3}: the shape of Chen & Li's running-time bound (arXiv 2402.04084).

    The constant ``c`` in the exponent is not known to this project; 1 is a placeholder, and any
    other value multiplies this logarithm by ``c``.
    """
    return c * m**3 * math.log10(d * k)


def sq_queries(m: int, d: int) -> float:
    """(D-1) tau^2 with D = C(d-1, m-1), tau = D^{-1/3}: the SQ query bound of ``docs/hardness.md`` §2.

    Proved for (deterministic) SQ algorithms identifying a member of the parity family (k = 2
    tokens), not for planted layers; NaN when D < 2 (m = 1: nothing to identify).
    """
    D = math.comb(d - 1, m - 1)
    return sq_query_lower_bound(D, D ** (-1 / 3)) if D >= 2 else float("nan")


def iteration_cost(m: int, d: int, k: int, n: float) -> float:
    """n k m^2 d^4 + (m d^2)^3: one LM iteration of the practical search (``docs/learner.md``, Cost)."""
    return n * k * m * m * d**4 + (m * d * d) ** 3


# ---------------------------------------------------------------- measurement
def train_sizes(m: int, d: int, k: int, multiples) -> list[tuple[float, int]]:
    """(multiple, n_train) with n_train = ceil(multiple * n*) >= ceil(2md/k), duplicates dropped."""
    out, seen = [], set()
    for f in multiples:
        n = max(math.ceil(f * n_star(m, d, k) - 1e-9), min_examples(m, d, k))
        if n not in seen:
            seen.add(n)
            out.append((f, n))
    return out


def planted_data(m: int, d: int, k: int, n_train: int, seed: int, scale: float | None = None):
    """The planted layer (``scale``, default :data:`SCALE`) and the ``n_train + N_HOLDOUT`` Boolean
    inputs of :func:`run_once`; ``frontier.py`` and the scripts built on it draw theirs here too."""
    layer = pm.planted_instance(m, d, k, scale=SCALE if scale is None else scale, rng=seed)
    n = n_train + N_HOLDOUT
    return layer, pm.sample_boolean(n, k, d, rng=np.random.default_rng([seed, n, 1]))


def run_once(method: str, m: int, d: int, k: int, n_train: int, seed: int) -> dict:
    """One ``pm.learn`` call on a planted layer; success = relative test error <= ``SUCCESS``."""
    layer, X = planted_data(m, d, k, n_train, seed)
    n = len(X)
    Y = layer(X)
    Xt = pm.sample_boolean(N_TEST, k, d, rng=np.random.default_rng([seed, 2]))
    row = {"method": method, "m": m, "d": d, "k": k, "n_star": n_star(m, d, k), "n_train": n_train,
           "n_holdout": N_HOLDOUT, "seed": seed, "certified": "", "certify_seconds": "", "error": ""}
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        res = pm.learn(X, Y, m, method=method, rng=seed, holdout=N_HOLDOUT / n, strict=False, **OPTIONS[method])
    except pm.LearnError as exc:
        res, row["error"] = None, str(exc).splitlines()[0][:120]
    secs, cpu, err = time.perf_counter() - t0, time.process_time() - c0, float("inf")
    if res is not None:
        row["certified"] = int(bool(res.certificate.certified))
        row["certify_seconds"] = sum(p.seconds for p in res.phases if p.name == "certify")
        try:
            err = pm.relative_error(res.layer, Xt, layer(Xt))
        except ValueError as exc:  # a returned layer that overflows on the test inputs: a failure
            row["error"] = str(exc)[:120]
    row.update(success=int(err <= SUCCESS), test_rel_error=err, seconds=secs, cpu_seconds=cpu,
               load=os.getloadavg()[0])
    return row


def scan_cell(method: str, cell: tuple[int, int, int], grid: Grid, log=print) -> list[dict]:
    """Run sizes upwards until one passes (>= ``grid.need`` of ``grid.seeds``); return every run."""
    m, d, k = cell
    runs: list[dict] = []
    for multiple, n_train in train_sizes(m, d, k, grid.multiples):
        fails, level = 0, []
        for seed in range(grid.seeds):
            row = run_once(method, m, d, k, n_train, seed)
            row["multiple"] = multiple
            level.append(row)
            fails += 1 - row["success"]
            if fails > grid.seeds - grid.need:  # this size can no longer pass
                break
        runs += level
        ok = sum(r["success"] for r in level)
        log(f"{method:>10} {str(cell):>11} n_train={n_train:4d} ({multiple:g} n*): {ok}/{len(level)} "
            f"median {statistics.median(r['seconds'] for r in level):.2f}s")
        if fails <= grid.seeds - grid.need:
            break
    return runs


def run_grid(grid: Grid, log=print) -> list[dict]:
    """Every run of every method and cell (the raw rows)."""
    return [r for method in grid.methods for cell in grid.cells() for r in scan_cell(method, cell, grid, log)]


# ---------------------------------------------------------------- summaries and fits
def _passing(rows: list[dict], need: int) -> tuple[int | None, list[dict], int | None]:
    """(passing n_train, its runs, largest failing n_train) of one method and cell."""
    sizes = sorted({int(r["n_train"]) for r in rows})
    failed = None
    for n in sizes:
        level = [r for r in rows if int(r["n_train"]) == n]
        if sum(int(r["success"]) for r in level) >= need:
            return n, level, failed
        failed = n
    return None, [], failed


def _bootstrap_medians(times: list[float], rng: np.random.Generator, n_boot: int) -> np.ndarray:
    t = np.asarray(times, dtype=float)
    return np.median(t[rng.integers(0, len(t), size=(n_boot, len(t)))], axis=1)


def summarize(runs: list[dict], grid: Grid, rng=0, n_boot: int = N_BOOT) -> list[dict]:
    """One row per method and cell (columns ``SUMMARY_FIELDS``; module docstring)."""
    gen = np.random.default_rng(rng)
    out = []
    for method in grid.methods:
        for m, d, k in grid.cells():
            rows = [r for r in runs if r["method"] == method and (int(r["m"]), int(r["d"]), int(r["k"])) == (m, d, k)]
            if not rows:
                continue
            n_ok, level, failed = _passing(rows, grid.need)
            ns = n_star(m, d, k)
            row = {"method": method, "options": " ".join(f"{a}={v}" for a, v in OPTIONS[method].items()),
                   "m": m, "d": d, "k": k, "n_star": round(ns, 3), "n_train_failed": failed or "",
                   "runs": len(rows), "median_load": round(statistics.median(float(r["load"]) for r in rows), 2),
                   "sq_queries_parity": sq_queries(m, d), "log10_dk_m3": log10_bound_shape(m, d, k),
                   "cpus": os.cpu_count(), "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default")}
            if n_ok is None:
                row.update(n_train_needed="", x_n_star="", successes="", median_seconds="", seconds_ci_low="",
                           seconds_ci_high="", median_cpu_seconds="")
            else:
                secs = [float(r["seconds"]) for r in level]
                lo, hi = np.percentile(_bootstrap_medians(secs, gen, n_boot), [2.5, 97.5])
                row.update(n_train_needed=n_ok, x_n_star=round(n_ok / ns, 3),
                           successes=f"{sum(int(r['success']) for r in level)}/{len(level)}",
                           median_seconds=statistics.median(secs), seconds_ci_low=lo, seconds_ci_high=hi,
                           median_cpu_seconds=statistics.median(float(r["cpu_seconds"]) for r in level))
            out.append(row)
    return out


def _slope(lx: np.ndarray, ly: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of ly on lx and its standard error (NaN with fewer than 3 points)."""
    if len(lx) < 2:
        return float("nan"), float("nan")
    res = stats.linregress(lx, ly)
    return float(res.slope), float(res.stderr) if len(lx) > 2 else float("nan")


def _grid_range(lx: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[float, float]:
    """Smallest and largest least-squares slope when each log y ranges over [lo, hi] (exact:
    the slope is linear in y, w_i = (lx_i - mean) / sum (lx - mean)^2, extremes at corners)."""
    w = (lx - lx.mean()) / np.sum((lx - lx.mean()) ** 2)
    return float(np.sum(np.minimum(w * lo, w * hi))), float(np.sum(np.maximum(w * lo, w * hi)))


def _t_interval(slope: float, se: float, points: int) -> tuple[float, float]:
    if points < 3 or not np.isfinite(se):
        return float("nan"), float("nan")
    t = stats.t.ppf(0.975, points - 2)
    return slope - t * se, slope + t * se


def _sample_fits(lx: np.ndarray, n_ok: np.ndarray, n_lo: np.ndarray, ns: np.ndarray) -> list[dict]:
    """Exponents of the passing size and of it over n*: t interval and grid range."""
    out = []
    for quantity, scale in (("n_train", np.ones_like(ns)), ("x_n_star", ns)):
        a, se = _slope(lx, np.log(n_ok / scale))
        ci = _t_interval(a, se, len(lx))
        g = _grid_range(lx, np.log(n_lo / scale), np.log(n_ok / scale))
        out.append({"quantity": quantity, "exponent": a, "ci_low": ci[0], "ci_high": ci[1],
                    "ci_method": "regression SE (t)", "grid_low": g[0], "grid_high": g[1]})
    return out


def _time_fit(x: np.ndarray, times: list[list[float]], gen: np.random.Generator, n_boot: int) -> dict:
    """Slope of log(median time) on ``x``, 95% percentile interval of a bootstrap over seeds."""
    a, _ = _slope(x, np.log([statistics.median(t) for t in times]))
    boot = np.log(np.stack([_bootstrap_medians(t, gen, n_boot) for t in times], axis=1))
    lo, hi = np.percentile(np.polyfit(x, boot.T, 1)[0], [2.5, 97.5])
    return {"exponent": a, "ci_low": lo, "ci_high": hi, "ci_method": "bootstrap over seeds",
            "grid_low": "", "grid_high": ""}


def _passing_times(runs: list[dict], method: str, cell: tuple, n: float) -> list[float]:
    return [float(r["seconds"]) for r in runs if r["method"] == method
            and (int(r["m"]), int(r["d"]), int(r["k"])) == cell and int(r["n_train"]) == int(n)]


def fit_exponents(runs: list[dict], summary: list[dict], grid: Grid, rng=0, n_boot: int = N_BOOT) -> list[dict]:
    """Power-law exponents of time and samples against m, d and k (columns ``FIT_FIELDS``).

    Each swept variable x is fitted separately at the centre's other values: log y = a log x + b.
    ``seconds``: y = median wall time at the passing size, 95% bootstrap interval over seeds.
    ``n_train``, ``x_n_star``: y = the passing size (or it over n*), 95% t interval from the
    regression's standard error, and ``grid_low/high`` the slopes the grid's resolution allows.
    Against m also ``seconds`` on x = m^3 ln(dk): the constant c for which (dk)^{c m^3} fits the
    measured times best (a description of the data, not the bound's constant).
    Theory columns: the exponent of n* and of the per-iteration cost fitted on the same cells,
    and m^3 (the bound's exponent of d and of k, per unit of its unknown constant c).
    """
    gen = np.random.default_rng(rng)
    by_key = {(s["method"], int(s["m"]), int(s["d"]), int(s["k"])): s for s in summary}
    out = []
    for method in grid.methods:
        for axis in ("m", "d", "k"):
            idx = "mdk".index(axis)
            cells = [c for c in grid.sweep(axis) if by_key.get((method, *c), {}).get("n_train_needed", "") != ""]
            if len(cells) < 2:
                continue
            srow = [by_key[(method, *c)] for c in cells]
            lx = np.log([c[idx] for c in cells])
            n_ok = np.array([float(s["n_train_needed"]) for s in srow])
            n_lo = np.array([float(s["n_train_failed"] or min_examples(*c) - 1) + 1
                             for s, c in zip(srow, cells, strict=True)])
            ns = np.array([n_star(*c) for c in cells])
            base = {"method": method, "against": axis, "fixed": grid.fixed(axis), "points": len(cells),
                    "n_star_exponent": _slope(lx, np.log(ns))[0],
                    "iteration_cost_exponent": _slope(lx, np.log([iteration_cost(*c, n) for c, n
                                                                  in zip(cells, n_ok, strict=True)]))[0],
                    "bound_exponent_over_c": grid.centre[0] ** 3 if axis != "m" else ""}
            out += [{**base, **f} for f in _sample_fits(lx, n_ok, n_lo, ns)]
            times = [_passing_times(runs, method, c, n) for c, n in zip(cells, n_ok, strict=True)]
            out.append({**base, "quantity": "seconds", **_time_fit(lx, times, gen, n_boot)})
            if axis == "m":
                x3 = np.array([c[0] ** 3 * math.log(c[1] * c[2]) for c in cells])
                out.append({**base, "against": "m^3 ln(dk)", "quantity": "seconds",
                            **_time_fit(x3, times, gen, n_boot)})
    return out


def series(summary: list[dict], grid: Grid, method: str, axis: str) -> dict[str, np.ndarray]:
    """Arrays along one sweep for the plots (NaN where a cell was not reached or not run).

    Measured: ``n_train`` (passing size), ``n_low`` (largest failing size + 1, or ceil(2md/k)),
    ``seconds`` with ``seconds_low/high`` (bootstrap 95%). Theory: ``n_star``, ``min_examples``,
    ``sq_queries``, ``log10_bound`` (log10 (dk)^{m^3}), ``iteration_cost`` (at the passing size).
    """
    cells = grid.sweep(axis)
    by_key = {(s["method"], int(s["m"]), int(s["d"]), int(s["k"])): s for s in summary}

    def col(key):
        return np.array([float(by_key[(method, *c)][key]) if by_key.get((method, *c), {}).get(key, "") != ""
                         else np.nan for c in cells])
    n_ok, failed = col("n_train_needed"), col("n_train_failed")
    floor = np.array([min_examples(*c) for c in cells], dtype=float)
    return {"x": np.array([c["mdk".index(axis)] for c in cells], dtype=float), "n_train": n_ok,
            "n_low": np.where(np.isnan(failed), floor, failed + 1), "seconds": col("median_seconds"),
            "seconds_low": col("seconds_ci_low"), "seconds_high": col("seconds_ci_high"),
            "n_star": np.array([n_star(*c) for c in cells]), "min_examples": floor,
            "sq_queries": np.array([sq_queries(c[0], c[1]) for c in cells]),
            "log10_bound": np.array([log10_bound_shape(*c) for c in cells]),
            "iteration_cost": np.array([iteration_cost(*c, n) for c, n in zip(cells, n_ok, strict=True)])}


# ---------------------------------------------------------------- I/O and printing
def write_csv(path: Path, rows: list[dict], fields: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({f: (f"{v:.4g}" if isinstance(v, float) else v) for f, v in r.items()})
    return path


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def load_results(quick: bool = False) -> tuple[list[dict], list[dict], list[dict]]:
    """(runs, summary, fits) as written by :func:`main` (strings converted where numeric)."""
    suffix = "_quick" if quick else ""
    runs = read_csv(RESULTS / "raw" / f"sample_complexity_runs{suffix}.csv")
    summary = read_csv(RESULTS / f"sample_complexity{suffix}.csv")
    for s in summary:
        s.update(m=int(s["m"]), d=int(s["d"]), k=int(s["k"]))
    return runs, summary, read_csv(RESULTS / f"sample_complexity_fits{suffix}.csv")


SUMMARY_COLUMNS = ["method", "m", "d", "k", "n_star", "n_train_needed", "x_n_star", "successes", "median_seconds",
                   "seconds_ci_low", "seconds_ci_high", "sq_queries_parity", "log10_dk_m3"]
FIT_COLUMNS = ["method", "quantity", "against", "exponent", "ci_low", "ci_high", "ci_method", "grid_low", "grid_high",
               "n_star_exponent", "iteration_cost_exponent", "bound_exponent_over_c"]


def format_table(rows: list[dict], columns: list[str]) -> str:
    """Plain-text table of ``columns`` (numbers to 3 significant digits, blanks as '-')."""
    def cell(v):
        try:
            return f"{float(v):.3g}" if not str(v).lstrip("-").isdigit() else str(v)
        except (TypeError, ValueError):
            return str(v) if v not in ("", None) else "-"
    body = [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(b[j]) for b in body)) if body else len(c) for j, c in enumerate(columns)]
    return "\n".join(" ".join(v.rjust(w) for v, w in zip(line, widths, strict=True)) for line in [columns, *body])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small grid, 3 seeds (all must succeed)")
    args = p.parse_args(argv)
    grid = QUICK if args.quick else FULL
    suffix = "_quick" if args.quick else ""
    t0 = time.perf_counter()
    runs = run_grid(grid)
    summary = summarize(runs, grid)
    fits = fit_exponents(runs, summary, grid)
    write_csv(RESULTS / "raw" / f"sample_complexity_runs{suffix}.csv", runs, RUN_FIELDS)
    write_csv(RESULTS / f"sample_complexity{suffix}.csv", summary, SUMMARY_FIELDS)
    write_csv(RESULTS / f"sample_complexity_fits{suffix}.csv", fits, FIT_FIELDS)
    print(format_table(summary, SUMMARY_COLUMNS) + "\n\n" + format_table(fits, FIT_COLUMNS))
    print(f"\n{len(runs)} pm.learn calls in {time.perf_counter() - t0:.0f} s; "
          f"{grid.need}/{grid.seeds} seeds must succeed; wrote {RESULTS}/sample_complexity{suffix}*.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
