"""Hypothesis strategies for multi-head attention layers and Boolean inputs.

Import them in your own tests::

    from hypothesis import given
    from provable_mha.testing import layers, boolean_inputs

    @given(layers(), st.data())
    def test_rows_sum_to_one(layer, data):
        X = data.draw(boolean_inputs(d=layer.d))
        assert np.allclose(layer.attention(X).sum(-1), 1)

Randomness is drawn through Hypothesis (a seed integer), so failures shrink and replay.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..instances import planted_instance
from ..model import MultiHeadAttention

__all__ = ["dims", "boolean_inputs", "layers", "planted_layers"]

_seeds = st.integers(min_value=0, max_value=2**32 - 1)


def dims(max_m: int = 3, max_d: int = 6, max_k: int = 5):
    """Strategy for ``(m, d, k)`` triples with ``1 <= m <= max_m`` etc."""
    return st.tuples(st.integers(1, max_m), st.integers(1, max_d), st.integers(1, max_k))


@st.composite
def boolean_inputs(draw, n=None, k=None, d=None, max_n: int = 4, max_k: int = 5, max_d: int = 6):
    """Strategy for Boolean batches ``(n, k, d)`` with entries in {-1, +1}.

    Any of ``n, k, d`` may be fixed; the rest are drawn up to ``max_*``.
    """
    n = draw(st.integers(1, max_n)) if n is None else n
    k = draw(st.integers(1, max_k)) if k is None else k
    d = draw(st.integers(1, max_d)) if d is None else d
    seed = draw(_seeds)
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, size=(n, k, d)).astype(np.float64) * 2 - 1


@st.composite
def layers(draw, m=None, d=None, max_m: int = 3, max_d: int = 6, max_scale: float = 3.0):
    """Strategy for arbitrary (not necessarily non-degenerate) layers with Gaussian parameters.

    ``Theta_i`` has logit scale up to ``max_scale``; ``W_i`` entries are N(0, 1/d).
    """
    m = draw(st.integers(1, max_m)) if m is None else m
    d = draw(st.integers(1, max_d)) if d is None else d
    scale = draw(st.floats(0.0, max_scale, allow_nan=False))
    rng = np.random.default_rng(draw(_seeds))
    thetas = scale * rng.standard_normal((m, d, d)) / d
    ws = rng.standard_normal((m, d, d)) / np.sqrt(d)
    return MultiHeadAttention(thetas, ws)


@st.composite
def planted_layers(draw, m=None, d=None, k=None, scales=(0.5, 3.0), max_m: int = 3):
    """Strategy for planted layers meeting :func:`~provable_mha.check_conditions`.

    Yields ``(layer, k)``; ``d`` is drawn so that ``d >= m + 2`` (room for independent heads).
    """
    m = draw(st.integers(1, max_m)) if m is None else m
    d = draw(st.integers(m + 2, m + 6)) if d is None else d
    k = draw(st.integers(2, 5)) if k is None else k
    scale = draw(st.floats(*scales, allow_nan=False))
    return planted_instance(m=m, d=d, k=k, scale=scale, rng=draw(_seeds)), k
