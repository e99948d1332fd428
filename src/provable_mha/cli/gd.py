"""``provable-mha gd``: the heads experiment from the command line.

Registered by :func:`provable_mha.cli.build_parser`; the work is done by
:mod:`provable_mha.gd`. Output paths and the estimated memory
(:func:`provable_mha.resources.estimate_gd_memory`) are checked before any work. The experiment
runs one head count at a time, so a progress bar over head counts can be shown; this gives the
same rows as one call, since the data are fixed by ``--data-seed`` and each run's
initialisation by ``(H, seed)`` alone.
"""

from __future__ import annotations

import argparse

from .args import (
    add_command,
    add_run_options,
    check_memory,
    delayed_bar,
    figure_path,
    int_at_least,
    nonneg_float,
    positive_float,
    positive_ints,
    probability,
    step_size,
    writable_path,
)

__all__ = ["register", "run"]


def _experiment(args):
    from ..gd.experiment import HeadsExperiment, heads_experiment

    data_kwargs = {"signal_strength": args.signal, "noise_std": args.noise,
                   "label_noise": args.label_noise}
    parts = []
    with delayed_bar(args.H, args, "gd: heads", "H") as bar:
        for H in bar:
            bar.set_postfix_str(f"H={H}", refresh=False)
            parts.append(heads_experiment([H], n=args.n, n_test=args.n_test, T=args.T, d=args.d,
                                          steps=args.steps, lr=args.lr, seeds=args.seeds,
                                          init_scale=args.init_scale,
                                          normalization=args.normalization,
                                          data_seed=args.data_seed, data_kwargs=data_kwargs))
    params = dict(parts[0].params)
    return HeadsExperiment(rows=[r for p in parts for r in p.rows], params=params,
                           runs=[r for p in parts for r in p.runs])


def run(args) -> int:
    """Run the heads experiment with parsed ``args``, print the table, optionally save files."""
    from ..resources import estimate_gd_memory

    writable_path(args.csv, "--csv")
    figure_path(args.plot, "--plot")
    est = max(estimate_gd_memory(H, args.n, args.n_test, args.T, args.d) for H in args.H)
    check_memory(est, args, f"gd with H={max(args.H)}, n={args.n}, n-test={args.n_test}, "
                            f"T={args.T}, d={args.d}")
    res = _experiment(args)
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
    p = add_command(
        subparsers, "gd", help="train/test loss of GD against the number of heads",
        description="Full-batch gradient descent on the logistic loss of an H-head attention "
                    "classifier,\nover the tokenized-mixture data model (docs/gd.md): train and "
                    "test loss against H at\nfixed data, averaged over random initialisations.",
        example_lines=["provable-mha gd --H 1,2,4,8 --plot heads.png",
                        "provable-mha gd --H 1..4 --n 100 --steps 100 --seeds 5 --csv heads.csv",
                        "provable-mha gd --H 2,8 --lr safe"])
    p.add_argument("--H", type=positive_ints, default="1,2,4,8",
                   help="head counts: a list 1,2,4,8 or a range 1..4")
    # plain int: n >= 1 is checked before any work by the memory estimate and by gd itself
    p.add_argument("--n", type=int, default=200, help="training examples")
    p.add_argument("--n-test", type=int_at_least(1), default=2000, help="test examples")
    p.add_argument("--T", type=int_at_least(1), default=8, help="tokens per example")
    p.add_argument("--d", type=int_at_least(1), default=16, help="token dimension")
    p.add_argument("--steps", type=int_at_least(1), default=300, help="GD steps")
    p.add_argument("--lr", type=step_size, default=1.0,
                   help="fixed step size, or 'safe' for the certified step of docs/gd.md section 4 at every step")
    p.add_argument("--seeds", type=int_at_least(1), default=3, help="random initialisations per H")
    p.add_argument("--init-scale", type=positive_float, default=1.0,
                   help="scale of the random initialisation (multiplies its standard deviation)")
    p.add_argument("--normalization", choices=["sqrt", "mean"], default="sqrt",
                   help="output scaling of the sum over heads: 1/sqrt(H) or 1/H")
    p.add_argument("--signal", type=nonneg_float, default=1.0,
                   help="norm of the cluster means (token units)")
    p.add_argument("--noise", type=nonneg_float, default=0.1,
                   help="standard deviation sigma of the token noise (token units)")
    p.add_argument("--label-noise", type=probability, default=0.0,
                   help="probability that a label is flipped, in [0, 1]")
    p.add_argument("--data-seed", type=int_at_least(0), default=0, help="seed of the data")
    p.add_argument("--csv", metavar="PATH", default=None,
                   help="write the table as CSV here (default: not written)")
    p.add_argument("--plot", metavar="PATH", default=None,
                   help="save a figure here, format from the suffix (.png, .pdf, .svg; default: no figure)")
    add_run_options(p)
    p.set_defaults(func=run)
    return p
