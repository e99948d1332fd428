"""Matplotlib figures used by the command line and the notebooks.

Every function takes plain data or a library result, returns the :class:`matplotlib.figure.Figure`
(or draws into ``ax``) and, with ``path``, also saves a PNG. Nothing here computes: the numbers
come from :mod:`provable_mha.sweep`, :mod:`provable_mha.learner`, :mod:`provable_mha.hardness`
and :mod:`provable_mha.gd`. Headless runs use the Agg back end (matplotlib's default without a
display; set ``MPLBACKEND=Agg`` to force it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["figure_dir", "savefig", "plot_sweep", "plot_widths", "plot_phase_times",
           "plot_curves", "plot_search_runs", "plot_heads_experiment", "plot_learner_cost",
           "plot_theory_vs_measurement"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def figure_dir(default: str | os.PathLike = "figures") -> Path:
    """Directory for saved figures: ``$PROVABLE_MHA_FIGURES`` if set, else ``default``; created."""
    path = Path(os.environ.get("PROVABLE_MHA_FIGURES") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def savefig(fig, path) -> Path:
    """Save ``fig`` as PNG at ``path`` (parent directories created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _finish(fig, path):
    if path is not None:
        savefig(fig, path)
    return fig


def plot_curves(x: Sequence[float], curves: Mapping[str, Sequence[float]], *, xlabel: str,
                ylabel: str, title: str = "", logx: bool = False, logy: bool = True,
                ax=None, path=None):
    """Several named curves over a common ``x`` (NaN points are skipped), markers on points."""
    plt = _plt()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 3.5))
    for label, y in curves.items():
        ax.plot(x, np.asarray(y, dtype=float), "o-", label=label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _finish(fig, path)


def plot_sweep(summary: Sequence[Mapping], path=None):
    """Median test error and success rate against ``n``, one line per ``(m, d, k, scale)``.

    ``summary`` is the output of :func:`provable_mha.sweep.summarize`.
    """
    if not summary:
        raise ValueError("nothing to plot: the sweep summary is empty")
    plt = _plt()
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.5))
    groups: dict[tuple, list[Mapping]] = {}
    for s in summary:
        groups.setdefault((s["m"], s["d"], s["k"], s["scale"]), []).append(s)
    for (m, d, k, scale), rows in sorted(groups.items()):
        rows = sorted(rows, key=lambda r: r["n"])
        ns = [r["n"] for r in rows]
        lab = f"m={m} d={d} k={k} s={scale:g}"
        err = np.maximum([r["median_test_error"] for r in rows], 1e-17)
        ax0.plot(ns, err, "o-", label=lab)
        ax1.plot(ns, [r["success_rate"] for r in rows], "o-", label=lab)
    ax0.set_yscale("log")
    ax0.set_ylabel("median relative test error")
    ax1.set_ylabel("success rate")
    ax1.set_ylim(-0.05, 1.05)
    for ax in (ax0, ax1):
        ax.set_xlabel("examples n")
    ax1.legend(fontsize=7)
    fig.tight_layout()
    return _finish(fig, path)


def plot_widths(n_examples: Sequence[int], widths, *, truth_violation=None, ax=None, path=None,
                title: str = "sculpted Θ-body of one head"):
    """Widths of a sculpted body (one line per direction) against the number of examples.

    ``widths`` has shape ``(steps, directions)`` (e.g. ``SculptTrajectory.widths``); the optional
    ``truth_violation`` (one per step) is printed in the title as the worst containment slack.
    """
    W = np.atleast_2d(np.asarray(widths, dtype=float))
    if W.shape[0] != len(n_examples):
        raise ValueError(f"widths has {W.shape[0]} steps but n_examples has {len(n_examples)}")
    plt = _plt()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 3.5))
    for j in range(W.shape[1]):
        ax.plot(n_examples, np.maximum(W[:, j], 1e-16), "o-", lw=1, ms=3, label=f"direction {j}")
    ax.set_yscale("log")
    ax.set_xlabel("examples added")
    ax.set_ylabel("width along direction")
    if truth_violation is not None and len(truth_violation):
        title += f"\n(max violation by the truth: {np.nanmax(truth_violation):.1e})"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _finish(fig, path)


def plot_phase_times(result, ax=None, path=None):
    """Horizontal bars of the wall time of each phase of a :class:`~provable_mha.LearnResult`."""
    plt = _plt()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 2.5))
    names = [p.name for p in result.phases]
    secs = [max(p.seconds, 1e-4) for p in result.phases]
    ax.barh(names[::-1], secs[::-1])
    ax.set_xscale("log")
    ax.set_xlabel("seconds")
    ax.set_title(f"phases ({result.mode} mode, total {result.seconds:.2f} s)", fontsize=10)
    fig.tight_layout()
    return _finish(fig, path)


