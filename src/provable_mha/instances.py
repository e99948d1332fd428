r"""Planted instances: random layers that meet the documented non-degeneracy conditions.

Full-rank heads (``rank=None``):

.. math::

    \Theta_i = \frac{s}{d} G_i,\qquad W_i = \frac{1}{\sqrt d} H_i,\qquad G_i, H_i \text{ i.i.d. } N(0,1)^{d\times d},

so that an off-diagonal Boolean logit :math:`x_a^\top\Theta_i x_b` has standard deviation
:math:`\|\Theta_i\|_F\approx s` (``scale``) and :math:`\|W_i\|_2\approx 2`.
Low-rank heads (``rank=r``), the shape of scaled dot-product attention:
:math:`\Theta_i = s\,Q_iK_i^\top/(d\sqrt r)`, :math:`W_i = V_iO_i/\sqrt{rd}` with Gaussian
:math:`Q_i, K_i, V_i \in\mathbb{R}^{d\times r}`, :math:`O_i\in\mathbb{R}^{r\times d}`.
Draws are rejected until :func:`~provable_mha.check_conditions` passes. Both functions estimate
the memory of a draw (and of the conditions) and refuse sizes above the memory limit of
:mod:`provable_mha._validation` before allocating (``docs/io.md``, "Input guards").
"""

from __future__ import annotations

import math

import numpy as np

from ._validation import as_generator, check_memory, check_positive_int, check_real
from .conditions import check_conditions, memory_estimate
from .model import MultiHeadAttention

__all__ = ["planted_instance", "random_layer"]

_MAX_TRIES = 200


def _draw_bytes(m: int, d: int) -> int:
    """Bytes of one draw: at most eight (m, d, d) float64 arrays alive at once (draws, scaled copies,
    the layer's own copies); the low-rank factors are smaller."""
    return 8 * 8 * m * d * d


def _check_sizes(m, d, rank) -> tuple[int, int, int | None]:
    m, d = check_positive_int(m, "m"), check_positive_int(d, "d")
    if rank is not None:
        rank = check_positive_int(rank, "rank")
        if rank > d:
            raise ValueError(f"rank must be <= d = {d}, got {rank}")
    return m, d, rank


def random_layer(m: int, d: int, scale: float = 1.0, rng=None, rank: int | None = None, *,
                 memory_limit: float | None = None) -> MultiHeadAttention:
    """One unconditioned draw of the planted distribution (see the module docstring).

    ``scale`` is a finite real ``>= 0``; ``memory_limit`` (bytes, default the package limit of
    4 GiB) bounds the draw's arrays, checked before allocating.
    """
    m, d, rank = _check_sizes(m, d, rank)
    scale = check_real(scale, "scale", minimum=0.0)
    check_memory(_draw_bytes(m, d), f"a layer with m = {m}, d = {d}", memory_limit)
    gen = as_generator(rng)
    if rank is None:
        thetas = scale * gen.standard_normal((m, d, d)) / d
        ws = gen.standard_normal((m, d, d)) / np.sqrt(d)
    else:
        r = rank
        q, kk, v = (gen.standard_normal((m, d, r)) for _ in range(3))
        o = gen.standard_normal((m, r, d))
        thetas = scale * np.einsum("mdr,mer->mde", q, kk) / (d * np.sqrt(r))
        ws = np.einsum("mdr,mre->mde", v, o) / np.sqrt(r * d)
    return MultiHeadAttention(thetas, ws)


def planted_instance(m: int = 2, d: int = 8, k: int = 4, scale: float = 1.0, rng=0,
                     rank: int | None = None, thresholds: dict | None = None, *,
                     memory_limit: float | None = None) -> MultiHeadAttention:
    """A random layer meeting every required condition of :func:`check_conditions` at ``k``.

    Parameters
    ----------
    m, d, k : int
        Heads, token dimension, tokens per example (``k`` enters the attention conditions).
    scale : float
        Logit scale :math:`\\|\\Theta_i\\|_F` (0.5 to 3 is the tested range).
    rng : int or Generator
        Seed; equal seeds give equal layers.
    rank : int, optional
        Rank of each head (scaled dot-product shape). ``m * rank >= d`` is needed for
        :math:`\\sum_i W_i` to be invertible, a required condition.
    thresholds : dict, optional
        Overrides of the condition thresholds (:func:`check_conditions`).
    memory_limit : float, optional
        Bytes a draw and its conditions may allocate (default the package limit, 4 GiB), checked
        before anything is allocated.

    Raises
    ------
    ValueError
        Bad arguments, a size above the memory limit, or no draw out of 200 meets the conditions
        (e.g. ``scale = 0`` makes attention uniform).
    """
    m, d, rank = _check_sizes(m, d, rank)
    k = check_positive_int(k, "k")
    scale = check_real(scale, "scale", minimum=0.0)
    check_memory(_draw_bytes(m, d) + memory_estimate(m, d, k), f"planted_instance(m = {m}, d = {d}, k = {k})",
                 memory_limit)
    if rank is not None and m * rank < d:
        raise ValueError(
            f"m * rank = {m * rank} < d = {d}: sum_i W_i would be singular, violating the "
            "sum_w_conditioning condition; use rank >= d / m"
        )
    gen = as_generator(rng)
    report = None
    for _ in range(_MAX_TRIES):
        layer = random_layer(m, d, scale, gen, rank, memory_limit=math.inf)
        report = check_conditions(layer, k, thresholds, memory_limit=math.inf)
        if report.passed:
            return layer
    raise ValueError(
        f"no planted layer with m={m}, d={d}, k={k}, scale={scale} met the conditions in "
        f"{_MAX_TRIES} draws; last failures: {report.failed if report else '?'}"
    )
