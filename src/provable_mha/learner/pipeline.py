"""The learner's entry point :func:`learn`: validation, the split, the phases, the certificate."""

from __future__ import annotations

import contextlib
import math

import numpy as np
from threadpoolctl import threadpool_limits

from .._validation import as_generator, check_array, check_boolean, check_positive_int
from ..errors import LearnError
from ..model import MultiHeadAttention
from .certify import holdout_certificate, w_step_lp
from .moments import crude_sum_w
from .refine import joint_refine
from .result import LearnResult, PhaseRecord, timed_phase
from .search import practical_search

__all__ = ["learn", "min_examples"]

MODES = ("practical", "provable")


def min_examples(m: int, d: int, k: int) -> int:
    r"""The information limit :math:`\lceil 2md/k\rceil`.

    Parameters :math:`2md^2` divided by the labels per example :math:`kd`.
    """
    return math.ceil(2 * m * d / k)


def _progress(enabled: bool, total: int, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=False)


def _validate(X, Y, m, mode, noise, holdout, inputs):
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
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite level >= 0, got {noise}")
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must be a fraction in (0, 1), got {holdout}")
    return X, Y, m


def learn(X, Y, m: int, *, mode: str = "practical", solver: str | None = None, noise: float = 0.0,
          holdout: float = 0.2, rng=None, progress: bool = False, restarts: int = 12, delta: float = 0.05,
          inputs: str = "boolean", strict: bool = True, blas_threads: int | None = 1) -> LearnResult:
    r"""Learn an m-head attention layer from labelled examples and certify it on held-out data.

    Phases (each a function of :mod:`provable_mha.learner` usable on its own):

    1. ``moments`` — crude :math:`\sum_i W_i` from input–label correlations;
    2. ``search`` — *practical*: variable-projection Levenberg–Marquardt over :math:`\Theta`
       (:math:`W` eliminated by least squares) from several starts, each judged by its residual;
       *provable*: sculpted bodies, span recovery and a net over the span coefficients
       (:func:`provable_mha.learner.provable.provable_fit`, needs :math:`mk\le d`);
    3. ``refine`` — joint least squares on all :math:`(\Theta_i, W_i)` with an analytic Jacobian;
    4. ``certify`` — the W-step LP :math:`t^*` on the training split and the held-out
       certificate (realizable PAC bound and Hoeffding bound).

    Parameters
    ----------
    X, Y : array_like, shape (n, k, d)
        Inputs (Boolean unless ``inputs="any"``) and labels :math:`Y = F(X) + \text{noise}`.
    m : int
        Number of heads to fit.
    mode : {"practical", "provable"}
    solver : str, optional
        CVXPY solver for the convex programs (default HiGHS for LPs, Clarabel for cones).
    noise : float
        Label-noise level :math:`\sigma`; widens acceptance thresholds and the certificate's epsilon.
    holdout : float
        Fraction of examples held out for the certificate.
    rng : int or Generator, optional
        Seed for the split and the random starts (results are reproducible for an int).
    progress : bool
        Show a progress bar over phases and starts.
    restarts : int
        Random starts of the practical search after the initial ones.
    delta : float
        Confidence parameter of the certificate.
    blas_threads : int or None
        BLAS threads while learning (default 1, via :mod:`threadpoolctl`; the learner's small
        products are faster single-threaded, see ``docs/dependencies.md``); ``None`` leaves the
        process setting alone.
    strict : bool
        If true (default), raise :class:`~provable_mha.LearnError` instead of returning a layer that
        does not fit the training data to the acceptance threshold or is not certified on the
        held-out split. The uncertified result is then in ``err.diagnosis["result"]``.

    Returns
    -------
    LearnResult

    Raises
    ------
    ValueError
        On malformed input (shapes, NaN/inf, non-Boolean entries, m < 1, bad options).
    LearnError
        Too few examples for :math:`(m, d, k)`, data not realisable by m heads (no start reaches
        the acceptance threshold), a fit that fails the held-out check, or a solver failure.
    """
    X, Y, m = _validate(X, Y, m, mode, noise, holdout, inputs)
    if blas_threads is not None:
        blas_threads = check_positive_int(blas_threads, "blas_threads")
    limits = threadpool_limits(blas_threads, user_api="blas") if blas_threads else contextlib.nullcontext()
    with limits:
        return _learn(X, Y, m, mode=mode, solver=solver, noise=noise, holdout=holdout, rng=rng,
                      progress=progress, restarts=restarts, delta=delta, strict=strict)


