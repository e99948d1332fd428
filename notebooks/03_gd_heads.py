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
# # 03 — Gradient descent and the number of heads
#
# The classifier $\Phi(X;\omega)=\frac1{\sqrt H}\sum_h U_h^\top X^\top\mathrm{softmax}(X\Theta_hx_1)$
# ($\Theta_h$ the attention matrices, $U_h$ the value vectors, $\omega$ all parameters) trained by
# full-batch GD on the logistic loss over a tokenized-mixture data model (`docs/gd.md`; the
# analysis is this project's, after the abstract of Deora et al., arXiv 2310.12680). We measure
# loss against H at fixed data, and compare the analysis' constants (smoothness, self-bounding,
# NTK margin, training bound) with what GD does.

# %%
import os

import numpy as np

from provable_mha import gd, plotting

QUICK = os.environ.get("PROVABLE_MHA_QUICK") == "1" or os.environ.get("CI") == "true"
FIG = plotting.figure_dir()
n, T, d = (60, 4, 8) if QUICK else (200, 8, 16)
steps = 40 if QUICK else 300

# %% [markdown]
# ## 1. Train and test loss against H (random initialisation, seeds averaged)

# %%
exp = gd.heads_experiment([1, 2, 4] if QUICK else [1, 2, 4, 8, 16], n=n, n_test=4 * n, T=T, d=d,
                          steps=steps, lr=1.0, seeds=2 if QUICK else 3)
print(exp.table())
exp.plot(FIG / "03_loss_vs_heads.png")
assert all(np.isfinite(r["train_loss"]) for r in exp.rows)

# %% [markdown]
# ## 2. Bounds against measurements for one run
# With the safe step $\eta = 1/\rho$ (`lr="safe"`, proved in `docs/gd.md` §4 to satisfy the
# descent lemma's condition), GD must decrease the loss monotonically; the self-bounding
# inequality $\|\nabla\hat L\|\le G\hat L$ (§3) must hold along the path. `gd.train` is a thin
# wrapper: the same run is a `TrainingProblem` handed to a `GradientDescent` optimizer.

# %%
data = gd.tokenized_mixture(n, T, d, rng=0)
model = gd.MHAClassifier(4, d, rng=1)
c0 = gd.model_constants(model, data.X)
print(f"at init: beta1={c0.beta1:.3g}, beta2={c0.beta2:.3g}, G={c0.grad_bound:.3g}, "
      f"kappa={c0.hess_bound:.3g}, step bound 1/rho={c0.max_step:.3g}")
run = gd.train(model, data.X, data.y, steps=steps, lr="safe")
same = gd.GradientDescent(steps, gd.SafeStep()).run(gd.TrainingProblem(model, data.X, data.y))
assert np.array_equal(same.params, run.params)
h = run.history
print(f"loss {h['loss'][0]:.4f} -> {h['loss'][-1]:.4f} in {run.iterations} steps")
assert np.all(np.diff(h["loss"]) <= 1e-12), "loss must decrease under the step-size condition"
ratio = h["grad_norm"] / (c0.grad_bound * h["loss"])
print(f"max ||grad L|| / (G L) along the path: {ratio.max():.3g} (bound: <= 1 while |U| stays "
      "near its initial size)")
_ = plotting.plot_curves(h["step"], {"loss": h["loss"], "||grad||": h["grad_norm"]},
                     xlabel="GD step", ylabel="value", title="GD with the safe step",
                     path=FIG / "03_gd_path.png")

# %% [markdown]
# ## 3. The NTK margin at initialisation and the training bound it implies
# $\gamma$ is the largest margin of a unit direction on the NTK features at $\omega_0$ (a
# second-order-cone program, solved by `provable_mha.solvers.solve`); the bound instantiates the
# analysis (`docs/gd.md` §5) with comparators $\omega_0+\lambda\bar\omega$.

# %%
mg = gd.ntk_margin(model, data.X, data.y)
print(f"NTK margin gamma = {mg.gamma:.4g} ({mg.status}, {mg.solver}, {mg.seconds:.2f} s)")
if mg.separable:
    tb = gd.ntk_training_bound(model, data.X, data.y, steps, margin=mg)
    print(f"training bound after {steps} steps: {tb.bound:.4g} (valid={tb.valid}); "
          f"measured loss {run.cost:.4g}")
