"""``provable-mha learn`` and ``provable-mha demo``: plant an instance, learn it back, report.

Before any work both check the output path (``--save``) and the estimated memory
(:func:`provable_mha.resources.estimate_memory` against ``--max-memory``). The output starts with
a short summary in words (:func:`.report.format_summary`), then the detailed report; ``--json``
prints only the JSON object of ``docs/cli.md``.
"""

from __future__ import annotations

import json
import math
import time
import warnings

from .args import (
    UsageError,
    add_command,
    add_run_options,
    check_memory,
    fraction,
    int_at_least,
    learner_options,
    nonneg_float,
    show_progress,
    writable_path,
)
from .report import detailed_report, format_summary, json_payload

__all__ = ["register", "run_learn", "run_demo", "problem_args"]

METHODS = ("practical", "structured")


def _method(args) -> str:
    mode = getattr(args, "mode", None)
    if mode is not None:
        warnings.warn("--mode is deprecated; use --method", DeprecationWarning, stacklevel=2)
        return {"provable": "structured"}.get(mode, mode)
    return args.method


def _check_resources(args) -> None:
    from ..resources import estimate_memory

    est = estimate_memory(args.m, args.d, args.k, args.n, args.n_test)
    check_memory(est, args, f"m={args.m}, d={args.d}, k={args.k}, n={args.n}, n-test={args.n_test}")


def _trial(args, progress: bool):
    """Plant, sample, learn and measure; returns ``(trial, seconds)`` (imports not timed)."""
    from .. import learner  # noqa: F401 - import the learner (cvxpy) before the clock starts
    from ..sweep import Cell, run_trial

    t0 = time.perf_counter()
    cell = Cell(args.m, args.d, args.k, args.n, args.scale, args.seed, _method(args), args.noise)
    trial = run_trial(cell, n_test=args.n_test, restarts=args.restarts, progress=progress,
                      rank=getattr(args, "rank", None), holdout=args.holdout)
    return trial, time.perf_counter() - t0


def run_learn(args) -> int:
    """``learn``: check, plant, sample, learn; print the summary and report (or ``--json``); save."""
    import provable_mha as pm

    writable_path(args.save, "--save")
    writable_path(args.plot, "--plot")
    if args.plot and _method(args) != "structured":
        raise UsageError("--plot draws the structured body: use it with --method structured")
    _check_resources(args)
    trial, seconds = _trial(args, progress=show_progress(args))
    if args.plot and trial.result is not None:
        plot_body(trial, args.plot)
    if args.save:
        pm.save(trial.result, args.save)
    if args.json:
        print(json.dumps(json_payload(trial, args.rank, seconds, args.save), indent=2, default=str))
        return 0
    print(f"planted {trial.planted} (k={args.k}, scale={args.scale}, seed={args.seed}"
          + (f", rank={args.rank}" if args.rank else "") + f"); n={args.n} examples, noise={args.noise}")
    print(format_summary(trial.result, args.m, args.d, args.k, seconds))
    print()
    print(detailed_report(trial))
    if args.save:
        print(f"saved to {args.save}")
    return 0


