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
# # 01 — Learning a planted attention layer, step by step
#
# We plant an m-head layer $F(X)=\sum_i \mathrm{softmax}(X\Theta_iX^\top)XW_i$ that meets the
# documented non-degeneracy conditions (`docs/conditions.md`), draw random Boolean examples, learn
# it back with `pm.learn`, read the per-phase diagnostics and the held-out certificate, then watch
# the learner's convex body shrink as examples arrive (`docs/learner.md`). Everything below is a
# call into the package; set `PROVABLE_MHA_QUICK=1` for the small sizes the test suite uses.

# %%
import os

import numpy as np

import provable_mha as pm
from provable_mha import plotting
from provable_mha.learner import min_examples
from provable_mha.sweep import Cell, run_trial

QUICK = os.environ.get("PROVABLE_MHA_QUICK") == "1" or os.environ.get("CI") == "true"
FIG = plotting.figure_dir()
m, d, k, scale, seed = 2, 8, 4, 1.0, 0

# %% [markdown]
# ## 1. The planted instance and its conditions

# %%
planted = pm.planted_instance(m=m, d=d, k=k, scale=scale, rng=seed)
report = pm.check_conditions(planted, k=k)
print(report)
assert report.passed

# %% [markdown]
# ## 2. Learning: phases, errors, certificate
# The information limit is $2md/k$ examples (parameters $2md^2$ over labels $kd$ per example).
# We train on 3x that and hold out 60 examples for the certificate.

# %%
n_train = 3 * min_examples(m, d, k)
n = n_train + 60
trial = run_trial(Cell(m, d, k, n, scale, seed), holdout=60 / n, n_test=500)
res = trial.result
print(res.summary())
print({key: f"{v:.2e}" if isinstance(v, float) else v for key, v in trial.metrics.items()})
assert trial.metrics["test_error"] < 1e-6

# %%
match = pm.match_heads(planted, res.layer)
print("head permutation:", match.perm, " relative Θ errors:", match.theta_errors,
      " relative W errors:", match.w_errors)
cert = res.certificate
print(f"certified={cert.certified}: held-out max residual {cert.max_residual:.2e} <= "
      f"eps {cert.epsilon:.2e}; P[residual > eps] <= {cert.failure_rate_bound:.3f} "
      f"at confidence {1 - cert.delta:.2f}")
for prog in cert.programs:
    print("program:", {key: prog[key] for key in ("solver", "status") if key in prog})

# %%
plotting.plot_phase_times(res, path=FIG / "01_phase_times.png")
_ = plotting.plot_search_runs(res, path=FIG / "01_search_runs.png")

# %% [markdown]
# ## 3. The feasible set shrinking as examples arrive
# Phase (ii) with the value maps $W_i$ known: each example's outputs determine its attention
# weights up to an interval, and the log-ratios of those intervals give linear inequalities that
# the true $\Theta_i$ always satisfies. The body is a polytope; adding examples only adds rows,
# so its width along any direction cannot grow. We follow the body of head 0, noiseless (one
# example at a time) and with label noise $\sigma=0.01$ (batches of 5), and check that the truth
# stays inside at every step (`learner/sculpt.py`).

# %%
try:
    from provable_mha.learner.structured.trajectory import sculpt_trajectory
except ImportError:  # the sculpting module is not in this installation
    sculpt_trajectory = None

rng = np.random.default_rng(1)
X = pm.sample_boolean(12 if QUICK else 20, k, d, rng)
Xn = pm.sample_boolean(25 if QUICK else 60, k, d, rng)
Yn = planted(Xn) + 0.01 * rng.standard_normal(Xn.shape)
if sculpt_trajectory is not None:
    clean = sculpt_trajectory(X, planted(X), planted.ws, head=0, batch=2 if QUICK else 1,
                              truth=planted.thetas[0], rng=0, n_directions=3)
    noisy = sculpt_trajectory(Xn, Yn, planted.ws, head=0, noise=0.01, batch=5,
                              truth=planted.thetas[0], rng=0, n_directions=3)
    for name, tr in (("noiseless", clean), ("noise 0.01", noisy)):
        print(f"{name}: examples {tr.n_examples}\n  max width {np.round(tr.widths.max(1), 6)}"
              f"\n  truth violation {np.max(tr.violations):.1e} (tolerance {tr.tolerance:.0e})")
        assert np.max(tr.violations) <= tr.tolerance
    plotting.plot_widths(clean.n_examples, clean.widths, truth_violation=clean.violations,
                         title="Θ-body of head 0, noiseless", path=FIG / "01_widths_clean.png")
    plotting.plot_widths(noisy.n_examples, noisy.widths, truth_violation=noisy.violations,
                         title="Θ-body of head 0, noise 0.01", path=FIG / "01_widths_noisy.png")
else:
    print("TODO: learner/sculpt.py not available; the width plot needs sculpt_trajectory")

# %% [markdown]
# ## 4. Test error against the number of examples
# The same pipeline over sample sizes and seeds (the `provable-mha sweep` command runs such
# grids resumably, locally or on Dask). Below about twice the information limit the practical
# search finds no layer that fits and `pm.learn` raises `LearnError` (plotted as a gap); those
# cells are the slow ones (every restart runs to its iteration cap), so the quick run skips them.

# %%
ns = [30, 40] if QUICK else [10, 12, 14, 16, 20, 24, 30, 40]
seeds = [0] if QUICK else [0, 1, 2, 3, 4]
errs = np.full((len(ns), len(seeds)), np.nan)
for a, nn in enumerate(ns):
    for b, s in enumerate(seeds):
        t = run_trial(Cell(m, d, k, nn, scale, s), n_test=300, restarts=4 if QUICK else 12,
                      raise_errors=False)
        errs[a, b] = t.metrics.get("test_error", np.nan)  # NaN: LearnError
print("n:", ns)
print("learned (fraction of seeds):", np.isfinite(errs).mean(axis=1))
print("test errors:\n", errs)
worst = np.where(np.isfinite(errs).all(axis=1), np.max(np.maximum(errs, 1e-17), axis=1), np.nan)
best = np.array([np.min(np.maximum(r[np.isfinite(r)], 1e-17)) if np.isfinite(r).any() else np.nan
                 for r in errs])
_ = plotting.plot_curves(ns, {"best seed": best, "worst seed (gap: a seed failed)": worst},
                        xlabel="examples n (80% train, 20% held out)",
                        ylabel="relative test error ||F(X) - Y|| / ||Y||", same_quantity=True,
                        title=f"m={m}, d={d}, k={k}, scale={scale}; 2md/k={min_examples(m, d, k)}",
                        path=FIG / "01_test_error_vs_n.png")
assert np.all(errs[-1] < 1e-6)
