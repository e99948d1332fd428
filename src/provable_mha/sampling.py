"""Input distributions: uniform Boolean tokens and standard Gaussian tokens, and the relative error.

The samplers estimate the memory of what they allocate and refuse sizes above the memory limit of
:mod:`provable_mha._validation` before allocating (``docs/io.md``, "Input guards").
"""

from __future__ import annotations

import numpy as np

from ._validation import as_generator, check_array, check_memory, check_positive_int

__all__ = ["sample_boolean", "sample_gaussian", "relative_error"]


def _shape(n, k, d, bytes_per_entry: int, what: str, memory_limit) -> tuple[int, int, int]:
    shape = (check_positive_int(n, "n"), check_positive_int(k, "k"), check_positive_int(d, "d"))
    check_memory(bytes_per_entry * shape[0] * shape[1] * shape[2], f"{what}(n={shape[0]}, k={shape[1]}, "
                 f"d={shape[2]})", memory_limit)
    return shape


def sample_boolean(n: int, k: int, d: int, rng: int | np.random.Generator | None = None, *,
                   memory_limit: float | None = None) -> np.ndarray:
    r"""Draw ``n`` examples :math:`X \sim \mathrm{Unif}(\{\pm1\}^{k\times d})`.

    Returns a float64 array ``(n, k, d)`` with entries exactly :math:`\pm 1`. The same integer
    seed always gives the same array. ``memory_limit`` (bytes; default the package limit, 4 GiB)
    bounds the :math:`16\,nkd` bytes the draw needs (the integer draw and the float64 result).
    """
    shape = _shape(n, k, d, 16, "sample_boolean", memory_limit)
    gen = as_generator(rng)
    return gen.integers(0, 2, size=shape).astype(np.float64) * 2.0 - 1.0


def sample_gaussian(n: int, k: int, d: int, rng: int | np.random.Generator | None = None, *,
                    memory_limit: float | None = None) -> np.ndarray:
    r"""Draw ``n`` examples with i.i.d. standard normal entries, shape ``(n, k, d)``.

    ``memory_limit`` (bytes; default the package limit, 4 GiB) bounds the :math:`8\,nkd` bytes drawn.
    """
    shape = _shape(n, k, d, 8, "sample_gaussian", memory_limit)
    return as_generator(rng).standard_normal(shape)


def relative_error(model, X, Y) -> float:
    r"""Relative error :math:`\|\mathrm{model}(X) - Y\|_F / \|Y\|_F`.

    ``model`` is any callable on ``X`` (a :class:`~provable_mha.MultiHeadAttention` or an
    object with a ``.layer`` attribute, such as a :class:`~provable_mha.LearnResult`).

    Raises
    ------
    ValueError
        ``Y`` not finite or identically zero, a prediction of another shape, or a prediction
        (or the error itself) that is not finite.
    """
    layer = getattr(model, "layer", model)
    if not callable(layer):
        raise ValueError("model must be callable or carry a callable .layer")
    Y = check_array(Y, "Y")
    pred = check_array(layer(X), "the model's prediction")
    if pred.shape != Y.shape:
        raise ValueError(f"Y has shape {Y.shape} but the model returns {pred.shape}")
    diff = pred - Y
    if not np.all(np.isfinite(diff)):
        raise ValueError("model(X) - Y overflows float64: rescale X and Y")
    sy, sd = float(np.abs(Y).max(initial=0.0)), float(np.abs(diff).max(initial=0.0))
    if sy == 0:
        raise ValueError("Y is identically zero; the relative error is undefined")
    if sd == 0:
        return 0.0
    # ||diff|| / ||Y|| with each norm taken of the array divided by its largest entry, so that
    # neither squares overflow (|Y| ~ 1e200) nor underflow (|Y| ~ 1e-200) in the sums
    err = float((sd / sy) * (np.linalg.norm(diff / sd) / np.linalg.norm(Y / sy)))
    if not np.isfinite(err):
        raise ValueError(f"the relative error overflows float64 (max |model(X) - Y| = {sd:.3g}, max |Y| = {sy:.3g})")
    return err
