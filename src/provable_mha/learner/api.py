r"""The learner's one entry point :func:`learn`: validate once, dispatch a strategy, refine, certify.

.. code-block:: text

    learn(X, Y, m, method=...)
      validate (once)  ->  split train / held-out  ->  Problem
      strategy: practical | structured   ->  Candidate (thetas, ws, accepted, phases, rounds, body)
      refine:   joint least squares on all (Θ_i, W_i)          (refine.py)
      certify:  held-out PAC statement, vacuity, identifiability, body radius   (certify.py)
      -> LearnResult

Strategies share one signature, ``strategy(problem, rng) -> Candidate``, and are registered in
:data:`STRATEGIES`; their mathematics is in ``docs/learner.md`` and ``docs/structured.md``.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from .._validation import as_generator, check_array, check_bool, check_boolean, check_positive_int, check_real
from ..errors import LearnError
from ..identifiability import identifiability
from ..model import MultiHeadAttention
from ..solvers import choose_solver
from .certify import fresh_leverage, holdout_certificate
from .limits import information_limit, min_examples
from .practical import practical
from .problem import Problem
from .refine import joint_refine
from .result import LearnResult, PhaseRecord, timed_phase
from .structured import OPTIONS as STRUCTURED_OPTIONS
from .structured import structured

__all__ = ["learn", "min_examples", "information_limit", "split_indices", "STRATEGIES"]

#: ``method`` name -> strategy ``(problem, rng) -> Candidate``.
STRATEGIES = {"practical": practical, "structured": structured}
#: ``method`` name -> the strategy options ``learn(**options)`` accepts (checked before any work).
STRATEGY_OPTIONS = {"practical": frozenset({"start_scales", "ridge_path", "path_starts", "hops", "span_fits"}),
                    "structured": STRUCTURED_OPTIONS}


def _check_weights(v, name: str, min_len: int, maximum: float) -> tuple[float, ...]:
    """A practical option that is a flat sequence of ``min_len`` to 64 numbers in (0, ``maximum``]:
    ``start_scales`` (1 to 64 logit scales, at most 1000 — a larger start overflows the softmax) and
    ``ridge_path`` (0 to 64 Tikhonov weights, at most 1; empty: no path) and ``path_starts``
    (1 to 64 first weights of the path, at most 1)."""
    vals = None if isinstance(v, (str, bytes)) else np.atleast_1d(np.asarray(v, dtype=object))
    if vals is None or vals.ndim != 1 or not min_len <= vals.size <= 64:
        raise ValueError(f"{name} must be a sequence of {min_len} to 64 numbers in (0, {maximum:g}], got {v!r}")
    return tuple(check_real(x, f"{name} entry", minimum=0.0, strict_min=True, maximum=maximum) for x in vals)


#: practical option -> (shortest length, largest entry) for :func:`_check_weights`
_WEIGHT_OPTIONS = {"start_scales": (1, 1e3), "ridge_path": (0, 1.0), "path_starts": (1, 1.0)}


def _validate(X, Y, m, method, noise, holdout, inputs, delta, restarts, label_bound, solver, options):
    if inputs == "boolean":
        X = check_boolean(X, "X")
    elif inputs == "any":
        X = check_array(X, "X")
    else:
        raise ValueError(f"inputs must be 'boolean' or 'any', got {inputs!r}")
    Y = check_array(Y, "Y")
    if X.ndim != 3:
        raise ValueError(f"X must have shape (n, k, d), got {X.shape}")
    if Y.shape != X.shape:
        raise ValueError(f"Y must have the same shape as X {X.shape}, got {Y.shape}")
    m = check_positive_int(m, "m")
    if not isinstance(method, str) or method not in STRATEGIES:
        raise ValueError(f"method must be one of {tuple(STRATEGIES)}, got {method!r}")
    unknown = set(options) - STRATEGY_OPTIONS[method]
    if unknown:
        raise ValueError(f"unknown options for method={method!r}: {sorted(unknown)}; known: "
                         f"{sorted(STRATEGY_OPTIONS[method])}")
    for name in _WEIGHT_OPTIONS.keys() & options.keys():
        options[name] = _check_weights(options[name], name, *_WEIGHT_OPTIONS[name])
    for name in ("hops", "span_fits"):
        if name in options:
            options[name] = check_positive_int(options[name], name, minimum=0)
    for name, v, lo, hi in (("noise", noise, 0.0, math.inf), ("holdout", holdout, 0.0, 1.0),
                            ("delta", delta, 0.0, 1.0)):
        if not isinstance(v, (int, float, np.floating, np.integer)) or isinstance(v, bool) or not np.isfinite(v):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
        if not (lo <= v < hi if name == "noise" else lo < v < hi):
            raise ValueError(f"{name} must be in {'[0, inf)' if name == 'noise' else '(0, 1)'}, got {v}")
    restarts = check_positive_int(restarts, "restarts")
    if solver is not None:
        choose_solver("lp", solver)  # raises ValueError naming the installed solvers
    if label_bound is not None:
        check_real(label_bound, "label_bound", minimum=0.0, strict_min=True)
        if float(np.abs(Y).max()) > label_bound:
            raise ValueError(f"label_bound = {label_bound} is violated by the labels themselves (max |Y| = "
                             f"{float(np.abs(Y).max()):.3g}); declare a bound the labels satisfy")
    scale = float(np.abs(Y).max()) if Y.size else 0.0
    if scale == 0.0:
        raise ValueError("every label is 0: the zero layer fits exactly and nothing is learnable")
    if not 1e-150 < scale < 1e150:
        raise ValueError(f"labels of magnitude {scale:.1e} are outside the range this learner works "
                         "in (1e-150 .. 1e150): rescale Y (and noise) by a power of 10 first")
    return X, Y, m, restarts


def learn(X, Y, m: int, *, method: str = "practical", noise: float = 0.0, rng=None, holdout: float = 0.2,
          delta: float = 0.05, solver: str | None = None, restarts: int = 100,
          label_bound: float | None = None, inputs: str = "boolean", strict: bool = True,
          progress: bool = False, blas_threads: int | None = 1, mode: str | None = None,
          **options) -> LearnResult:
    r"""Learn an m-head attention layer from labelled examples and certify it on held-out data.

    Parameters
    ----------
    X, Y : array_like, shape (n, k, d)
        Inputs (Boolean unless ``inputs="any"``) and labels :math:`Y = F(X) + \text{noise}`.
    m : int
        Number of heads to fit.
    method : {"practical", "structured"}
        ``"practical"``: multi-start variable-projection Levenberg–Marquardt (fast, no parameter
        statement). ``"structured"``: constraint generation — a convex body built from the
        examples that contains every consistent layer near the fit, with a certified parameter
        radius (``docs/structured.md``).
    noise : float
        Declared label-noise level :math:`\sigma` (Gaussian); thresholds follow from it.
    rng : int or Generator, optional
        Seed for the split and the starts (reproducible for an int).
    holdout : float
        Fraction of examples held out for the certificate.
    delta : float
        Confidence parameter of every threshold and statement.
    solver : str, optional
        CVXPY solver for the convex programs (default HiGHS for LPs, Clarabel for cones).
    restarts : int
        Random starts the local searches may use. The search stops at the first start whose fit is
        accepted, so well-sampled data use one to three; near the information limit more are
        needed (measured at 1.5x n* on (2, 8, 4), 20 planted layers, default starts: median 2.5,
        at most 15; ``docs/learner.md``), and data no
        m-head layer fits spend them all (pass fewer for large layers).
    label_bound : float, optional
        Declared bound :math:`|Y_{ae}|\le B`; enables the certificate's ``mse_bound``.
    inputs : {"boolean", "any"}
        Check that X is in :math:`\{\pm1\}` (default), or accept any finite inputs.
    strict : bool
        If true (default), raise :class:`~provable_mha.LearnError` instead of returning a layer
        that does not fit the training data or is not certified; the uncertified result is then
        in ``err.diagnosis["result"]``.
    progress : bool
        Show a progress bar.
    blas_threads : int or None
        BLAS threads while learning (default 1 via :mod:`threadpoolctl`, restored after; see
        ``docs/dependencies.md``); ``None`` leaves the process setting alone.
    mode : str, optional
        Deprecated alias of ``method`` (``"provable"`` means ``"structured"``).
    **options
        Strategy options (``docs/structured.md`` lists the structured ones). Practical:
        ``start_scales`` — the logit scales the random starts cycle through (default
        :data:`.practical.START_SCALES`; ``docs/learner.md``); ``ridge_path`` — the Tikhonov
        weights of the continuation every start but the first follows before the plain search
        (default :data:`.practical.RIDGE_PATH`; ``()`` turns the path off; its matrix-free steps
        at weights from :data:`.practical.PATH_ACCURATE_MIN` up are solved to
        :data:`.practical.PATH_LSMR_RTOL`); ``path_starts`` —
        the weight each start's path begins at, cycled over the starts after the first (default
        :data:`.practical.PATH_STARTS`: alternately from 1e-2 and from 1e-3); ``hops`` — the
        patience (hops without progress) of the monotone basin-hopping chains opened from failed
        starts once :data:`.hopping.HOP_AFTER` (10) have failed, which share the budget with the
        fresh starts (:mod:`.hopping`; an int >= 0; 0: no
        hops; default :func:`.hopping.hop_patience`: 40 when m d^2 <= 512, else 0); ``span_fits``
        — the ensemble of ridge fits whose averaged span seeds every second start (:mod:`.span`;
        an int >= 0; 0: no span starts; default :func:`.span.span_fits`: 10 when
        m d^2 > 16384, else 0).

    Returns
    -------
    LearnResult

    Raises
    ------
    ValueError
        Malformed input (shapes, NaN/inf, non-Boolean entries, m < 1, bad options, all-zero or
        out-of-range labels).
    LearnError
        Too few examples for :math:`(m, d, k)`, no layer fits (data not realizable by m heads or
        noise understated), the fit fails the held-out check, or a solver failure.
    """
    if mode is not None:
        warnings.warn("learn(mode=...) is deprecated; use method=", DeprecationWarning, stacklevel=2)
        method = {"provable": "structured"}.get(mode, mode)
    X, Y, m, restarts = _validate(X, Y, m, method, noise, holdout, inputs, delta, restarts, label_bound, solver,
                                  options)
    strict, progress = check_bool(strict, "strict"), check_bool(progress, "progress")
    if blas_threads is not None:
        blas_threads = check_positive_int(blas_threads, "blas_threads")
    limits = threadpool_limits(blas_threads, user_api="blas") if blas_threads else contextlib.nullcontext()
    with limits:
        return _learn(X, Y, m, method=method, noise=float(noise), holdout=float(holdout), delta=float(delta),
                      rng=rng, solver=solver, restarts=restarts, label_bound=label_bound, strict=strict,
                      progress=progress, options=options)


def split_indices(n: int, holdout: float, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(training, held-out) indices of :func:`learn`'s split: the first ``max(1, round(holdout n))``
    entries of ``gen.permutation(n)`` are held out. ``learn(rng=seed)`` draws it first from
    ``default_rng(seed)``, so benchmarks and tests can rebuild the training set with this function."""
    perm = gen.permutation(n)
    n_h = max(1, int(round(holdout * n)))
    return perm[n_h:], perm[:n_h]


