"""Planted data shared by the learner's phase tests."""

import numpy as np

import provable_mha as pm


def planted_data(m, d, k, n, seed, scale=1.0, noise=0.0):
    """A planted instance and ``n`` Boolean examples of it (labels with optional Gaussian noise)."""
    inst = pm.planted_instance(m=m, d=d, k=k, scale=scale, rng=seed)
    X = pm.sample_boolean(n, k, d, seed + 100)
    Y = inst(X)
    if noise:
        Y = Y + noise * np.random.default_rng(seed).standard_normal(Y.shape)
    return inst, X, Y
