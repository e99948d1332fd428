"""Hypothesis strategies for the gd tests: small classifiers with data and labels."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from provable_mha.gd import MHAClassifier


@st.composite
def problems(draw, max_H: int = 3, max_d: int = 4, max_T: int = 4, max_n: int = 5):
    """``(model, X, y)``: random architecture switches, init scale, token norms and labels."""
    H = draw(st.integers(1, max_H))
    d = draw(st.integers(1, max_d))
    T = draw(st.integers(1, max_T))
    n = draw(st.integers(1, max_n))
    norm = draw(st.sampled_from(["sqrt", "mean"]))
    query = draw(st.sampled_from(["first", "mean"]))
    init_scale = draw(st.floats(0.0, 3.0))
    token_scale = draw(st.floats(0.2, 2.0))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    model = MHAClassifier(H, d, normalization=norm, query=query, rng=rng, init_scale=init_scale)
    X = token_scale * rng.standard_normal((n, T, d)) / np.sqrt(d)
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    return model, X, y