def _split(X, Y, m, holdout, gen):
    n, k, d = X.shape
    tr, held = split_indices(n, holdout, gen)
    n_tr, need = len(tr), min_examples(m, d, k)
    if n_tr < need:
        raise LearnError(
            f"too few examples: {n_tr} training examples (of {n}, holdout {holdout}) but (m, d, k) = "
            f"{(m, d, k)} needs at least 2md/k = {need} (the information limit is "
            f"{information_limit(m, d, k):.1f}; 1.5-3x that is recommended)",
            {"n": n, "n_train": n_tr, "min_train": need},
        )
    return X[tr], Y[tr], X[held], Y[held]


def _bar(progress: bool, desc: str):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(desc=desc, unit="step", leave=False)


def _learn(X, Y, m, *, method, noise, holdout, delta, rng, solver, restarts, label_bound, strict, progress,
           options) -> LearnResult:
    """The body of :func:`learn` on validated input."""
    n, k, d = X.shape
    seed = int(rng) if isinstance(rng, (int, np.integer)) else None
    gen = as_generator(rng)
    Xtr, Ytr, Xh, Yh = _split(X, Y, m, holdout, gen)
    bar = _bar(progress, f"learn m={m} ({method}) on {len(Xtr)} train + {len(Xh)} held-out examples")
    problem = Problem(Xtr, Ytr, m, noise=noise, delta=delta, solver=solver, restarts=restarts,
                      progress=bar, options=options)
    try:
        cand = STRATEGIES[method](problem, gen)
        phases = list(cand.phases)
        thetas, ws, accepted = _refine(problem, cand, phases)
        layer = MultiHeadAttention(thetas, ws)
        with timed_phase(phases, "certify") as rec:
            cert = _certify(problem, layer, cand, Xh, Yh, label_bound, accepted, rec)
    finally:
        if bar is not None:
            bar.close()
    train_rel = float(np.linalg.norm(layer(Xtr) - Ytr) / np.linalg.norm(Ytr))
    result = LearnResult(layer=layer, certificate=cert, phases=phases, rounds=cand.rounds, method=method,
                         m=m, d=d, k=k, n_train=len(Xtr), n_holdout=len(Xh), noise=noise, seed=seed,
                         train_relative_error=train_rel)
    if strict:
        _raise_if_uncertified(result, accepted, cand.threshold)
    return result


