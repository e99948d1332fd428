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
# # 02 — Lower bounds: what the constructions prove about the dependence on m
#
# Chen & Li (arXiv 2402.04084) prove that in the worst case exponential dependence on the number
# of heads m is unavoidable (their abstract; their constructions are not reproduced here). The
# constructions below are **this project's own reconstruction** (`docs/hardness.md`). The parity
# gadget: with $k=2$ tokens, temperatures $0=a_0<\dots<a_{m-1}$ and coefficients solving
# $\sum_i c_i\sigma(a_iN)=(-1)^N$, an m-head layer computes $A(X)+B(X)\chi_S(x_0\odot x_1)$
# exactly for a secret $|S|=m-1$. The family has $D=\binom{d-1}{m-1}$ members with pairwise
# orthogonal secret-dependent parts at squared distance 8, which **proves** (`docs/hardness.md`
# §2) that an SQ algorithm with tolerance $\tau$ identifying the secret needs more than
# $(D-1)\tau^2$ queries. What is only **measured**: the coefficients' growth (about 4–5x per head,
# so the family's $\|W_i\|$ is not bounded uniformly in m) and the learner's cost. Numbers below
# are exact enumerations over the Boolean cube unless stated.

# %%
import os

import numpy as np

from provable_mha import hardness, plotting

QUICK = os.environ.get("PROVABLE_MHA_QUICK") == "1" or os.environ.get("CI") == "true"
FIG = plotting.figure_dir()

# %% [markdown]
# ## 1. The gadget's coefficients grow about 4–5x per head (measured, not proved)

# %%
ms = list(range(2, 6 if QUICK else 7))
gadgets = {m: hardness.solve_gadget(m) for m in ms}
print(f"{'m':>2} {'max|c_i|':>10} {'residual':>9}  temperatures")
for m, g in gadgets.items():
    print(f"{m:>2} {g.max_abs_coefficient:>10.2f} {g.residual:>9.1e}  "
          f"{np.round(g.temperatures, 2)}")
growth = [gadgets[m + 1].max_abs_coefficient / gadgets[m].max_abs_coefficient for m in ms[:-1]]
print("growth factor per head:", np.round(growth, 2))
assert all(g.residual < 1e-8 for g in gadgets.values())
_ = plotting.plot_curves(ms, {"max |c_i|": [gadgets[m].max_abs_coefficient for m in ms]},
                     xlabel="heads m", ylabel="max |c_i|", title="parity gadget coefficients",
                     path=FIG / "02_gadget_growth.png")

# %% [markdown]
# ## 2. SQ dimension of the family, by exact enumeration
# Columns: family size D, $\binom{d-1}{m-1}$, largest off-diagonal correlation of the secret
# parts, SQ dimension at tolerance $\tau=D^{-1/3}$ (max clique of the nearly-uncorrelated graph),
# separation $E\|F_S-F_{S'}\|^2$, lowest moment degree at which members differ.

# %%
ds = [5] if QUICK else [6, 7]
rows = hardness.sq_table(list(range(2, 4 if QUICK else 6)), ds)
print(hardness.format_sq_table(rows))
assert all(r["sq_dim"] == r["D"] == r["binom"] for r in rows)
assert all(abs(r["sep_min"] - 8) < 1e-9 for r in rows)

# %%
last = [r for r in rows if r["d"] == ds[-1]]
fig = plotting.plot_curves([r["m"] for r in last],
                           {"SQ dimension": [r["sq_dim"] for r in last],
                            "moment degree": [r["moment_degree"] for r in last]},
                           xlabel="heads m", ylabel="value", title=f"parity family, d={ds[-1]}",
                           path=FIG / "02_sq_dimension.png")

# %% [markdown]
# ## 3. The honest control: parity is easy outside SQ, until labels are noisy
# Gaussian elimination over GF(2) recovers the secret from O(d) noiseless examples; with label
# noise the equations become inconsistent and elimination fails, while the SQ bound stands.

# %%
for r in hardness.noise_experiment(3, 7, 40, sigmas=(0.0, 1.0, 2.0), trials=5 if QUICK else 20):
    print(f"sigma={r.sigma:.1f} flip rate={r.eta:.3f}: recovered {r.recovered}/{r.trials}, "
          f"inconsistent {r.inconsistent}/{r.trials}, SQ queries >= {r.sq_queries_at_tau:.3g}")

# %% [markdown]
# ## 4. The learner on hard vs planted instances
# Examples and time the learner needs as m grows, on a parity member (degenerate: it violates the
# conditions) and on a planted non-degenerate layer of the same shape.

# %%
cost = hardness.learner_cost([2] if QUICK else [2, 3, 4], 4 if QUICK else 6,
                             n_grid=[16, 32] if QUICK else None, n_test=200)
print(hardness.format_cost_table(cost))
hardness.plot_cost(cost, FIG / "02_learner_cost.png")

# %% [markdown]
# ## 5. The LWR-style reduction, end to end at toy size
# `hardness.lwr_attack_demo` plants a learning-with-rounding secret $s\in\mathbb{Z}_q^n$, turns
# LWR samples $(a, b)$ into examples of the family's layer (`docs/hardness.md` §4), learns the
# layer with `pm.learn` (its held-out certificate is usually *vacuous* here: the samples cover
# almost all $4^d$ inputs, so there is no unseen held-out input), and recovers $s$ from the
# learned layer by $nq$ chosen queries. Only tiny sizes can be built in float64: $(n,q,p)=(1,4,2)$
# (6 heads, $d=3$, 4 possible secrets) is the one case with real rounding, and $q=p=2$ is noiseless
# parity. This shows that the reduction's maps compose correctly; it says nothing about the
# hardness of LWR (at constant $q$ the problem is easy by linearization).

# %%
cases = [(1, 4, 2, 240)] if QUICK else [(1, 4, 2, 240), (2, 2, 2, 120), (3, 2, 2, 240)]
attacks = [hardness.lwr_attack_demo(n, q, p, samples=N, seed=s)
           for n, q, p, N in cases for s in range(3 if QUICK else 10)]
print(hardness.format_lwr_attack(attacks))
print(f"secret recovered in {sum(r.success for r in attacks)}/{len(attacks)} runs")
assert sum(r.success for r in attacks) >= len(attacks) - 1
