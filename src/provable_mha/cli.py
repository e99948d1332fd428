"""Command line ``provable-mha <command>``: thin — parses arguments, calls the library, prints.

Commands: ``demo`` (a default planted instance learned end to end), ``learn`` (plant, sample,
learn, measure; ``--json`` for machine-readable output), ``hardness`` (SQ lower-bound table),
``gd`` (gradient descent against the number of heads) and ``sweep`` (a resumable grid of
``learn`` runs, locally or on Dask). Exit codes: 0 success, 1 the learner failed
(:class:`provable_mha.LearnError`), 2 bad arguments (message on stderr).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys

import numpy as np

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_LEARN, EXIT_USAGE = 0, 1, 2


class UsageError(ValueError):
    """A command-line argument is invalid."""


# -- argument types --------------------------------------------------------------------------
def _int_at_least(lo: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {v}")
        return v
    parse.__name__ = f"int>={lo}"
    return parse


def _nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(v) and v >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return v


def _fraction(text: str) -> float:
    v = _nonneg_float(text)
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1), got {text!r}")
    return v


def _float_list(text: str) -> list[float]:
    return [_nonneg_float(t) for t in str(text).split(",")]


def _range_of(lo: int):
    """Parse ``"5"``, ``"2..5"`` (inclusive) or ``"2,3,5"`` into integers ``>= lo``."""
    def parse(text: str) -> list[int]:
        text = str(text).strip()
        try:
            if ".." in text:
                a, b = (int(t) for t in text.split("..", 1))
                vals = list(range(a, b + 1))
            else:
                vals = [int(t) for t in text.split(",") if t.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, a range like 2..5 or a list like 2,3,5; got {text!r}"
            ) from None
        if not vals:
            raise argparse.ArgumentTypeError(f"empty range {text!r}")
        if min(vals) < lo:
            raise argparse.ArgumentTypeError(f"values must be >= {lo}, got {text!r}")
        return vals
    parse.__name__ = "range"
    return parse


_int_list, _seed_list = _range_of(1), _range_of(0)


# -- shared ----------------------------------------------------------------------------------
def _check_learnable(args) -> None:
    if args.mode == "provable" and args.m * args.k > args.d:
        raise UsageError(f"--mode provable needs m*k <= d, got m*k = {args.m * args.k} > "
                         f"d = {args.d}; use --mode practical or a larger --d")


def _trial(args, progress: bool):
    from .sweep import Cell, run_trial

    _check_learnable(args)
    if args.mode == "provable":
        try:
            from .learner.provable import provable_fit  # noqa: F401
        except ImportError as exc:
            raise UsageError(f"--mode provable is not available: {exc}") from None
    cell = Cell(args.m, args.d, args.k, args.n, args.scale, args.seed, args.mode, args.noise)
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


def _json_payload(trial) -> dict:
    res = trial.result
    from .io import _jsonable  # numpy scalars/arrays and non-finite floats -> strict JSON

    return _jsonable({
        "cell": dict(trial.cell.__dict__), "metrics": trial.metrics,
        "phases": [{"name": p.name, "seconds": p.seconds, "status": p.status,
                    "solver": p.solver, "sizes": p.sizes} for p in res.phases],
        "certificate": res.certificate.to_dict(),
    })


# -- commands --------------------------------------------------------------------------------
def _cmd_learn(args) -> int:
    import provable_mha as pm

    trial = _trial(args, progress=not args.json and sys.stderr.isatty())
    if args.save:
        pm.save(trial.result, args.save)
    if args.json:
        payload = _json_payload(trial)
        payload["saved"] = args.save
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(f"planted {trial.planted} (k={args.k}, scale={args.scale}, seed={args.seed}); "
              f"n={args.n} examples, noise={args.noise}")
        print(_report(trial))
        if args.save:
            print(f"saved to {args.save}")
    return EXIT_OK


def _cmd_demo(args) -> int:
    import provable_mha as pm

    from .learner import min_examples

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
    args.n, args.noise, args.mode = n, 0.0, "practical"
    trial = _trial(args, progress=sys.stderr.isatty())
    print(_report(trial))
    return EXIT_OK


def _cmd_sweep(args) -> int:
    from .sweep import grid, read_results, run_cell, run_sweep, summarize

    if args.mode == "provable":
        bad = [(m, k, d) for m in args.m for k in args.k for d in args.d if m * k > d]
        if bad:
            raise UsageError(f"--mode provable needs m*k <= d; violated by (m, k, d) in {bad}")
    cells = grid(args.m, args.d, args.k, args.n, args.scale, args.seed, mode=args.mode,
                 noise=args.noise)
    func = functools.partial(run_cell, n_test=args.n_test, restarts=args.restarts)
    new = run_sweep(cells, args.out, func=func, n_jobs=args.jobs, scheduler=args.scheduler)
    rows = read_results(args.out)
    print(f"{len(cells)} cells: {len(new)} computed now, {len(cells) - len(new)} already in "
          f"{args.out}")
    keys = {c.key for c in cells}
    from .sweep import _key

    summary = summarize([r for r in rows if _key(r) in keys], tol=args.tol)
    print(f"{'m':>2} {'d':>3} {'k':>3} {'n':>5} {'scale':>5} {'seeds':>5} {'success':>7} "
          f"{'med.test err':>12} {'mean s':>7}")
    for s in summary:
        print(f"{s['m']:>2} {s['d']:>3} {s['k']:>3} {s['n']:>5} {s['scale']:>5g} "
              f"{s['seeds']:>5} {s['success_rate']:>7.2f} {s['median_test_error']:>12.2e} "
              f"{s['mean_seconds']:>7.2f}")
    if args.plot:
        from .plotting import plot_sweep

        plot_sweep(summary, args.plot)
        print(f"wrote {args.plot}")
    return EXIT_OK


# -- parser ----------------------------------------------------------------------------------
def _problem_args(p, n_default: int | None) -> None:
    p.add_argument("--m", type=_int_at_least(1), default=2, help="heads (default 2)")
    p.add_argument("--d", type=_int_at_least(1), default=8, help="token dimension (default 8)")
    p.add_argument("--k", type=_int_at_least(1), default=4, help="tokens per example (default 4)")
    p.add_argument("--n", type=_int_at_least(2), default=n_default,
                   help="examples, including the 20%% held out"
                        + (f" (default {n_default})" if n_default else " (default 3x 2md/k)"))
    p.add_argument("--scale", type=_nonneg_float, default=1.0,
                   help="logit scale ||Θ_i||_F of the planted heads (default 1)")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of everything")
    p.add_argument("--n-test", type=_int_at_least(1), default=1000,
                   help="fresh examples for the test error (default 1000)")
    p.add_argument("--restarts", type=_int_at_least(0), default=12,
                   help="random starts of the practical search (default 12)")
    if n_default is None:  # demo: 3x the information limit to train, a fixed held-out count
        p.add_argument("--n-holdout", type=_int_at_least(1), default=60,
                       help="held-out examples for the certificate (default 60)")
    else:
        p.add_argument("--holdout", type=_fraction, default=0.2,
                       help="fraction held out for the certificate (default 0.2)")


def build_parser() -> argparse.ArgumentParser:
    """The ``provable-mha`` argument parser with all subcommands."""
    from .gd.cli import register as register_gd
    from .hardness.cli import register as register_hardness

    p = argparse.ArgumentParser(prog="provable-mha", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    demo = sub.add_parser("demo", help="learn and certify a default planted instance (< 1 min)")
    _problem_args(demo, None)
    demo.set_defaults(func=_cmd_demo)

    learn = sub.add_parser("learn", help="plant an instance, sample, learn, print errors and "
                                         "the certificate")
    _problem_args(learn, 400)
    learn.add_argument("--mode", choices=["practical", "provable"], default="practical")
    learn.add_argument("--noise", type=_nonneg_float, default=0.0,
                       help="std of Gaussian label noise (default 0)")
    learn.add_argument("--rank", type=_int_at_least(1), default=None,
                       help="plant low-rank heads (scaled dot-product shape)")
    learn.add_argument("--save", metavar="PATH", default=None,
                       help="save the LearnResult (npz, reload with pm.load)")
    learn.add_argument("--json", action="store_true", help="machine-readable output only")
    learn.set_defaults(func=_cmd_learn)

    register_hardness(sub)
    register_gd(sub)

    sw = sub.add_parser("sweep", help="resumable grid of learn runs, appended to a CSV file",
                        description="Grid over m, d, k, n, scale, seed (each: 3, 2..5 or 2,3,5). "
                                    "Finished cells are appended to --out and skipped on rerun.")
    sw.add_argument("--m", type=_int_list, default=[2])
    sw.add_argument("--d", type=_int_list, default=[8])
    sw.add_argument("--k", type=_int_list, default=[4])
    sw.add_argument("--n", type=_int_list, default=[40, 80])
    sw.add_argument("--scale", type=_float_list, default=[1.0])
    sw.add_argument("--seed", type=_seed_list, default=[0, 1, 2])
    sw.add_argument("--mode", choices=["practical", "provable"], default="practical")
    sw.add_argument("--noise", type=_nonneg_float, default=0.0)
    sw.add_argument("--n-test", type=_int_at_least(1), default=500)
    sw.add_argument("--restarts", type=_int_at_least(0), default=12)
    sw.add_argument("--out", required=True, help="CSV file (created or resumed)")
    sw.add_argument("--jobs", type=_int_at_least(1), default=1,
                    help="local worker processes (joblib/loky) or LocalCluster workers")
    sw.add_argument("--scheduler", default=None,
                    help="Dask: 'local' for a LocalCluster or tcp://host:port")
    sw.add_argument("--tol", type=_nonneg_float, default=1e-6,
                    help="success threshold on the test error in the summary")
    sw.add_argument("--plot", default=None, help="save a PNG of the summary here")
    sw.set_defaults(func=_cmd_sweep)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (0, 1 or 2)."""
    from .errors import LearnError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2, message printed)
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except LearnError as exc:
        print(f"provable-mha: learning failed: {exc}", file=sys.stderr)
        return EXIT_LEARN
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return EXIT_OK
    except (ValueError, ImportError) as exc:
        print(f"provable-mha: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
