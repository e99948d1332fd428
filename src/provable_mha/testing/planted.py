"""Planted learning problems with reproducible data, for tests and examples."""

from __future__ import annotations

import numpy as np

from ..instances import planted_instance
from ..sampling import sample_boolean

__all__ = ["planted_data"]


def planted_data(m: int, d: int, k: int, n: int, seed: int, scale: float = 1.0, noise: float = 0.0):
    """A planted instance and ``n`` Boolean examples of it, labels with optional Gaussian noise.

    The layer is ``planted_instance(m, d, k, scale=scale, rng=seed)``, the inputs are drawn with
    seed ``seed + 100`` and the noise with ``seed``. Returns ``(layer, X, Y)``.
    """
    inst = planted_instance(m=m, d=d, k=k, scale=scale, rng=seed)
    X = sample_boolean(n, k, d, seed + 100)
    Y = inst(X)
    if noise:
        Y = Y + noise * np.random.default_rng(seed).standard_normal(Y.shape)
    return inst, X, Y
