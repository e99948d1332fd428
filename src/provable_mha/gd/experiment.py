r"""The heads experiment: train and test loss against the number of heads H at fixed data.

One training set and one test set are drawn from :func:`~provable_mha.gd.tokenized_mixture`
(same means) and kept fixed; for every :math:`H` and seed a random initialisation is drawn
(random, never symmetric: a symmetric start is one head in disguise, docs/gd.md §6) and full-batch GD
runs for ``steps`` steps with a fixed step size. Means and standard deviations are over seeds.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field

import numpy as np

from .._validation import check_positive_int
from .classifier import MHAClassifier
from .data import tokenized_mixture
from .train import train

__all__ = ["HeadsExperiment", "heads_experiment"]

_COLS = ("H", "train_loss", "train_loss_std", "test_loss", "test_loss_std", "test_error",
         "test_error_std", "dist", "seconds")


@dataclass
class HeadsExperiment:
    """Result of :func:`heads_experiment`: one row per H (means/stds over seeds)."""

    rows: list[dict]
    params: dict = field(default_factory=dict)
    runs: list[dict] = field(default_factory=list)

    def table(self) -> str:
        """A fixed-width text table."""
        head = (f"{'H':>4} {'train loss':>18} {'test loss':>18} {'test error':>16} "
                f"{'|ω-ω0|':>8} {'sec':>6}")
        lines = [head, "-" * len(head)]
        for r in self.rows:
            lines.append(
                f"{r['H']:>4} {r['train_loss']:>9.4f} ± {r['train_loss_std']:<6.4f} "
                f"{r['test_loss']:>9.4f} ± {r['test_loss_std']:<6.4f} "
                f"{r['test_error']:>7.3f} ± {r['test_error_std']:<6.3f} "
                f"{r['dist']:>8.3f} {r['seconds']:>6.2f}")
        return "\n".join(lines)

    def to_csv(self, path) -> None:
        """Write the rows (columns: H, means and stds, distance from init, seconds)."""
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(_COLS))
            w.writeheader()
            for r in self.rows:
                w.writerow({k: r[k] for k in _COLS})

    def plot(self, path):
        """Save a PNG of train/test loss (± one std) against H and return ``path``.

        Drawn by :func:`provable_mha.plotting.plot_heads_experiment`.
        """
        from ..plotting import plot_heads_experiment

        plot_heads_experiment(self, path=path)
        return path


def heads_experiment(H_values=(1, 2, 4, 8, 16), *, n: int = 200, n_test: int = 2000,
                     T: int = 8, d: int = 16, steps: int = 300, lr: float | str = 1.0,
                     seeds: int = 3, init_scale: float = 1.0, normalization: str = "sqrt",
                     data_seed: int = 0, data_kwargs: dict | None = None) -> HeadsExperiment:
    r"""Train/test loss of full-batch GD against the number of heads :math:`H`.

    Parameters
    ----------
    H_values : sequence of int
        Head counts to compare.
    n, n_test, T, d : int
        Training/test sizes and token shape (data fixed across H and seeds).
    steps : int
        GD steps per run.
    lr : float or "safe"
        Fixed step size (the same for every H, so the comparison is at equal step size), or
        ``"safe"``: the certified step of each model at every step, which grows with H.
    seeds : int
        Random initialisations per H (seeds ``0..seeds-1``).
    init_scale, normalization
        Passed to :class:`MHAClassifier`.
    data_seed : int
        Seed of the data.
    data_kwargs : dict, optional
        Extra arguments of :func:`tokenized_mixture` (``signal_strength``, ``noise_std``, ...).
    """
    Hs = [check_positive_int(h, "H") for h in H_values]
    if not Hs:
        raise ValueError("H_values must name at least one head count")
    seeds = check_positive_int(seeds, "seeds")
    kw = dict(data_kwargs or {})
    train_data = tokenized_mixture(n, T, d, rng=data_seed, **kw)
    kw["means"] = train_data.info["means"]
    test_data = tokenized_mixture(n_test, T, d, rng=data_seed + 10_000, **kw)
    rows, runs = [], []
    for H in Hs:
        res = []
        for s in range(seeds):
            model = MHAClassifier(H, d, normalization=normalization, rng=1000 * H + s,
                                  init_scale=init_scale)
            r = train(model, train_data.X, train_data.y, steps=steps, lr=lr,
                      X_test=test_data.X, y_test=test_data.y, record_every=max(1, steps))
            rec = {"H": H, "seed": s, "train_loss": r.cost,
                   "test_loss": float(r.history["test_loss"][-1]),
                   "test_error": float(r.history["test_error"][-1]),
                   "dist": float(r.history["dist"][-1]), "seconds": r.time}
            res.append(rec)
            runs.append(rec)
        row = {"H": H}
        for key in ("train_loss", "test_loss", "test_error", "dist", "seconds"):
            vals = np.array([q[key] for q in res])
            row[key] = float(vals.mean())
            row[key + "_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
        rows.append(row)
    params = {"n": n, "n_test": n_test, "T": T, "d": d, "steps": steps, "lr": lr,
              "seeds": seeds, "init_scale": init_scale, "normalization": normalization,
              "data_seed": data_seed, **{k: v for k, v in kw.items() if k != "means"}}
    if any(not math.isfinite(r["train_loss"]) for r in rows):  # pragma: no cover - guarded
        raise ValueError("non-finite training loss in the heads experiment; lower lr")
    return HeadsExperiment(rows, params, runs)