def _learn(X, Y, m, *, mode, solver, noise, holdout, rng, progress, restarts, delta, strict) -> LearnResult:
    """The body of :func:`learn` on validated input."""
    n, k, d = X.shape
    seed = rng if isinstance(rng, (int, np.integer)) else None
    gen = as_generator(rng)
    n_h = max(1, int(round(holdout * n)))
    n_tr = n - n_h
    need = min_examples(m, d, k)
    if n_tr < need:
        raise LearnError(
            f"too few examples: {n_tr} training examples (of {n}, holdout {holdout}) but (m, d, k) = "
            f"{(m, d, k)} needs at least 2md/k = {need} (about {3 * need} recommended)",
            {"n": n, "n_train": n_tr, "min_train": need},
        )
    perm = gen.permutation(n)
    Xtr, Ytr, Xh, Yh = X[perm[n_h:]], Y[perm[n_h:]], X[perm[:n_h]], Y[perm[:n_h]]
    phases: list[PhaseRecord] = []
    bar = _progress(progress, restarts + 4, f"learn m={m} ({mode}) on {n_tr} train + {n_h} held-out examples")

    with timed_phase(phases, "moments", solver="numpy-lstsq", sizes={"rows": n_tr * k, "d": d}) as rec:
        mom = crude_sum_w(Xtr, Ytr)
        rec.info = {"relative_residual_uniform_attention": mom.relative_residual}
    if bar is not None:
        bar.update(1)

    if mode == "provable":
        from .provable import provable_fit

        fit = provable_fit(Xtr, Ytr, m, noise=noise, solver=solver, rng=gen, progress=progress)
        for rec in fit.phases:  # the candidate's own W-step LP is not the final certificate
            if rec.name == "certify":
                rec.name = "candidate-lp"
        phases.extend(fit.phases)
        thetas, ws = fit.thetas, fit.ws
        from .search import acceptance_threshold, varpro_residual

        thr = acceptance_threshold(Ytr, noise, 2 * m * d * d)
        resid = float(np.linalg.norm(varpro_residual(thetas.ravel(), Xtr, Ytr, m)[0]) / np.linalg.norm(Ytr))
        accepted = resid <= thr
        if bar is not None:
            bar.update(restarts + 1)
    else:
        with timed_phase(phases, "search", solver="numpy-lm") as rec:
            sr = practical_search(Xtr, Ytr, m, rng=gen, noise=noise, restarts=restarts, progress=bar)
            thetas, ws, thr, accepted = sr.best.thetas, sr.best.ws, sr.threshold, sr.accepted
            rec.status = "accepted" if accepted else "no start reached the threshold"
            rec.sizes = {"parameters": m * d * d, "residuals": n_tr * k * d, "starts": len(sr.runs),
                         "search_size": len(sr.runs)}
            rec.info = {"threshold": thr, "runs": [
                {"start": r.start, "relative_residual": r.relative_residual, "iterations": r.iterations,
                 "reason": r.reason} for r in sr.runs]}

    with timed_phase(phases, "refine", solver="numpy-lm", sizes={"parameters": 2 * m * d * d}) as rec:
        rf = joint_refine(Xtr, Ytr, thetas, ws, threshold=thr, max_iter=20 if accepted else 5)
        thetas, ws = rf.thetas, rf.ws
        rec.info = {"relative_residual_before": rf.relative_residual_before,
                    "relative_residual": rf.relative_residual, "iterations": rf.iterations}
        accepted = accepted or rf.relative_residual <= thr
    if bar is not None:
        bar.update(1)

    layer = MultiHeadAttention(thetas, ws)
    with timed_phase(phases, "certify") as rec:
        lp = w_step_lp(Xtr, Ytr, thetas, solver)
        rec.solver, rec.status = lp["solver"], lp["status"]
        rec.sizes = {"lp_variables": lp["n_variables"], "lp_constraints": lp["n_constraints"], "holdout": n_h}
        cert = holdout_certificate(layer, Xh, Yh, delta=delta, noise=noise, radius=float(np.abs(X).max()),
                                   leverage=2 * m * d * d / Ytr.size, programs=[lp])
        rec.info = {"t_star": lp["t_star"], "certified": cert.certified}
    if bar is not None:
        bar.set_postfix_str("certified" if cert.certified else "NOT certified")
        bar.update(bar.total - bar.n)  # the search may have stopped before its last start
        bar.close()

    train_rel = float(np.linalg.norm(layer(Xtr) - Ytr) / np.linalg.norm(Ytr))
    result = LearnResult(layer=layer, certificate=cert, phases=phases, mode=mode, m=m, d=d, k=k, n_train=n_tr,
                         n_holdout=n_h, noise=float(noise), seed=seed, train_relative_error=train_rel)
    if strict and not accepted:
        raise LearnError(
            f"no {m}-head layer found that fits the training data: best relative residual {train_rel:.3e} "
            f"> acceptance threshold {thr:.3e}. The data may not be realisable by {m} heads, the noise level "
            f"may be understated, or more examples / restarts are needed.",
            {"train_relative_error": train_rel, "threshold": thr, "phases": [p.name for p in phases],
             "result": result},
        )
    if strict and not cert.certified:
        raise LearnError(
            f"the fitted layer explains the training data (relative residual {train_rel:.3e}) but fails the "
            f"held-out check: max residual {cert.max_residual:.3e} > epsilon {cert.epsilon:.3e}. The parameters "
            f"are not identified by {n_tr} examples (degenerate or sharp attention?); use more examples.",
            {"train_relative_error": train_rel, "holdout_max_residual": cert.max_residual,
             "epsilon": cert.epsilon, "result": result},
        )
    return result
