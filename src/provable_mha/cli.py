"""Command line: ``provable-mha <command>``. Thin: parses arguments, calls the library, prints."""

from __future__ import annotations

import argparse
import sys

import numpy as np

__all__ = ["main"]


def _cmd_demo(args) -> int:
    import provable_mha as pm

    layer = pm.planted_instance(m=args.m, d=args.d, k=args.k, scale=args.scale, rng=args.seed)
    print(f"planted {layer} at k={args.k}, scale={args.scale}, seed={args.seed}")
    print(pm.check_conditions(layer, k=args.k))
    X = pm.sample_boolean(4, args.k, args.d, args.seed + 1)
    Y = layer(X)
    A = layer.attention(X)
    print(f"forward pass on {X.shape}: output {Y.shape}, attention {A.shape}, "
          f"max |row sum - 1| = {np.abs(A.sum(-1) - 1).max():.2e}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="provable-mha", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="plant a default instance and run the main job on it")
    demo.add_argument("--m", type=int, default=2)
    demo.add_argument("--d", type=int, default=8)
    demo.add_argument("--k", type=int, default=4)
    demo.add_argument("--scale", type=float, default=1.0)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ValueError as exc:
        print(f"provable-mha: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