def plot_body(trial, path) -> None:
    """The body around the learned layer on the first n of the examples, n growing, per head, with
    the planted layer's true errors marked (``plotting.plot_body_widths``)."""
    import numpy as np

    from ..learner.structured.trajectory import body_trajectory, head_radii
    from ..model import match_heads
    from ..plotting import plot_body_widths

    res, truth = trial.result, trial.planted
    m, n = res.m, len(trial.X)
    sizes = sorted({int(s) for s in np.geomspace(max(2, n // 20), n, 12)})
    th, ws = np.asarray(res.layer.thetas), np.asarray(res.layer.ws)
    radii = [head_radii(r, m) for r in body_trajectory(trial.X, trial.Y, th, ws, sizes, noise=res.noise)]
    perm = match_heads(res.layer, truth).perm  # truth head matched to each learned head
    true = [max(np.linalg.norm(th[i] - truth.thetas[perm[i]]), np.linalg.norm(ws[i] - truth.ws[perm[i]]))
            for i in range(m)]
    plot_body_widths(sizes, radii, true_errors=true, path=path)


def run_demo(args) -> int:
    """``demo``: a default planted instance at 3x the information limit, end to end."""
    import provable_mha as pm

    from ..learner import information_limit

    limit = information_limit(args.m, args.d, args.k)
    if not math.isfinite(limit):
        raise ValueError("demo needs --k >= 2: with one token attention is constant and Theta is not "
                         "identified (the information limit is infinite)")
    n_train = 3 * math.ceil(limit)
    n_hold = args.n_holdout
    n = args.n or n_train + n_hold
    if n_hold >= n:
        raise ValueError(f"--n-holdout ({n_hold}) must be smaller than --n ({n})")
    args.holdout = n_hold / n
    args.n, args.noise = n, 0.0
    _check_resources(args)
    planted = pm.planted_instance(m=args.m, d=args.d, k=args.k, scale=args.scale, rng=args.seed)
    print(f"== planted instance: {planted}, k={args.k}, scale={args.scale}, seed={args.seed}")
    print(pm.check_conditions(planted, k=args.k))
    print(f"\n== learning from n={n} random Boolean examples: {n - round(args.holdout * n)} to "
          f"train (3x the information limit n* = max(2md/k, d^2/(k(k-1))) = {limit:.3g}), "
          f"{round(args.holdout * n)} held out for the certificate")
    trial, seconds = _trial(args, progress=show_progress(args))
    print(format_summary(trial.result, args.m, args.d, args.k, seconds))
    print()
    print(detailed_report(trial))
    return 0


def problem_args(p, n_default: int | None) -> None:
    """Options that define one planted problem (shared by ``learn`` and ``demo``)."""
    p.add_argument("--m", type=int_at_least(1), default=2, help="heads")
    p.add_argument("--d", type=int_at_least(1), default=8, help="token dimension")
    p.add_argument("--k", type=int_at_least(1), default=4, help="tokens per example")
    if n_default is None:
        p.add_argument("--n", type=int_at_least(2), default=None,
                       help="examples, training and held out (default: 3x the information limit to train, "
                            "plus --n-holdout)")
    else:
        p.add_argument("--n", type=int_at_least(2), default=n_default,
                       help="examples, training and held out (--holdout of them are held out)")
    p.add_argument("--scale", type=nonneg_float, default=1.0,
                   help="logit scale ||Theta_i||_F of each planted head (dimensionless)")
    p.add_argument("--seed", type=int_at_least(0), default=0,
                   help="seed of the instance, the examples and the learner")
    learner_options(p, n_test=1000)
    p.add_argument("--mode", choices=["practical", "provable", "structured"], default=None,
                   help="deprecated alias of --method; provable means structured (default: unset)")
    if n_default is None:  # demo: 3x the information limit to train, a fixed held-out count
        p.add_argument("--n-holdout", type=int_at_least(1), default=60,
                       help="held-out examples for the certificate")
    else:
        p.add_argument("--holdout", type=fraction, default=0.2,
                       help="fraction of the examples held out for the certificate, in (0, 1)")
    add_run_options(p)


def register(sub) -> None:
    """Add ``demo`` and ``learn`` to the subparsers ``sub``."""
    demo = add_command(
        sub, "demo", help="learn and certify a default planted instance (< 1 min)",
        description="Plant a default instance that meets the non-degeneracy conditions, print the "
                    "conditions,\nlearn it back from 3x the information limit and print the "
                    "certificate.",
        example_lines=["provable-mha demo", "provable-mha demo --m 3 --d 8 --k 4 --seed 1"])
    problem_args(demo, None)
    demo.set_defaults(func=run_demo)

    learn = add_command(
        sub, "learn", help="plant an instance, sample, learn, print errors and the certificate",
        description="Plant an m-head layer, draw n random Boolean examples, learn it back with "
                    "pm.learn and\nprint a summary (learned / certified / vacuous, the PAC "
                    "statement, n against the\ninformation limit, time per phase), then errors and "
                    "head matching. --json prints\nonly JSON (schema in docs/cli.md).",
        example_lines=["provable-mha learn --m 2 --d 8 --k 4 --n 400 --seed 0",
                        "provable-mha learn --m 2 --d 8 --k 4 --n 200 --noise 0.01 --save result.npz",
                        "provable-mha learn --m 2 --d 8 --k 4 --n 400 --rank 4 --json > result.json",
                        "provable-mha learn --m 2 --d 8 --k 4 --n 400 --method structured"])
    problem_args(learn, 400)
    learn.add_argument("--noise", type=nonneg_float, default=0.0,
                       help="standard deviation of the Gaussian label noise (label units)")
    learn.add_argument("--rank", type=int_at_least(1), default=None,
                       help="plant heads of this rank, shaped like scaled dot-product attention "
                            "(default: full rank)")
    learn.add_argument("--save", metavar="PATH", default=None,
                       help="save the LearnResult as npz, reload with pm.load (default: not saved)")
    learn.add_argument("--json", action="store_true", help="print only the JSON object of docs/cli.md")
    learn.add_argument("--plot", metavar="PATH", default=None,
                       help="with --method structured: draw the body's per-head radius against the examples "
                            "it holds, true errors marked (PNG; default: no figure)")
    learn.set_defaults(func=run_learn)
