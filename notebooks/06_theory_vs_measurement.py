# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 — Theory against measurement: samples and time to recover planted layers
#
# For `pm.learn(method="practical")` and `pm.learn(method="structured")` we measure, on three
# sweeps (over m, d and k through a centre cell), the **smallest training-set size** at which a
# planted layer is recovered (relative test error ≤ 1e-8 on fresh inputs) in at least 9 of 10
# seeds, and the **median time** at that size. Beside the measurements:
#
# * the information limit $n^*=\max(2md/k,\ d^2/(k(k-1)))$ (`docs/learner.md`);
# * the *shape* of the $(dk)^{O(m^3)}$ running-time bound of Chen & Li (arXiv 2402.04084, abstract):
#   the constant in the exponent is unknown, so the curve is $(dk)^{m^3}$ (constant 1), normalised
#   to the measured time at the first point — only its shape means anything;
# * the SQ query bound $(D-1)\tau^2$, $D=\binom{d-1}{m-1}$, $\tau=D^{-1/3}$, which `docs/hardness.md`
#   proves for SQ algorithms identifying a member of the **parity family** ($k=2$) — a different
#   family from these planted, non-degenerate layers.
#
# The code is `benchmarks/sample_complexity.py`; this notebook only drives it and draws. At quick
# size (`PROVABLE_MHA_QUICK=1`) it runs a small grid with 3 seeds (all must succeed); otherwise it
# draws the committed full run (`benchmarks/results/sample_complexity*.csv`), or runs the full grid
# (11 minutes when measured) when those files are absent. Times come from a 2-core machine shared with
# other jobs.

# %%
import importlib
import os
import sys
from pathlib import Path

import matplotlib.pyplot as plt

from provable_mha import plotting

QUICK = os.environ.get("PROVABLE_MHA_QUICK") == "1" or os.environ.get("CI") == "true"
FIG = plotting.figure_dir()
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "benchmarks" / "sample_complexity.py").exists())
sys.path.insert(0, str(ROOT / "benchmarks"))
sc = importlib.import_module("sample_complexity")

grid = sc.QUICK if QUICK else sc.FULL
if not QUICK and (sc.RESULTS / "sample_complexity.csv").exists():
    runs, summary, fits = sc.load_results()
else:
    runs = sc.run_grid(grid)
    summary = sc.summarize(runs, grid)
    fits = sc.fit_exponents(runs, summary, grid)
print(f"{len(runs)} pm.learn calls; a size passes with >= {grid.need} of {grid.seeds} seeds; "
      f"centre (m, d, k) = {grid.centre}")

# %% [markdown]
# ## 1. The table
# `n_train_needed`: smallest passing training size, scanning $\lceil f n^*\rceil$ upwards;
# `x_n_star` = it over $n^*$; seconds with a bootstrap 95% interval over seeds; the SQ bound and
# $\log_{10}(dk)^{m^3}$ of each cell.

# %%
print(sc.format_table(summary, sc.SUMMARY_COLUMNS))
reached = {s["method"] for s in summary if s["n_train_needed"] != ""}
assert reached == set(grid.methods), f"some method recovered no cell on the grid: {reached}"
for s in summary:  # pm.learn refuses fewer than ceil(2md/k) training examples, so none can pass below
    if s["n_train_needed"] != "":
        assert int(s["n_train_needed"]) >= sc.min_examples(int(s["m"]), int(s["d"]), int(s["k"]))

# %% [markdown]
# ## 2. Samples: measured threshold against $n^*$
# Bars: the threshold lies between the largest failing size + 1 and the passing size (the grid's
# resolution). Dashed: $n^*$ and the parameter count $2md/k$.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for ax, axis in zip(axes, ("m", "d", "k"), strict=True):
    S = {meth: sc.series(summary, grid, meth, axis) for meth in grid.methods}
    th = S[grid.methods[0]]
    plotting.plot_theory_vs_measurement(
        th["x"], {f"{meth} (measured)": (s["n_train"], s["n_low"], s["n_train"]) for meth, s in S.items()},
        {"n* = max(2md/k, d²/(k(k-1)))": th["n_star"], "2md/k": th["min_examples"]},
        xlabel={"m": "heads m", "d": "token dimension d", "k": "tokens k"}[axis],
        ylabel="training examples", title=f"samples to recover ({grid.fixed(axis)})", ax=ax)
