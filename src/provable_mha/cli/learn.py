"""``provable-mha learn`` and ``provable-mha demo``: plant an instance, learn it back, report."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np

from .args import fraction, int_at_least, nonneg_float, writable_path

__all__ = ["register", "run_learn", "run_demo", "problem_args"]

METHODS = ("practical", "structured")


def _method(args) -> str:
    mode = getattr(args, "mode", None)
    if mode is not None:
        warnings.warn("--mode is deprecated; use --method", DeprecationWarning, stacklevel=2)
        return {"provable": "structured"}.get(mode, mode)
    return args.method


def _trial(args, progress: bool):
    from ..sweep import Cell, run_trial

    cell = Cell(args.m, args.d, args.k, args.n, args.scale, args.seed, _method(args), args.noise)
    return run_trial(cell, n_test=args.n_test, restarts=args.restarts, progress=progress,
                     rank=getattr(args, "rank", None), holdout=args.holdout)


def _head_table(trial) -> str:
    import provable_mha as pm

    hm = pm.match_heads(trial.planted, trial.result.layer)
    lines = [f"  {'head':>4s} {'matched':>7s} {'|Θ|_F':>8s} {'rel.err Θ':>10s} {'|W|_F':>8s} "
             f"{'rel.err W':>10s}"]
    for i in range(trial.planted.m):
        lines.append(f"  {i:>4d} {int(hm.perm[i]):>7d} "
                     f"{np.linalg.norm(trial.planted.thetas[i]):8.3f} {hm.theta_errors[i]:10.2e} "
                     f"{np.linalg.norm(trial.planted.ws[i]):8.3f} {hm.w_errors[i]:10.2e}")
    return "\n".join(lines)


def _report(trial) -> str:
    res, mt = trial.result, trial.metrics
    lines = [res.summary(), "  errors (relative, ||F̂(X) - Y||_F / ||Y||_F):",
             f"    train    {mt['train_error']:.3e}   ({res.n_train} examples)",
             f"    held-out {mt['holdout_error']:.3e}   ({res.n_holdout} examples)",
             f"    test     {mt['test_error']:.3e}   ({mt['n_test']} fresh noiseless examples; "
             f"max residual {mt['test_max_residual']:.2e}, fraction above eps "
             f"{mt['test_exceed_rate']:.3f})",
             f"  heads matched to the planted layer (max relative parameter error "
             f"{mt['head_error']:.2e}):", _head_table(trial),
             f"  certified: {'yes' if res.certificate.certified else 'no'}"]
    return "\n".join(lines)


def _json_payload(trial, args) -> dict:
    from ..io import jsonable

    res = trial.result
    return jsonable({
        "cell": dict(trial.cell.__dict__), "rank": getattr(args, "rank", None),
        "metrics": trial.metrics,
        "phases": [{"name": p.name, "seconds": p.seconds, "status": p.status,
                    "solver": p.solver, "sizes": p.sizes} for p in res.phases],
        "rounds": res.rounds, "certificate": res.certificate.to_dict(),
    })


def run_learn(args) -> int:
    """``learn``: plant, sample, learn, print (or ``--json``), optionally save."""
    import provable_mha as pm

    writable_path(args.save, "--save")
    trial = _trial(args, progress=not args.json and sys.stderr.isatty())
    if args.save:
        pm.save(trial.result, args.save)
    if args.json:
        payload = _json_payload(trial, args)
        payload["saved"] = args.save
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(f"planted {trial.planted} (k={args.k}, scale={args.scale}, seed={args.seed}); "
              f"n={args.n} examples, noise={args.noise}")
        print(_report(trial))
        if args.save:
            print(f"saved to {args.save}")
    return 0


def run_demo(args) -> int:
    """``demo``: a default planted instance at 3x the information limit, end to end."""
    import provable_mha as pm

    from ..learner import min_examples

    n_train = 3 * min_examples(args.m, args.d, args.k)
    n_hold = args.n_holdout
    n = args.n or n_train + n_hold
    args.holdout = n_hold / n
    planted = pm.planted_instance(m=args.m, d=args.d, k=args.k, scale=args.scale, rng=args.seed)
    print(f"== planted instance: {planted}, k={args.k}, scale={args.scale}, seed={args.seed}")
    print(pm.check_conditions(planted, k=args.k))
    print(f"\n== learning from n={n} random Boolean examples: {n - round(args.holdout * n)} to "
          f"train (3x the information limit 2md/k = {min_examples(args.m, args.d, args.k)}), "
          f"{round(args.holdout * n)} held out for the certificate")
    args.n, args.noise = n, 0.0
    trial = _trial(args, progress=sys.stderr.isatty())
    print(_report(trial))
    return 0


def problem_args(p, n_default: int | None) -> None:
    """Options that define one planted problem (shared by ``learn`` and ``demo``)."""
    p.add_argument("--m", type=int_at_least(1), default=2, help="heads (default 2)")
    p.add_argument("--d", type=int_at_least(1), default=8, help="token dimension (default 8)")
    p.add_argument("--k", type=int_at_least(1), default=4, help="tokens per example (default 4)")
    p.add_argument("--n", type=int_at_least(2), default=n_default,
                   help="examples, including the 20%% held out"
                        + (f" (default {n_default})" if n_default else " (default 3x 2md/k)"))
    p.add_argument("--scale", type=nonneg_float, default=1.0,
                   help="logit scale ||Θ_i||_F of the planted heads (default 1)")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="seed of everything")
    p.add_argument("--n-test", type=int_at_least(1), default=1000,
                   help="fresh examples for the test error (default 1000)")
    p.add_argument("--restarts", type=int_at_least(0), default=12,
                   help="random starts of the practical search (default 12)")
    p.add_argument("--method", choices=METHODS, default="practical",
                   help="learning strategy (default practical)")
    p.add_argument("--mode", choices=["practical", "provable", "structured"], default=None,
                   help="deprecated alias of --method (provable = structured)")
    if n_default is None:  # demo: 3x the information limit to train, a fixed held-out count
        p.add_argument("--n-holdout", type=int_at_least(1), default=60,
                       help="held-out examples for the certificate (default 60)")
    else:
        p.add_argument("--holdout", type=fraction, default=0.2,
                       help="fraction held out for the certificate (default 0.2)")


def register(sub) -> None:
    """Add ``demo`` and ``learn`` to the subparsers ``sub``."""
    demo = sub.add_parser("demo", help="learn and certify a default planted instance (< 1 min)")
    problem_args(demo, None)
    demo.set_defaults(func=run_demo)

    learn = sub.add_parser("learn", help="plant an instance, sample, learn, print errors and "
                                         "the certificate")
    problem_args(learn, 400)
    learn.add_argument("--noise", type=nonneg_float, default=0.0,
                       help="std of Gaussian label noise (default 0)")
    learn.add_argument("--rank", type=int_at_least(1), default=None,
                       help="plant low-rank heads (scaled dot-product shape)")
    learn.add_argument("--save", metavar="PATH", default=None,
                       help="save the LearnResult (npz, reload with pm.load)")
    learn.add_argument("--json", action="store_true", help="machine-readable output only")
    learn.set_defaults(func=run_learn)


