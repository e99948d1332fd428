r"""Bodies as examples arrive, at a fixed fit: what the notebooks and ``benchmarks/structured.py`` plot.

* :func:`body_trajectory` — the linearized body of :mod:`.body` on the first ``n`` examples;
* :func:`sculpt_trajectory` — one head's log-ratio Θ-body of :mod:`.sculpt` (known W, :math:`mk\le d`)
  grown batch by batch, with its widths, centres and the containment of a planted truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..._validation import check_array
from ..policy import CONTAINMENT_TOL
from .body import LinearizedBody, Radius
from .sculpt import _check_xy, attention_from_outputs, body_centre, body_widths, theta_body

__all__ = ["body_trajectory", "head_radii", "SculptTrajectory", "sculpt_trajectory"]


def body_trajectory(X, Y, thetas, ws, sizes, *, noise: float = 0.0, delta: float = 0.05) -> list[Radius]:
    """The body's :class:`Radius` on the first ``n`` examples, for each ``n`` in ``sizes``, at one fit.

    With the centre fixed, this shows the body sculpted by examples: unbounded while the Jacobian
    is rank-deficient, then a radius that shrinks as rows are added (``docs/structured.md`` §2).
    """
    return [LinearizedBody(X[:n], Y[:n], thetas, ws, noise=noise, delta=delta).radius() for n in sizes]


def head_radii(radius: Radius, m: int) -> np.ndarray:
    """Per head, the bound on max(||dΘ_i||_F, ||dW_i||_F) from a :class:`.body.Radius` (inf if none).

    ``block_radii`` is ordered ``[Θ_1..Θ_m, W_1..W_m]``.
    """
    if radius.radius is None:
        return np.full(m, np.inf)
    b = np.asarray(radius.block_radii)
    return np.minimum(np.maximum(b[:m], b[m:]), radius.ball)


@dataclass
class SculptTrajectory:
    """The Θ-body of one head as examples are added in batches.

    ``n_examples[t]`` examples give ``widths[t]`` (one per direction), ``centres[t] (d, d)``
    (Chebyshev), ``violations[t]`` of the truth (NaN when no truth was given) and ``rows[t]``.
    """

    n_examples: list[int]
    widths: np.ndarray
    centres: list[np.ndarray]
    violations: list[float]
    rows: list[int]
    tolerance: float = CONTAINMENT_TOL
    info: dict = field(default_factory=dict)


def sculpt_trajectory(X, Y, ws, *, head: int = 0, noise: float = 0.0, batch: int = 10,
                      directions=None, n_directions: int = 4, truth=None, rng=None,
                      solver: str | None = None) -> SculptTrajectory:
    """Grow one head's Θ-body batch by batch (known ``ws``) and record widths, centres, containment.

    Parameters
    ----------
    head : int
        Which head's body to follow.
    batch : int
        Examples added per step; steps are ``batch, 2*batch, ..., n``.
    directions : array_like (r, d*d), optional
        Width directions; default ``n_directions`` random unit vectors from ``rng``.
    truth : array_like (d, d), optional
        The true Θ of ``head``; its violation of every body is recorded.
    """
    from ..._validation import as_generator, check_positive_int

    Xb, Yb = _check_xy(X, Y)
    n, k, d = Xb.shape
    batch = check_positive_int(batch, "batch")
    W = check_array(ws, "ws", ndim=3)
    if not 0 <= int(head) < W.shape[0]:
        raise ValueError(f"head must be in [0, {W.shape[0]}), got {head}")
    if directions is None:
        directions = as_generator(rng).standard_normal((n_directions, d * d))
    ai = attention_from_outputs(Xb, Yb, W, noise=noise)
    full = theta_body(Xb, ai.lower[:, head], ai.upper[:, head])
    steps = list(range(batch, n, batch)) + [n]
    widths, centres, viol, rows = [], [], [], []
    for t in steps:
        body = full.upto(t)
        widths.append(body_widths(body, directions, solver=solver))
        centres.append(body_centre(body, solver=solver).theta)
        viol.append(float("nan") if truth is None else body.violation(truth))
        rows.append(body.rows.n_rows)
    return SculptTrajectory(steps, np.array(widths), centres, viol, rows,
                            info={"dropped_examples": ai.coefficients.n_dropped, "head": int(head)})
