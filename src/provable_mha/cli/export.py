"""``provable-mha export``: write a planted layer or a parity-family member, with samples, as a dataset.

Registered by :func:`provable_mha.cli.build_parser`; the work is done by
:func:`provable_mha.export_dataset` (format: ``docs/datasets.md``).
"""

from __future__ import annotations

import argparse

import numpy as np

from .args import (
    UsageError,
    add_command,
    int_at_least,
    nonneg_float,
    positive_ints,
    writable_path,
)

__all__ = ["register", "run"]

EXAMPLE_LINES = (
    "provable-mha export --kind planted --m 2 --d 8 --k 4 --n 400 --seed 0 --out data.npz",
    "provable-mha export --kind parity --m 3 --d 7 --secret 2,5 --n 200 --out parity.npz --csv parity.csv")


def _secret(args) -> list[int]:
    """``--secret``, or one drawn uniformly from the C(d-1, m-1) secrets with ``default_rng(seed)``."""
    from ..hardness.parity import check_secret, parity_secrets

    if args.secret is not None:
        return list(check_secret(args.secret, args.m, args.d))
    secrets = parity_secrets(args.m, args.d)
    return list(secrets[int(np.random.default_rng(args.seed).integers(len(secrets)))])


def _spec(args) -> tuple[dict, str]:
    """The instance recipe for :func:`~provable_mha.datasets.build_instance` and a description."""
    if args.kind == "planted":
        if args.secret is not None:
            raise UsageError("--secret applies to --kind parity only")
        spec = {"kind": "planted", "m": args.m, "d": args.d, "k": 4 if args.k is None else args.k,
                "scale": 1.0 if args.scale is None else args.scale, "rank": args.rank, "seed": args.seed}
        return spec, f"planted layer (provable-mha export --kind planted, seed {args.seed})"
    if args.k not in (None, 2):
        raise UsageError(f"--kind parity is defined for k = 2 tokens, got --k {args.k}")
    for flag, value in (("--scale", args.scale), ("--rank", args.rank)):
        if value is not None:
            raise UsageError(f"{flag} applies to --kind planted only")
    how = "given by --secret" if args.secret is not None else f"drawn uniformly with default_rng({args.seed})"
    spec = {"kind": "parity", "m": args.m, "d": args.d, "secret": _secret(args)}
    return spec, f"parity family member, secret {spec['secret']} {how} (provable-mha export --kind parity)"


def run(args) -> int:
    """Check the output paths, build the instance, sample, write, print a summary."""
    from ..datasets import export_dataset

    out = writable_path(args.out, "--out")
    csv = writable_path(args.csv, "--csv")
    if csv is not None and csv == out:
        raise UsageError("--csv must differ from --out")
    spec, description = _spec(args)
    ds = export_dataset(out, spec, args.n, args.seed, n_test=args.n_test, noise=args.noise,
                        description=description, csv=csv)
    p, cond = ds.card["parameters"], ds.card["conditions"]
    verdict = "PASS" if cond["passed"] else "FAIL (" + ", ".join(
        c["name"] for c in cond["conditions"] if not c["passed"]) + ")"
    print(f"wrote {out}: {p['kind']} m={p['m']} d={p['d']} k={p['k']}, {p['n']} train + {p['n_test']} test "
          f"examples, noise {p['noise']}, seed {p['seed']}")
    if p["kind"] == "parity":
        print(f"  secret {ds.card['instance']['secret']}")
    print(f"  conditions at k={p['k']}: {verdict}")
    print(f"  sha256 {ds.digest}   license {ds.card['license']}")
    if csv:
        print(f"  long table: {csv}")
    return 0


def register(sub) -> argparse.ArgumentParser:
    """Add ``export`` to the subparsers ``sub``; returns its parser."""
    p = add_command(
        sub, "export", help="write a planted or hard instance with its samples as a benchmark dataset",
        description="Write one learning problem as a dataset: the layer (thetas, ws), n training and\n"
                    "n_test test examples, and a JSON card (parameters, seeds, how each array was\n"
                    "drawn, the conditions report, license CC0-1.0, sha256 digest). Y_test is\n"
                    "noiseless; --noise perturbs Y_train only. Format: docs/datasets.md. The file loads\n"
                    "with pm.load_dataset(path) (verifies the card and the digest) or numpy.load(path):\n"
                    "keys X_train, Y_train, X_test, Y_test, thetas, ws and card (JSON text). Score any\n"
                    "learner's predictions with provable-mha score.",
        example_lines=EXAMPLE_LINES)
    p.add_argument("--kind", choices=["planted", "parity"], default="planted",
                   help="planted: pm.planted_instance; parity: a member of the parity family (k = 2)")
    p.add_argument("--m", type=int_at_least(1), default=2, help="heads")
    p.add_argument("--d", type=int_at_least(1), default=8, help="token dimension")
    p.add_argument("--k", type=int_at_least(1), default=None,
                   help="tokens per example (planted: default 4; parity: 2, the only value)")
    p.add_argument("--n", type=int_at_least(1), default=400, help="training examples")
    p.add_argument("--n-test", type=int_at_least(1), default=1000, help="test examples")
    p.add_argument("--noise", type=nonneg_float, default=0.0, help="std of Gaussian noise on Y_train")
    p.add_argument("--scale", type=nonneg_float, default=None,
                   help="planted only: logit scale ||Θ_i||_F (default 1)")
    p.add_argument("--rank", type=int_at_least(1), default=None,
                   help="planted only: low-rank heads (scaled dot-product shape; default: full rank)")
    p.add_argument("--secret", type=positive_ints, default=None,
                   help="parity only: the m-1 coordinates of S in 1..d-1, e.g. 2,5 (default: drawn "
                        "uniformly with numpy.random.default_rng(seed))")
    p.add_argument("--seed", type=int_at_least(0), default=0,
                   help="seed of the instance and of the samples (recorded in the card)")
    p.add_argument("--out", metavar="PATH", required=True, help="the .npz to write (atomically)")
    p.add_argument("--csv", metavar="PATH", default=None,
                   help="also write a long CSV table split,example,token,coord,x,y (for pandas; default: "
                        "no CSV)")
    p.set_defaults(func=run)
    return p
