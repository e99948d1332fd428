"""One full-batch GD step of the attention classifier: NumPy (analytic) vs PyTorch CPU autograd.

Usage: ``python benchmarks/gd_step_vs_torch.py [--n 1000 --T 8 --d 32 --H 16 --repeats 30]``.
Prints a table and writes ``benchmarks/results/gd_step_vs_torch.csv``. Torch is optional: the
torch row is skipped when it is not installed. Both sides use float64 and the same data and
parameters; the gradients are compared before timing. Timings are medians over repeats.

On a shared 2-core machine multi-threaded BLAS is very sensitive to load (measured: the same
NumPy step 17 ms single-threaded vs 36-42 ms with 2 OpenBLAS threads under load). For a
like-for-like comparison run both single-threaded::

    OPENBLAS_NUM_THREADS=1 python benchmarks/gd_step_vs_torch.py --threads 1

The CSV name records the thread setting: ``gd_step_vs_torch_blas<k>.csv``.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path

import numpy as np

from provable_mha import gd


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _torch_step(torch, X, y, U, W, lr, c):
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    Ut = torch.from_numpy(U.copy()).requires_grad_(True)
    Wt = torch.from_numpy(W.copy()).requires_grad_(True)
    n, T, d = X.shape
    H = U.shape[0]

    def step():
        q = Xt[:, 0, :]                                           # (n, d)
        wq = (q @ Wt.reshape(H * d, d).T).reshape(n, H, d)
        a = torch.softmax(torch.bmm(Xt, wq.transpose(1, 2)), dim=1)   # (n, T, H)
        v = (Xt.reshape(n * T, d) @ Ut.T).reshape(n, T, H)
        phi = c * (a * v).sum(dim=(1, 2))
        loss = torch.nn.functional.softplus(-yt * phi).mean()
        Ut.grad = None
        Wt.grad = None
        loss.backward()
        with torch.no_grad():
            Ut.sub_(lr * Ut.grad)
            Wt.sub_(lr * Wt.grad)
        return loss

    return step, Ut, Wt


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--T", type=int, default=8)
    p.add_argument("--d", type=int, default=32)
    p.add_argument("--H", type=int, default=16)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--quick", action="store_true", help="3 repeats, nothing written")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats = 3
    X, y = gd.tokenized_mixture(args.n, args.T, args.d, rng=0)
    model = gd.MHAClassifier(args.H, args.d, rng=1)
    lr = 0.1
    theta = model.params.copy()

    def np_step():
        nonlocal theta
        _, g = model._loss_and_grad(X, y, theta)
        theta = theta - lr * g

    rows = [{"impl": "numpy (analytic)", "seconds": _median_time(np_step, args.repeats)}]
    try:
        import torch
    except ImportError:
        torch = None
        print("torch not installed: skipping the torch row")
    if torch is not None:
        if args.threads:
            torch.set_num_threads(args.threads)
        step, Ut, Wt = _torch_step(torch, X, y, model.U, model.thetas, 0.0, model.c)
        step()
        _, g = model.loss_and_grad(X, y)
        gt = np.concatenate([Ut.grad.numpy().ravel(), Wt.grad.numpy().ravel()])
        err = float(np.abs(gt - g).max() / max(np.abs(g).max(), 1e-300))
        step, _, _ = _torch_step(torch, X, y, model.U, model.thetas, lr, model.c)
        rows.append({"impl": f"torch {torch.__version__} autograd "
                             f"({torch.get_num_threads()} threads)",
                     "seconds": _median_time(step, args.repeats), "grad_rel_err": err})
    base = rows[-1]["seconds"]
    shape = f"(n, T, d, H) = ({args.n}, {args.T}, {args.d}, {args.H})"
    print(f"one full-batch GD step at {shape}, median of {args.repeats}")
    print(f"{'implementation':<40} {'ms':>8} {'ratio to torch':>15}")
    for r in rows:
        r["ratio_to_torch"] = r["seconds"] / base if torch is not None else float("nan")
        print(f"{r['impl']:<40} {1e3 * r['seconds']:>8.2f} {r['ratio_to_torch']:>15.2f}")
    if torch is not None:
        print(f"max relative gradient difference numpy vs torch: {rows[-1]['grad_rel_err']:.1e}")
    if args.quick or torch is None:  # a row without torch would replace the committed comparison
        print("not written (quick mode or no torch): the committed CSV is kept")
        return 0
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    out = Path(__file__).parent / "results" / f"gd_step_vs_torch_blas{blas}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["impl", "n", "T", "d", "H", "seconds",
                                           "ratio_to_torch", "grad_rel_err", "cpus",
                                           "blas_threads"])
        w.writeheader()
        for r in rows:
            w.writerow({"n": args.n, "T": args.T, "d": args.d, "H": args.H,
                        "cpus": os.cpu_count(), "grad_rel_err": "",
                        "blas_threads": blas, **r})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
