"""``provable-mha score``: score a predictions file against a dataset's test split.

Registered by :func:`provable_mha.cli.build_parser`; the work is done by
:func:`provable_mha.datasets.score_predictions` (metrics: ``docs/datasets.md``).
"""

from __future__ import annotations

import argparse
import json

from .args import (
    UsageError,
    add_command,
    nonneg_float,
)

__all__ = ["register", "run"]

NOTES = """\
Predictions for a dataset written by `provable-mha export --out data.npz` can come from any
learner, e.g. in Python:
  ds = pm.load_dataset("data.npz"); np.save("preds.npy", my_layer(ds.X_test))
Exit codes: 0 scored; 2 bad arguments, unreadable or tampered dataset, or predictions that are
not a real (n_test, k, d) array without NaN/inf."""
EXAMPLE_LINES = ("provable-mha score --dataset data.npz --predictions preds.npy",
                    "provable-mha score --dataset data.npz --predictions preds.npy --tol 1e-8 --json")


def run(args) -> int:
    """Load (and verify) the dataset, read the predictions, print the scores."""
    from ..datasets import load_dataset, load_predictions, score_predictions

    try:
        ds = load_dataset(args.dataset)
    except FileNotFoundError:
        raise UsageError(f"--dataset {args.dataset!r} does not exist") from None
    try:
        preds = load_predictions(args.predictions)
    except FileNotFoundError:
        raise UsageError(f"--predictions {args.predictions!r} does not exist") from None
    s = score_predictions(ds, preds, tol=args.tol)
    if args.json:
        print(json.dumps({"dataset": args.dataset, "predictions": args.predictions, **s}, indent=2))
        return 0
    p = ds.card["parameters"]
    print(f"scored {args.predictions} on the test split of {args.dataset} ({p['kind']} m={p['m']} d={p['d']} "
          f"k={p['k']}, {s['n_test']} examples, sha256 {s['digest'][:12]}...)")
    print(f"  relative error   ||P - Y||_F / ||Y||_F        {s['relative_error']:.6e}")
    print(f"  max residual     max |P - Y|                  {s['max_residual']:.6e}")
    print(f"  exact-match rate examples with max |P_n - Y_n| <= {s['tol']:g}: {s['exact_match_rate']:.4f}")
    return 0


def register(sub) -> argparse.ArgumentParser:
    """Add ``score`` to the subparsers ``sub``; returns its parser."""
    p = add_command(
        sub, "score", help="score predictions of Y_test against a dataset written by export",
        description="Score predictions P of a dataset's test labels Y_test (shape n_test x k x d):\n"
                    "relative error ||P - Y||_F / ||Y||_F, max residual max|P - Y|, and the fraction\n"
                    "of test examples whose largest residual is <= --tol. The dataset's card and\n"
                    "sha256 digest are verified first.\n\n" + NOTES,
        example_lines=EXAMPLE_LINES)
    p.add_argument("--dataset", metavar="PATH", required=True, help="a .npz written by provable-mha export")
    p.add_argument("--predictions", metavar="PATH", required=True,
                   help="a .npy array, or a .npz with key 'predictions' (or a single array)")
    p.add_argument("--tol", type=nonneg_float, default=1e-6,
                   help="absolute tolerance of the per-example exact match")
    p.add_argument("--json", action="store_true", help="machine-readable output only")
    p.set_defaults(func=run)
    return p
