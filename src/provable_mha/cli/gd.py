"""``provable-mha gd``: the heads experiment from the command line.

Registered by :func:`provable_mha.cli.build_parser`; the work is done by
:mod:`provable_mha.gd`. Example::

    provable-mha gd --H 1,2,4,8 --n 200 --seeds 3 --plot heads.png
"""

from __future__ import annotations

import argparse

from .args import positive_ints, step_size

__all__ = ["register", "run"]


def run(args) -> int:
    """Run the heads experiment with parsed ``args``, print the table, optionally save files."""
    from ..gd.experiment import heads_experiment

    data_kwargs = {"signal_strength": args.signal, "noise_std": args.noise,
                   "label_noise": args.label_noise}
    res = heads_experiment(args.H, n=args.n, n_test=args.n_test, T=args.T, d=args.d,
                           steps=args.steps, lr=args.lr, seeds=args.seeds,
                           init_scale=args.init_scale, normalization=args.normalization,
                           data_seed=args.data_seed, data_kwargs=data_kwargs)
    print(f"heads experiment: n={args.n}, T={args.T}, d={args.d}, steps={args.steps}, "
          f"lr={args.lr}, seeds={args.seeds} (random init, fixed data)")
    print(res.table())
    if args.csv:
        res.to_csv(args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        res.plot(args.plot)
        print(f"wrote {args.plot}")
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``gd`` subcommand to an ``argparse`` sub-parser collection and return it."""
    p = subparsers.add_parser("gd", help="train/test loss of GD against the number of heads")
    p.add_argument("--H", type=positive_ints, default=[1, 2, 4, 8],
                   help="comma-separated head counts (default 1,2,4,8)")
    p.add_argument("--n", type=int, default=200, help="training examples")
    p.add_argument("--n-test", type=int, default=2000, help="test examples")
    p.add_argument("--T", type=int, default=8, help="tokens per example")
    p.add_argument("--d", type=int, default=16, help="token dimension")
    p.add_argument("--steps", type=int, default=300, help="GD steps")
    p.add_argument("--lr", type=step_size, default=1.0,
                   help="fixed step size, or 'safe' for the certified step of docs/gd.md §4 at every step")
    p.add_argument("--seeds", type=int, default=3, help="random initialisations per H")
    p.add_argument("--init-scale", type=float, default=1.0)
    p.add_argument("--normalization", choices=["sqrt", "mean"], default="sqrt")
    p.add_argument("--signal", type=float, default=1.0, help="norm of the cluster means")
    p.add_argument("--noise", type=float, default=0.1, help="token noise level sigma")
    p.add_argument("--label-noise", type=float, default=0.0, help="label flip probability")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--csv", default=None, help="write the table as CSV here")
    p.add_argument("--plot", default=None, help="save a PNG plot here")
    p.set_defaults(func=run)
    return p
