"""Regenerate the figures of the README (``make figures``): small sizes, a minute on one core.

Every figure is drawn by :mod:`provable_mha.plotting` and written beside this script. Nothing is
typed by hand: each number comes from a run made here (seeds fixed). Run with
``OPENBLAS_NUM_THREADS=1 MPLBACKEND=Agg python docs/figures/make_figures.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from provable_mha import gd, hardness, plotting
from provable_mha.sweep import Cell, grid, read_results, run_sweep, run_trial, summarize

HERE = Path(__file__).resolve().parent


def sweep_figure() -> Path:
    """Test error and success rate against n for m = 2, 3, 4 (d=8, k=4), 5 seeds: ``sweep.png``.

    Every n here holds out at least 6 examples, the fewest a non-vacuous certificate needs at
    delta = 0.05, so a failure is the learner's, not the certificate's minimum.
    """
    cells = grid([2, 3, 4], [8], [4], [30, 35, 40, 50, 60, 80], seed=range(5))
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "runs.csv"
        run_sweep(cells, csv, progress=sys.stderr.isatty())
        summary = summarize(read_results(csv), tol=1e-6)
    return plotting.savefig(plotting.plot_sweep(summary, tol=1e-6), HERE / "sweep.png")


def low_rank_figure() -> Path:
    """Planted rank-4 heads (PyTorch shape, d=8, 2 heads) and the learned ones: ``low_rank.png``."""
    trial = run_trial(Cell(2, 8, 4, 60, 1.5, 0), rank=4, n_test=300)
    layers = {"planted": trial.planted, "learned": trial.result.layer}
    return plotting.savefig(plotting.plot_singular_values(layers), HERE / "low_rank.png")


def gd_figure() -> Path:
    """Loss and gradient norm along GD with the certified step (H=4 heads): ``gd_path.png``."""
    data = gd.tokenized_mixture(200, 8, 16, rng=0)
    run = gd.train(gd.MHAClassifier(4, 16, rng=1), data.X, data.y, steps=200, lr="safe")
    h = run.history
    fig = plotting.plot_curves(h["step"], {"loss": h["loss"], "gradient norm": h["grad_norm"]},
                               xlabel="GD step", title="GD with the certified step, H = 4 heads",
                               ylabel={"loss": "training logistic loss", "gradient norm": "||grad L|| (Euclidean)"})
    return plotting.savefig(fig, HERE / "gd_path.png")


def gadget_figure() -> Path:
    """Largest coefficient of the parity gadget against m: ``gadget.png``."""
    ms = list(range(2, 8))
    coef = [hardness.solve_gadget(m).max_abs_coefficient for m in ms]
    fig = plotting.plot_curves(ms, {"max |c_i|": coef}, xlabel="heads m",
                               ylabel="largest gadget coefficient max_i |c_i|",
                               title="parity gadget: coefficients grow exponentially in m")
    return plotting.savefig(fig, HERE / "gadget.png")


def main() -> int:
    for make in (sweep_figure, low_rank_figure, gd_figure, gadget_figure):
        path = make()
        print(f"wrote {path.relative_to(HERE.parents[1])} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