plotting.savefig(fig, FIG / "06_samples.png")

# %% [markdown]
# ## 3. Time: measured against the shape of the $(dk)^{O(m^3)}$ bound
# The bound's curve is normalised to the practical method's time at the first point and drawn with
# exponent constant 1; any other constant $c$ multiplies its log-height by $c$. It is an **upper
# bound for a provable algorithm**; neither method here is that algorithm or has its guarantee.
# Also drawn (normalised the same way): the per-iteration cost $nkm^2d^4+(md^2)^3$ of the practical
# search (`docs/learner.md`) at the measured sizes — iterations and restarts not counted.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for ax, axis in zip(axes, ("m", "d", "k"), strict=True):
    S = {meth: sc.series(summary, grid, meth, axis) for meth in grid.methods}
    ref = S[grid.methods[0]]
    t0 = ref["seconds"][0]
    plotting.plot_theory_vs_measurement(
        ref["x"], {f"{meth} (median, 95% CI)": (s["seconds"], s["seconds_low"], s["seconds_high"])
                   for meth, s in S.items()},
        {r"$(dk)^{m^3}$ shape, constant 1 (normalised)": t0 * 10 ** (ref["log10_bound"] - ref["log10_bound"][0]),
         r"per-iteration cost $nkm^2d^4+(md^2)^3$ (normalised)": t0 * ref["iteration_cost"] / ref["iteration_cost"][0]},
        xlabel={"m": "heads m", "d": "token dimension d", "k": "tokens k"}[axis],
        ylabel="wall time per pm.learn call (s)", title=f"time at the passing size ({grid.fixed(axis)})", ax=ax)
    if axis == "m":  # the bound's curve spans tens of decades: keep the measured points readable
        ax.set_ylim(1e-3, 1e4)
plotting.savefig(fig, FIG / "06_time.png")

# %% [markdown]
# ## 4. The SQ lower bound at the measured (m, d)
# The dashed SQ curve counts **statistical queries** of tolerance $\tau=D^{-1/3}$ needed to
# identify a member of the parity family with $k=2$ tokens (`docs/hardness.md` §2); it is not a
# sample count and not about planted generic layers, which violate none of the non-degeneracy
# conditions the parity family violates. It is drawn only to show its size at these (m, d):
# a few queries (it is undefined at m = 1, where the family has one member).

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
for ax, axis in zip(axes, ("m", "d"), strict=True):
    S = {meth: sc.series(summary, grid, meth, axis) for meth in grid.methods}
    th = S[grid.methods[0]]
    plotting.plot_theory_vs_measurement(
        th["x"], {f"{meth}: training examples needed": s["n_train"] for meth, s in S.items()},
        {"n*": th["n_star"], "SQ queries (D-1)τ², parity family k=2": th["sq_queries"]},
        xlabel={"m": "heads m", "d": "token dimension d"}[axis], ylabel="examples, or SQ queries (dashed SQ)",
        title=f"SQ bound beside the measurement ({grid.fixed(axis)})", ax=ax)
plotting.savefig(fig, FIG / "06_sq_bound.png")

# %% [markdown]
# ## 5. Fitted exponents
# Least squares on logs, one swept variable at a time. `seconds`: 95% percentile interval of a
# bootstrap over seeds. `n_train`, `x_n_star` (= n_train / n*): 95% t interval from the
# regression's standard error (NaN with two points) and, separately, the range of slopes the grid's
# resolution allows. Beside them: the exponent of n* and of the per-iteration cost on the same
# cells, and m³ — the exponent of d (and of k) in $(dk)^{cm^3}$ per unit of the unknown $c$. The
# row against $m^3\ln(dk)$ is the $c$ for which $(dk)^{cm^3}$ best fits the measured times: a
# description of the data, not an estimate of the bound's constant.

# %%
print(sc.format_table(fits, sc.FIT_COLUMNS))
