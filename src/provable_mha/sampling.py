"""Input distributions: uniform Boolean tokens and standard Gaussian tokens (SPEC §1)."""

from __future__ import annotations

import numpy as np

from ._validation import as_generator, check_array, check_positive_int

__all__ = ["sample_boolean", "sample_gaussian", "relative_error"]


def _shape(n, k, d) -> tuple[int, int, int]:
    return (check_positive_int(n, "n"), check_positive_int(k, "k"), check_positive_int(d, "d"))


def sample_boolean(n: int, k: int, d: int, rng: int | np.random.Generator | None = None) -> np.ndarray:
    r"""Draw ``n`` examples :math:`X \sim \mathrm{Unif}(\{\pm1\}^{k\times d})`.

    Returns a float64 array ``(n, k, d)`` with entries exactly :math:`\pm 1`. The same integer
    seed always gives the same array.
    """
    shape = _shape(n, k, d)
    gen = as_generator(rng)
    return gen.integers(0, 2, size=shape).astype(np.float64) * 2.0 - 1.0


def sample_gaussian(n: int, k: int, d: int, rng: int | np.random.Generator | None = None) -> np.ndarray:
    r"""Draw ``n`` examples with i.i.d. standard normal entries, shape ``(n, k, d)``."""
    shape = _shape(n, k, d)
    return as_generator(rng).standard_normal(shape)


def relative_error(model, X, Y) -> float:
    r"""Relative error :math:`\|\mathrm{model}(X) - Y\|_F / \|Y\|_F`.

    ``model`` is any callable on ``X`` (a :class:`~provable_mha.MultiHeadAttention` or an
    object with a ``.layer`` attribute, such as a :class:`~provable_mha.learn.LearnResult`).
    """
    layer = getattr(model, "layer", model)
    if not callable(layer):
        raise ValueError("model must be callable or carry a callable .layer")
    Y = check_array(Y, "Y")
    pred = np.asarray(layer(X), dtype=np.float64)
    if pred.shape != Y.shape:
        raise ValueError(f"Y has shape {Y.shape} but the model returns {pred.shape}")
    denom = np.linalg.norm(Y)
    if denom == 0:
        raise ValueError("Y is identically zero; the relative error is undefined")
    return float(np.linalg.norm(pred - Y) / denom)
