r"""Planted instances: random layers that meet the documented non-degeneracy conditions.

Full-rank heads (``rank=None``):

.. math::

    \Theta_i = \frac{s}{d} G_i,\qquad W_i = \frac{1}{\sqrt d} H_i,\qquad G_i, H_i \text{ i.i.d. } N(0,1)^{d\times d},

so that an off-diagonal Boolean logit :math:`x_a^\top\Theta_i x_b` has standard deviation
:math:`\|\Theta_i\|_F\approx s` (``scale``) and :math:`\|W_i\|_2\approx 2`.
Low-rank heads (``rank=r``), the shape of scaled dot-product attention:
:math:`\Theta_i = s\,Q_iK_i^\top/(d\sqrt r)`, :math:`W_i = V_iO_i/\sqrt{rd}` with Gaussian
:math:`Q_i, K_i, V_i \in\mathbb{R}^{d\times r}`, :math:`O_i\in\mathbb{R}^{r\times d}`.
Draws are rejected until :func:`~provable_mha.check_conditions` passes.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_generator, check_positive_int
from .conditions import check_conditions
from .model import MultiHeadAttention

__all__ = ["planted_instance", "random_layer"]

_MAX_TRIES = 200


def random_layer(m: int, d: int, scale: float = 1.0, rng=None, rank: int | None = None) -> MultiHeadAttention:
    """One unconditioned draw of the planted distribution (see the module docstring)."""
    m = check_positive_int(m, "m")
    d = check_positive_int(d, "d")
    if not np.isfinite(scale) or scale < 0:
        raise ValueError(f"scale must be finite and >= 0, got {scale}")
    gen = as_generator(rng)
    if rank is None:
        thetas = scale * gen.standard_normal((m, d, d)) / d
        ws = gen.standard_normal((m, d, d)) / np.sqrt(d)
    else:
        r = check_positive_int(rank, "rank")
        if r > d:
            raise ValueError(f"rank must be <= d = {d}, got {r}")
        q, kk, v = (gen.standard_normal((m, d, r)) for _ in range(3))
        o = gen.standard_normal((m, r, d))
        thetas = scale * np.einsum("mdr,mer->mde", q, kk) / (d * np.sqrt(r))
        ws = np.einsum("mdr,mre->mde", v, o) / np.sqrt(r * d)
    return MultiHeadAttention(thetas, ws)


def planted_instance(m: int = 2, d: int = 8, k: int = 4, scale: float = 1.0, rng=0,
                     rank: int | None = None, thresholds: dict | None = None) -> MultiHeadAttention:
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

    Raises
    ------
    ValueError
        If no draw out of 200 meets the conditions (e.g. ``scale = 0`` makes attention uniform).
    """
    m = check_positive_int(m, "m")
    d = check_positive_int(d, "d")
    k = check_positive_int(k, "k")
    if rank is not None and m * check_positive_int(rank, "rank") < d:
        raise ValueError(
            f"m * rank = {m * rank} < d = {d}: sum_i W_i would be singular, violating the "
            "sum_w_conditioning condition; use rank >= d / m"
        )
    gen = as_generator(rng)
    report = None
    for _ in range(_MAX_TRIES):
        layer = random_layer(m, d, scale, gen, rank)
        report = check_conditions(layer, k, thresholds)
        if report.passed:
            return layer
    raise ValueError(
        f"no planted layer with m={m}, d={d}, k={k}, scale={scale} met the conditions in "
        f"{_MAX_TRIES} draws; last failures: {report.failed if report else '?'}"
    )