def plot_search_runs(result, threshold: float | None = None, ax=None, path=None):
    """Relative training residual reached by each start of the practical search, sorted.

    Uses ``result.phase("search").info["runs"]``; the acceptance threshold is drawn as a line.
    """
    info = result.phase("search").info
    runs = info.get("runs", [])
    if not runs:
        raise ValueError("the search phase recorded no runs")
    res = np.sort([max(r["relative_residual"], 1e-17) for r in runs])
    thr = info.get("threshold") if threshold is None else threshold
    plt = _plt()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 3.5))
    ax.semilogy(np.arange(1, len(res) + 1), res, "o")
    if thr is not None:
        ax.axhline(thr, color="k", ls="--", lw=1, label=f"acceptance {thr:.1e}")
        ax.legend(fontsize=8)
    ax.set_xlabel("start (sorted by residual)")
    ax.set_ylabel("relative training residual")
    ax.set_title(f"{len(res)} starts of the practical search", fontsize=10)
    fig.tight_layout()
    return _finish(fig, path)


def plot_heads_experiment(result, ax=None, path=None):
    """Train and test loss (error bars: one std over seeds) against the number of heads H.

    ``result`` is a :class:`~provable_mha.gd.HeadsExperiment` (its ``rows`` and ``params``).
    """
    plt = _plt()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 3.5))
    Hs = [r["H"] for r in result.rows]
    for key, label in (("train_loss", "train"), ("test_loss", "test")):
        ax.errorbar(Hs, [r[key] for r in result.rows], yerr=[r[key + "_std"] for r in result.rows],
                    marker="o", capsize=3, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("heads H")
    ax.set_ylabel("logistic loss")
    p = result.params
    ax.set_title(f"n={p.get('n')}, T={p.get('T')}, d={p.get('d')}, steps={p.get('steps')}, "
                 f"seeds={p.get('seeds')}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _finish(fig, path)


def plot_learner_cost(rows, path=None):
    """Examples and seconds against ``m`` (log scale), parity vs planted; two panels.

    ``rows`` are :class:`provable_mha.hardness.CostRow` (``kind``, ``m``, ``examples``,
    ``success``, ``seconds``); a failed row has no example count and is not drawn in panel 1.
    """
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for kind, style in (("parity", "o-"), ("planted", "s--")):
        sel = [r for r in rows if r.kind == kind]
        ms = [r.m for r in sel]
        axes[0].plot(ms, [r.examples if r.success else np.nan for r in sel], style, label=kind)
        axes[1].plot(ms, [r.seconds for r in sel], style, label=kind)
    for ax, lab in zip(axes, ("examples to reach tol", "seconds"), strict=True):
        ax.set_xlabel("heads m")
        ax.set_ylabel(lab)
        ax.set_yscale("log")
        ax.legend()
    fig.tight_layout()
    return _finish(fig, path)


def plot_theory_vs_measurement(x: Sequence[float], measured: Mapping[str, Sequence[float] | tuple],
                               theory: Mapping[str, Sequence[float]], *, xlabel: str, ylabel: str,
                               title: str = "", logx: bool = True, logy: bool = True, ax=None, path=None):
    """Measured points (markers, optional interval bars) beside theoretical curves (dashed lines).

    ``measured`` maps a label to ``y`` or to ``(y, low, high)`` (bars from ``low`` to ``high``);
    ``theory`` maps a label to ``y``; all over the common ``x``, NaN points skipped. A curve known
    only up to a constant should say so in its label. Used by ``notebooks/06_theory_vs_measurement.py``.
    """
    plt = _plt()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 3.5))
    xs = np.asarray(x, dtype=float)
    for label, val in measured.items():
        if isinstance(val, tuple):
            y, lo, hi = (np.asarray(v, dtype=float) for v in val)
            ax.errorbar(xs, y, yerr=[y - lo, hi - y], fmt="o-", capsize=3, label=label)
        else:
            ax.plot(xs, np.asarray(val, dtype=float), "o-", label=label)
    for label, y in theory.items():
        ax.plot(xs, np.asarray(y, dtype=float), "--", lw=1.5, label=label)
    if logx:
        ax.set_xscale("log")
        ax.set_xticks(xs, [f"{v:g}" for v in xs])
        ax.tick_params(axis="x", which="minor", bottom=False, labelbottom=False)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _finish(fig, path)
