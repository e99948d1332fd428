r"""Constraint generation: fit on an active set of examples, add the ones the fit violates, repeat.

The operations-research loop (``docs/structured.md`` §3):

1. *Master problem.* Fit the layer to the active examples only (variable projection on the
   shared core: :func:`..practical.local_search`), warm-started from the previous round.
2. *Separation oracle.* Evaluate the fit on every pooled (inactive) example, vectorised; an
   example is *violated* when some output entry misses its label by more than the per-entry
   tolerance of :func:`..policy.holdout_epsilon` (round-off, or the declared noise's Gaussian
   maximum over the pool).
3. Add the most violated examples (a batch proportional to the active set) and repeat until
   nothing in the pool is violated. When no start fits the active set, the worst-predicted
   pooled examples are added all the same, until the pool is empty.

Each round records the examples and rows (constraints) in the active set, the number violated,
the width of the active set's body (:class:`.body.LinearizedBody`: the certified parameter
radius, ``inf`` while the body is unbounded) and the seconds spent. Fewer examples than all of
them usually suffice, and every master problem is smaller than the full fit
(``benchmarks/structured_generation.py`` measures both).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .. import policy
from ..design import design_matrix
from ..limits import information_limit
from ..practical import LocalRun, local_search, start_points
from ..problem import Problem
from .body import LinearizedBody

__all__ = ["Generation", "violations", "generate"]


@dataclass
class Generation:
    """Outcome of :func:`generate`: the last fit, its active examples and the round records."""

    run: LocalRun
    active: np.ndarray
    accepted: bool
    threshold: float
    rounds: list[dict] = field(default_factory=list)


def violations(X: np.ndarray, Y: np.ndarray, thetas: np.ndarray, ws: np.ndarray, tol: float) -> np.ndarray:
    """Separation oracle: per example, the largest ``|F(X) - Y|`` entry divided by ``tol``."""
    n, k, d = X.shape
    if n == 0:
        return np.zeros(0)
    m = thetas.shape[0]
    F = design_matrix(thetas, X) @ ws.reshape(m * d, d)
    return np.abs(F - Y.reshape(n * k, d)).reshape(n, -1).max(axis=1) / tol


def _master(Xa, Ya, m, warm, starts, thr, per_round: int) -> LocalRun:
    """Fit the active examples: the warm start, then up to ``per_round`` fresh starts from ``starts``.

    Starts are consumed across rounds (popped from the list): a start that failed on a small active
    set is not retried; the set grows instead, which makes spurious minima rarer.
    """
    best = None
    fresh = [starts.pop(0) for _ in range(min(per_round, len(starts)))]
    tries = ([("warm", warm)] if warm is not None else []) + fresh
    for name, th0 in tries:
        run = local_search(Xa, Ya, m, th0, threshold=thr, start=name)
        if best is None or run.relative_residual < best.relative_residual:
            best = run
        if run.relative_residual <= thr:
            break
    if best is None:  # starts exhausted and no warm start: one more random start
        d = Xa.shape[2]
        best = local_search(Xa, Ya, m, np.zeros((m, d, d)), threshold=thr, start="zero")
    return best


def _width(Xa, Ya, run, problem: Problem, compute: bool) -> dict:
    """``{"width": radius, "block_radii": [...]}`` of the active set's body (NaN when not computed)."""
    if not compute:
        return {"width": float("nan")}
    rad = LinearizedBody(Xa, Ya, run.thetas, run.ws, noise=problem.noise, delta=problem.delta).radius()
    if rad.radius is None:
        return {"width": math.inf}
    return {"width": float(rad.radius), "block_radii": rad.block_radii}


def generate(problem: Problem, rng: np.random.Generator, *, initial: list | None = None, init_factor: float = 2.5,
             grow: float = 0.5, max_rounds: int = 40, starts_per_round: int = 2, widths: bool = True,
             monitor=None) -> Generation:
    """Run the loop of the module docstring on ``problem``.

    Parameters
    ----------
    initial : list of (name, thetas), optional
        Structured starts tried before the random ones (e.g. from moments).
    init_factor : float
        The first active set has ``init_factor`` times the information limit :math:`n^*` examples
        (``api.information_limit``): below about 2x, random starts mostly fail and the extra rounds
        cost more than the smaller fits save (measured, ``docs/structured.md`` §3).
    grow : float
        Each round adds up to ``grow`` times the active set's size of the most violated examples.
    starts_per_round : int
        Fresh starts tried per round when the warm start does not fit the active set.
    widths : bool
        Compute the body width of every round (one symmetric eigendecomposition of size
        :math:`2md^2`); the caller switches it off for large layers.
    monitor : callable ``(round_record, thetas, ws, Xa, Ya) -> None``, optional
        Called after each round (used to record containment of a planted truth).
    """
    X, Y, m = problem.X, problem.Y, problem.m
    n, k, d = X.shape
    need = math.ceil(2 * m * d / k)
    order = rng.permutation(n)
    start = init_factor * information_limit(m, d, k)  # infinite for k = 1: everything is active
    n0 = n if not math.isfinite(start) else min(n, max(need + 1, math.ceil(start)))
    active, pool = list(order[:n0]), order[n0:]
    pending = list(initial or []) + list(start_points(m, d, rng, problem.restarts))
    warm, rounds, run = None, [], None
    accepted = False
    for rnd in range(1, max_rounds + 1):
        t0 = time.perf_counter()
        Xa, Ya = X[active], Y[active]
        thr = policy.acceptance_threshold(Ya, problem.noise, problem.n_params, problem.delta)
        run = _master(Xa, Ya, m, warm, pending, thr, starts_per_round)
        accepted = run.relative_residual <= thr
        tol = policy.holdout_epsilon(float(np.abs(Ya).max()), problem.noise, problem.n_params / Ya.size,
                                     max(Y[pool].size, 1), problem.delta)
        v = violations(X[pool], Y[pool], run.thetas, run.ws, tol)
        bad = pool[v > 1.0]
        rec = {"round": rnd, "phase": "generation", "n_examples": len(active),
               "n_constraints": len(active) * k * d, "violated": int(bad.size),
               "relative_residual": run.relative_residual, "accepted": bool(accepted),
               **_width(Xa, Ya, run, problem, widths and accepted)}
        rec["seconds"] = time.perf_counter() - t0
        rounds.append(rec)
        if monitor is not None:
            monitor(rec, run.thetas, run.ws, Xa, Ya)
        problem.tick(f"round {rnd}: {len(active)} examples, {bad.size} violated")
        if accepted and bad.size == 0:
            break
        if pool.size == 0:  # every example is active: spend the remaining starts, then stop
            if not pending:
                break
            warm = None
            continue
        # a fit of the active set that the pool violates: add the worst; no fit at all: add the
        # worst-predicted examples anyway (more constraints make spurious minima rarer)
        cand, score = (bad, v[v > 1.0]) if accepted else (pool, v)
        worst = cand[np.argsort(-score)][: max(1, math.ceil(grow * len(active)))]
        active += list(worst)
        pool = np.setdiff1d(pool, worst, assume_unique=True)
        warm = run.thetas
    assert run is not None
    return Generation(run, np.asarray(active), accepted, problem.threshold, rounds)
