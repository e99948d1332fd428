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
# # 04 — Learning a PyTorch-style scaled-dot-product attention layer
#
# `torch.nn.MultiheadAttention(d, h, bias=False)` is an instance of the model with
# $\Theta_i=W_{Q,i}W_{K,i}^\top/\sqrt{d/h}$ and $W_i=W_{V,i}W_{O,i}$, both of rank $\le d/h$.
# `pm.from_torch_weights` does the conversion; `pm.planted_instance(..., rank=d//h)` plants heads
# of that shape, and `pm.learn` learns them like any other layer (the learner does not know the
# rank).

# %%
import os

import numpy as np

import provable_mha as pm
from provable_mha import plotting
from provable_mha.sweep import Cell, run_trial

QUICK = os.environ.get("PROVABLE_MHA_QUICK") == "1" or os.environ.get("CI") == "true"
FIG = plotting.figure_dir()
d, h, k = 8, 2, 4

# %% [markdown]
# ## 1. The conversion, checked against an explicit scaled-dot-product computation
# Weights are laid out as torch stores them: `in_proj_weight = [W_q; W_k; W_v]` (3d x d, acting as
# `x @ W.T`) and `out_proj_weight` (d x d).

# %%
rng = np.random.default_rng(0)
in_proj = rng.standard_normal((3 * d, d)) / np.sqrt(d)
out_proj = rng.standard_normal((d, d)) / np.sqrt(d)
layer = pm.from_torch_weights(in_proj, out_proj, num_heads=h)


def sdpa(X, in_proj, out_proj, h):
    """Self-attention as torch computes it (no bias, no mask), written out in NumPy."""
    dd = X.shape[-1]
    dh = dd // h
    q, kk, v = (X @ in_proj[i * dd:(i + 1) * dd].T for i in range(3))
    heads = []
    for i in range(h):
        s = slice(i * dh, (i + 1) * dh)
        att = pm.softmax(q[..., s] @ kk[..., s].swapaxes(-1, -2) / np.sqrt(dh))
        heads.append(att @ v[..., s])
    return np.concatenate(heads, axis=-1) @ out_proj.T


X = pm.sample_boolean(16, k, d, 1)
gap = np.abs(layer(X) - sdpa(X, in_proj, out_proj, h)).max()
print(f"max |F(X) - sdpa(X)| = {gap:.1e}; ranks of Θ_i: "
      f"{[np.linalg.matrix_rank(t) for t in layer.thetas]}, of W_i: "
      f"{[np.linalg.matrix_rank(w) for w in layer.ws]}")
assert gap < 1e-12

# %%
try:
    import torch
except ImportError:  # torch is not a dependency; the NumPy reference above stands in for it
    torch = None
if torch is not None:
    mha = torch.nn.MultiheadAttention(d, h, bias=False, batch_first=True).double()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.from_numpy(in_proj))
        mha.out_proj.weight.copy_(torch.from_numpy(out_proj))
        out, _ = mha(*(torch.from_numpy(X),) * 3, need_weights=False)
    print(f"torch: max |F(X) - torch(X)| = {np.abs(out.numpy() - layer(X)).max():.1e}")
    assert np.allclose(out.numpy(), layer(X), atol=1e-12)

# %% [markdown]
# ## 2. Learning planted low-rank heads
# `rank=d//h` gives heads shaped like scaled dot-product attention; the learner fits full
# $d\times d$ matrices and recovers the low-rank ones.

# %%
seeds = [0] if QUICK else [0, 1, 2]
results = []
for seed in seeds:
    t = run_trial(Cell(h, d, k, 60, 1.5, seed), rank=d // h, n_test=300)
    results.append(t)
    sv = np.linalg.svd(t.result.layer.thetas, compute_uv=False)
    print(f"seed {seed}: test error {t.metrics['test_error']:.2e}, head error "
          f"{t.metrics['head_error']:.2e}, learned Θ singular values (head 0) {np.round(sv[0], 4)}")
    assert t.metrics["test_error"] < 1e-6

# %% [markdown]
# The singular values of each head's $\Theta_i$, planted and learned: rank $d/h$ in both.

# %%
t = results[0]
_ = plotting.plot_singular_values({"planted": t.planted, "learned": t.result.layer},
                                  path=FIG / "04_low_rank_spectrum.png")