def _refine(problem: Problem, cand, phases: list[PhaseRecord]):
    """The shared refinement; returns ``(thetas, ws, accepted)``."""
    with timed_phase(phases, "refine", solver="numpy-lm", sizes={"parameters": problem.n_params}) as rec:
        rf = joint_refine(problem.X, problem.Y, cand.thetas, cand.ws, threshold=cand.threshold,
                          max_iter=20 if cand.accepted else 5)
        rec.info = {"relative_residual_before": rf.relative_residual_before,
                    "relative_residual": rf.relative_residual, "iterations": rf.iterations}
    problem.tick("refined")
    return rf.thetas, rf.ws, cand.accepted or rf.relative_residual <= cand.threshold


def _certify(problem: Problem, layer, cand, Xh, Yh, label_bound, accepted: bool, rec: PhaseRecord):
    """Identifiability, the body's parameter statement, then the held-out certificate.

    A fit that did not reach the acceptance threshold on the training data is never certified
    (check ``training_fit_accepted``), whatever the held-out split says.
    """
    k = problem.X.shape[1]
    ident = identifiability(layer, k)
    param, programs = None, []
    checks = {"training_fit_accepted": {"ok": bool(accepted)}}
    if cand.body is not None:
        t0 = time.perf_counter()
        param = cand.body.certify(layer, problem)
        checks.update(param.pop("checks", {}))
        programs.extend(param.pop("programs", []))
        rec.info["body_seconds"] = time.perf_counter() - t0
    leverage = problem.n_params / problem.Y.size  # in-sample mean; the fresh-input estimate when affordable
    if problem.noise > 0:
        fresh = fresh_leverage(layer, problem.X)
        leverage = leverage if fresh is None or not np.isfinite(fresh) else max(leverage, fresh)
        rec.info["leverage"] = leverage
    cert = holdout_certificate(
        layer, problem.X, Xh, Yh, y_scale=float(np.abs(problem.Y).max()), delta=problem.delta, noise=problem.noise,
        leverage=leverage, y_mean=problem.Y.mean(axis=0), label_bound=label_bound,
        param=param, identifiable=ident.identifiable, checks=checks, programs=programs)
    rec.status = "certified" if cert.certified else ("vacuous" if cert.vacuous else "not certified")
    rec.sizes = {"holdout": int(Xh.shape[0]), "distinct_unseen": cert.n_distinct_holdout}
    rec.info.update(identifiability=ident.summary(), certified=cert.certified)
    problem.tick("certified" if cert.certified else "NOT certified")
    return cert


def _raise_if_uncertified(result: LearnResult, accepted: bool, threshold: float) -> None:
    m, cert, train_rel = result.m, result.certificate, result.train_relative_error
    if not accepted:
        raise LearnError(
            f"no {m}-head layer found that fits the training data: best relative residual {train_rel:.3e} "
            f"> acceptance threshold {threshold:.3e}. The data may not be realisable by {m} heads, the noise "
            f"level may be understated, or more examples / restarts are needed.",
            {"train_relative_error": train_rel, "threshold": threshold, "result": result})
    if not cert.certified:
        raise LearnError(
            f"the fitted layer explains the training data (relative residual {train_rel:.3e}) but is not "
            f"certified: {cert.statement}",
            {"train_relative_error": train_rel, "holdout_max_residual": cert.max_residual,
             "epsilon": cert.epsilon, "vacuous": cert.vacuous, "result": result})
