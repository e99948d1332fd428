"""``provable-mha sweep``: a resumable grid of ``learn`` runs appended to a CSV file."""

from __future__ import annotations

import functools

from .args import float_list, int_at_least, nonneg_float, positive_ints, seeds, writable_path

__all__ = ["register", "run"]


def run(args) -> int:
    """Run (or resume) the grid, print the summary table, optionally plot it."""
    from ..sweep import cell_key, grid, read_results, run_cell, run_sweep, summarize

    writable_path(args.out, "--out")
    writable_path(args.plot, "--plot")
    cells = grid(args.m, args.d, args.k, args.n, args.scale, args.seed, method=args.method,
                 noise=args.noise)
    func = functools.partial(run_cell, n_test=args.n_test, restarts=args.restarts)
    new = run_sweep(cells, args.out, func=func, n_jobs=args.jobs, scheduler=args.scheduler)
    rows = read_results(args.out)
    print(f"{len(cells)} cells: {len(new)} computed now, {len(cells) - len(new)} already in "
          f"{args.out}")
    keys = {c.key for c in cells}
    summary = summarize([r for r in rows if cell_key(r) in keys], tol=args.tol)
    print(f"{'m':>2} {'d':>3} {'k':>3} {'n':>5} {'scale':>5} {'seeds':>5} {'success':>7} "
          f"{'med.test err':>12} {'mean s':>7}")
    for s in summary:
        print(f"{s['m']:>2} {s['d']:>3} {s['k']:>3} {s['n']:>5} {s['scale']:>5g} "
              f"{s['seeds']:>5} {s['success_rate']:>7.2f} {s['median_test_error']:>12.2e} "
              f"{s['mean_seconds']:>7.2f}")
    if args.plot:
        from ..plotting import plot_sweep

        plot_sweep(summary, args.plot)
        print(f"wrote {args.plot}")
    return 0


def register(sub) -> None:
    """Add ``sweep`` to the subparsers ``sub``."""
    sw = sub.add_parser("sweep", help="resumable grid of learn runs, appended to a CSV file",
                        description="Grid over m, d, k, n, scale, seed (each: 3, 2..5 or 2,3,5). "
                                    "Finished cells are appended to --out and skipped on rerun.")
    sw.add_argument("--m", type=positive_ints, default=[2])
    sw.add_argument("--d", type=positive_ints, default=[8])
    sw.add_argument("--k", type=positive_ints, default=[4])
    sw.add_argument("--n", type=positive_ints, default=[40, 80])
    sw.add_argument("--scale", type=float_list, default=[1.0])
    sw.add_argument("--seed", type=seeds, default=[0, 1, 2])
    sw.add_argument("--method", choices=["practical", "structured"], default="practical")
    sw.add_argument("--noise", type=nonneg_float, default=0.0)
    sw.add_argument("--n-test", type=int_at_least(1), default=500)
    sw.add_argument("--restarts", type=int_at_least(0), default=12)
    sw.add_argument("--out", required=True, help="CSV file (created or resumed)")
    sw.add_argument("--jobs", type=int_at_least(1), default=1,
                    help="local worker processes (joblib/loky) or LocalCluster workers")
    sw.add_argument("--scheduler", default=None,
                    help="Dask: 'local' for a LocalCluster or tcp://host:port")
    sw.add_argument("--tol", type=nonneg_float, default=1e-6,
                    help="success threshold on the test error in the summary")
    sw.add_argument("--plot", default=None, help="save a PNG of the summary here")
    sw.set_defaults(func=run)
