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
# # 05 — Linear attention against softmax attention
#
# `pm.LinearMultiHeadAttention` replaces the softmax by $1/k$:
# $F_{\mathrm{lin}}(X)=\frac1k\sum_i(X\Theta_iX^\top)XW_i=\sum_i X\Theta_i C(X) W_i$ with
# $C(X)=X^\top X/k$. It is linear in the lifted coefficients $\beta$
# (`docs/linear_attention.md`), so `learn_linear` fits $\beta$ by least squares (convex), certifies
# that the design has full column rank (then $\beta$, hence the function on the whole cube, is
# determined by the data), and factorises $\beta$ into $m$ heads. The idea is from Yau et al.,
# arXiv 2410.10101; the lifted system here is this project's derivation.

# %%
import os

import numpy as np

import provable_mha as pm
from provable_mha import plotting
from provable_mha.baselines import compare_linear_softmax, learn_linear, min_examples_linear
from provable_mha.linear import lifted_dimension, lifted_features

QUICK = os.environ.get("PROVABLE_MHA_QUICK") == "1" or os.environ.get("CI") == "true"
FIG = plotting.figure_dir()
m, d, k = 2, 6, 4
print(f"lifted coefficients per output coordinate D = {lifted_dimension(d)}; "
      f"examples needed at least D/min(k, d) = {min_examples_linear(d, k)}")

# %% [markdown]
# ## 1. A planted linear layer learned back exactly
# Same parameters as a planted softmax instance; $n = 1.3\times$ the counting bound.

# %%
soft = pm.planted_instance(m, d, k, rng=0)
truth = pm.LinearMultiHeadAttention(soft.thetas, soft.ws)
n = int(np.ceil(1.3 * min_examples_linear(d, k)))
X = pm.sample_boolean(n, k, d, 1)
res = learn_linear(X, truth(X), m, rng=0)
print(res.summary())
Xt = pm.sample_boolean(1000, k, d, 2)
err = pm.relative_error(res.layer, Xt, truth(Xt))
print(f"test error of the {m}-head layer on fresh inputs: {err:.1e}")
assert res.exact and err < 1e-9

# %% [markdown]
# The heads themselves are not unique: any invertible $G$ mixes them without changing the function
# (`mix_heads`). What the data determine is the lifted object, here checked against the truth.

# %%
G = np.array([[1.0, 2.0], [0.5, -1.0]])
mixed = truth.mix_heads(G)
print(f"max |mixed(X) - truth(X)| = {np.abs(mixed(Xt) - truth(Xt)).max():.1e}; "
      f"max |Θ' - Θ| = {np.abs(mixed.thetas - truth.thetas).max():.2f}")
print(f"max |beta_hat - beta_true| = {np.abs(res.lifted - truth.lifted()).max():.1e}")

# %% [markdown]
# ## 2. The certificate as examples arrive
# Smallest singular value of the design $\Phi$ ($nk\times D$): exactly 0 below the counting bound
# (certificate false), then bounded away from 0.

# %%
ns = list(range(max(2, min_examples_linear(d, k) - 8), 3 * min_examples_linear(d, k) + 1, 4 if QUICK else 2))
smin, cond, certified = [], [], []
for nn in ns:  # only the certificate is looked at here: one LM iteration for the factorisation
    Xn = pm.sample_boolean(nn, k, d, 3)
    cert = learn_linear(Xn, truth(Xn), m, rng=0, restarts=1, max_iter=1).certificate
    smin.append(max(cert.sigma_min, 1e-17))
    cond.append(min(cert.condition, 1e17))
    certified.append(cert.certified)
print("n:", ns)
print("certified:", dict(zip(ns, certified, strict=True)))
assert not any(c for nn, c in zip(ns, certified, strict=True) if nn < min_examples_linear(d, k))
_ = plotting.plot_curves(ns, {"sigma_min(Phi)": smin, "condition number": cond}, xlabel="examples n",
                         ylabel="value", title=f"design of the lifted system (m={m}, d={d}, k={k})",
                         path=FIG / "05_design_sigma_min.png")

# %% [markdown]
# ## 3. Each learner on each kind of data
# `compare_linear_softmax` labels the same Boolean inputs with the softmax layer and with the linear
# layer of the same $(\Theta_i,W_i)$, and runs `pm.learn` and `learn_linear` on both.

# %%
sizes = [(2, 6, 4)] if QUICK else [(2, 6, 4), (2, 8, 4)]
seeds = [0] if QUICK else [0, 1, 2]
rows = []
for mm, dd, kk in sizes:
    for factor in (1.5, 4.0):
        nn = int(np.ceil(factor * min_examples_linear(dd, kk)))
        for seed in seeds:
            rows += compare_linear_softmax(mm, dd, kk, nn, seed=seed, n_test=300 if QUICK else 1000)
print(f"{'(m,d,k)':>9} {'n':>4} {'data':>8} {'learner':>27} {'test err':>9} {'train err':>9} certified")
for r in rows:
    print(f"{str((r['m'], r['d'], r['k'])):>9} {r['n']:>4} {r['data']:>8} {r['learner']:>27} "
          f"{r['test_error']:9.2e} {r['train_error']:9.2e} {r['certified']}")
for r in rows:  # each learner is exact on its own model
    if (r["data"], r["learner"]) in {("linear", "learn_linear (2 heads)"), ("softmax", "pm.learn (softmax)")}:
        assert r["certified"] and r["test_error"] < 1e-9

# %% [markdown]
# Test error against $n$ for the first size (median over seeds). Cross-model errors stay of order 1:
# neither model class contains the other (softmax attention has the uniform-attention term
# $\frac1k\mathbf 1\mathbf 1^\top XW_i$ at small logits, which linear attention lacks).

# %%
m0, d0, k0 = sizes[0]
first = [r for r in rows if (r["m"], r["d"], r["k"]) == (m0, d0, k0)]
n_values = sorted({r["n"] for r in first})
curves = {}
for data in ("softmax", "linear"):
    for learner in ("pm.learn (softmax)", f"learn_linear ({m0} heads)", "learn_linear (lifted LSQ)"):
        curves[f"{learner} on {data} data"] = [
            max(float(np.nanmedian([r["test_error"] for r in first
                                    if r["n"] == nv and r["data"] == data and r["learner"] == learner])), 1e-17)
            for nv in n_values]
_ = plotting.plot_curves(n_values, curves, xlabel="examples n", ylabel="relative test error",
                         title=f"linear vs softmax (m={m0}, d={d0}, k={k0})", path=FIG / "05_linear_vs_softmax.png")

# %% [markdown]
# The counting bound behind section 2: the $k$ rows $x_a\otimes c(X)$ of one example span at most
# $\operatorname{rank}X\le\min(k,d)$ dimensions, so $n$ examples give rank $\le n\min(k,d)$.

# %%
Phi = lifted_features(pm.sample_boolean(5, k, d, 4))
print(f"5 examples: design {Phi.shape}, rank {np.linalg.matrix_rank(Phi)} <= 5 min(k, d) = {5 * min(k, d)}")
assert np.linalg.matrix_rank(Phi) <= 5 * min(k, d)
