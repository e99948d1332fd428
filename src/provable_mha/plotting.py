"""Matplotlib figures used by the command line and the notebooks, all in one style.

Every function takes plain data or a library result, returns the :class:`matplotlib.figure.Figure`
(or draws into ``ax``) and, with ``path``, also saves it there (format from the suffix, ``.png``
when there is none; nothing is appended to the name). Nothing here computes: the numbers come
from :mod:`provable_mha.sweep`, :mod:`provable_mha.learner`, :mod:`provable_mha.hardness` and
:mod:`provable_mha.gd`.

Conventions, kept by every function: the rc settings :data:`STYLE` (applied by the decorator
:func:`styled`; use :func:`style` for a figure drawn by hand), axes labelled with their quantity
and unit, one quantity per axis (several quantities get several panels), legends that say in
words what each line is. Headless runs use the Agg back end (matplotlib's default without a
display; set ``MPLBACKEND=Agg`` to force it).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["STYLE", "style", "styled", "figure_dir", "savefig", "plot_sweep", "plot_widths",
           "plot_phase_times", "plot_curves", "plot_search_runs", "plot_singular_values",
           "plot_heads_experiment", "plot_learner_cost", "plot_theory_vs_measurement", "plot_body_widths"]

#: The rc settings of every figure: small, legible, colour-blind-safe (Okabe–Ito colours).
STYLE = {
    "figure.figsize": (5.0, 3.5), "figure.dpi": 100, "savefig.dpi": 110, "savefig.bbox": "tight",
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.frameon": False,
    "axes.grid": True, "grid.alpha": 0.3, "grid.linewidth": 0.5,
    "axes.spines.top": False, "axes.spines.right": False,
    "lines.linewidth": 1.5, "lines.markersize": 4,
    "axes.prop_cycle": None,  # set from _COLORS below (a cycler needs matplotlib imported)
}
_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")


def _plt():
    import matplotlib.pyplot as plt

    return plt


@contextlib.contextmanager
def style():
    """Context in which matplotlib draws with :data:`STYLE`."""
    import matplotlib
    from cycler import cycler

    rc = {**STYLE, "axes.prop_cycle": cycler(color=list(_COLORS))}
    with matplotlib.rc_context(rc):
        yield


def styled(func):
    """Decorator: draw (and save) inside :func:`style`. Every ``plot_*`` function of this module has it."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with style():
            return func(*args, **kwargs)

    wrapper.styled = True
    return wrapper


def figure_dir(default: str | os.PathLike = "figures") -> Path:
    """Directory for saved figures, created: ``$PROVABLE_MHA_FIGURES`` if set, else ``default``.

    A relative ``default`` is taken relative to the directory of the *script that calls this
    function* (so ``python notebooks/01_learning.py`` writes to ``notebooks/figures/`` from any
    working directory); in a Jupyter kernel or an interactive session, which have no script
    file, relative to the current directory (Jupyter starts a notebook's kernel in the
    notebook's directory).
    """
    env = os.environ.get("PROVABLE_MHA_FIGURES")
    path = Path(env or default)
    if not env and not path.is_absolute():
        caller = sys._getframe(1).f_globals.get("__file__")  # the calling script
        if caller:
            path = Path(caller).resolve().parent / path
    path.mkdir(parents=True, exist_ok=True)
    return path


def savefig(fig, path) -> Path:
    """Save ``fig`` at exactly ``path`` (format from the suffix, PNG without one) and return it.

    Parent directories are created. The figure keeps the resolution of :data:`STYLE`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lower().lstrip(".") or "png"
    fig.savefig(path, format=fmt, dpi=STYLE["savefig.dpi"], bbox_inches="tight")
    return path


def _plain_ticks_within_a_decade(ax) -> None:
    """On a log y axis spanning less than a decade, a few plain-number ticks (0.675, not 6.75e-1)."""
    lo, hi = ax.get_ylim()
    if ax.get_yscale() == "log" and lo > 0 and hi / lo < 10:
        from matplotlib import ticker

        ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=5))
        ax.yaxis.set_major_formatter(ticker.ScalarFormatter(useOffset=False))
        ax.yaxis.set_minor_locator(ticker.NullLocator())


def _finish(fig, path):
    if path is not None:
        savefig(fig, path)
    return fig


@styled
def plot_curves(x: Sequence[float], curves: Mapping[str, Sequence[float]], *, xlabel: str,
                ylabel: str | Mapping[str, str], title: str = "", logx: bool = False, logy: bool = True,
                same_quantity: bool = False, ax=None, path=None):
    """Named curves over a common ``x`` (NaN points are gaps), one quantity per axis.

    Curves share an axis only when they are the same quantity: when ``same_quantity`` is true
    (then ``ylabel`` is the axis label and the legend names the curves), or when ``ylabel`` is a
    mapping ``{curve name: axis label}`` that gives them the same label. Otherwise each curve
    gets its own panel (stacked, sharing x) whose y axis is labelled ``ylabel[name]`` for a
    mapping, or the curve's name for a string ``ylabel`` (which then labels a single curve's axis
    only). Name curves and labels with their unit, e.g. ``"wall time (s)"``.
    """
    if isinstance(ylabel, Mapping):
        missing = set(curves) - set(ylabel)
        if missing:
            raise ValueError(f"ylabel has no label for the curves {sorted(missing)}")
        labels = {name: ylabel[name] for name in curves}
    elif same_quantity or len(curves) == 1:
        labels = dict.fromkeys(curves, ylabel)
    else:
        labels = {name: name for name in curves}
    panels: dict[str, list[str]] = {}
    for name, label in labels.items():
        panels.setdefault(label, []).append(name)
    plt = _plt()
    if ax is not None:
        if len(panels) > 1:
            raise ValueError(f"{len(panels)} different quantities need {len(panels)} axes; pass "
                             "same_quantity=True for one, or no ax")
        fig, axes = ax.figure, [ax]
    else:
        fig, axes = plt.subplots(len(panels), 1, sharex=True, squeeze=False,
                                 figsize=(5.0, 2.0 + 1.5 * len(panels)))
        axes = list(axes[:, 0])
    for a, (label, names) in zip(axes, panels.items(), strict=True):
        for name in names:
            a.plot(x, np.asarray(curves[name], dtype=float), "o-" if len(x) <= 40 else "-", label=name)
        a.set_yscale("log" if logy else "linear")
        _plain_ticks_within_a_decade(a)
        a.set_ylabel(label)
        if len(names) > 1:
            a.legend()
    if logx:
        axes[-1].set_xscale("log")
    elif np.all(np.mod(np.asarray(x, dtype=float), 1) == 0):
        axes[-1].xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    axes[-1].set_xlabel(xlabel)
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    return _finish(fig, path)


_METHODS = {"practical": "practical search (variable projection)",
            "structured": "structured (constraint generation)"}


@styled
def plot_sweep(summary: Sequence[Mapping], path=None, tol: float | None = None):
    """Median test error and success rate against ``n``, one line per problem shape and method.

    ``summary`` is the output of :func:`provable_mha.sweep.summarize`; ``tol`` is the success
    threshold it used, drawn as a dashed line on the error panel and named in the legend (a cell
    succeeds when its relative test error is at most ``tol``).
    """
    if not summary:
        raise ValueError("nothing to plot: the sweep summary is empty")
    plt = _plt()
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.6), sharex=True)
    groups: dict[tuple, list[Mapping]] = {}
    for s in summary:
        key = (s["m"], s["d"], s["k"], s["scale"], s.get("method", "practical"), s.get("noise", 0.0))
        groups.setdefault(key, []).append(s)
    for (m, d, k, scale, method, noise), rows in sorted(groups.items()):
        rows = sorted(rows, key=lambda r: r["n"])
        ns = [r["n"] for r in rows]
        lab = (f"{m} head{'s' if m != 1 else ''}, d={d}, k={k}, scale {scale:g}"
               + (f", noise {noise:g}" if noise else "") + f": {_METHODS.get(method, method)}")
        err = np.maximum([r["median_test_error"] for r in rows], 1e-17)
        (line,) = ax0.plot(ns, err, "o-", label=lab)
        ax1.plot(ns, [r["success_rate"] for r in rows], "o-", color=line.get_color())
    if tol is not None:
        ax0.axhline(tol, color="0.3", ls="--", lw=1,
                    label=f"success threshold: test error <= {tol:g}")
    ax0.set_yscale("log")
    ax0.set_ylabel("median relative test error\n(seeds that learned; dimensionless)")
    ax1.set_ylabel("success rate (fraction of seeds)")
    ax1.set_ylim(-0.05, 1.05)
    for ax in (ax0, ax1):
        ax.set_xlabel("examples n (training + held out)")
    ax0.set_title("test error on fresh inputs")
    ax1.set_title("seeds that succeeded" + (f" (error <= {tol:g})" if tol is not None else ""))
    fig.legend(*ax0.get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=1)
    fig.tight_layout()
    return _finish(fig, path)


@styled
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
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots()
    for j in range(W.shape[1]):
        ax.plot(n_examples, np.maximum(W[:, j], 1e-16), "o-", lw=1, ms=3, label=f"direction {j}")
    ax.set_yscale("log")
    ax.set_xlabel("examples added")
    ax.set_ylabel("width of the body along a direction\n(units of Θ entries)")
    if truth_violation is not None and len(truth_violation):
        title += f"\n(max violation by the truth: {np.nanmax(truth_violation):.1e})"
    ax.set_title(title)
    ax.legend(title="random unit direction")
    fig.tight_layout()
    return _finish(fig, path)


@styled
def plot_phase_times(result, ax=None, path=None):
    """Horizontal bars of the wall time of each phase of a :class:`~provable_mha.LearnResult`."""
    plt = _plt()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 2.5))
    names = [p.name for p in result.phases]
    secs = [max(p.seconds, 1e-4) for p in result.phases]
    ax.barh(names[::-1], secs[::-1], color=_COLORS[0])
    ax.set_xscale("log")
    ax.set_xlabel("wall time (s, log scale)")
    ax.set_ylabel("phase")
    ax.set_title(f"pm.learn, {_METHODS.get(result.method, result.method)}: {result.seconds:.2f} s in all")
    fig.tight_layout()
    return _finish(fig, path)


@styled
def plot_search_runs(result, threshold: float | None = None, ax=None, path=None):
    """Relative training residual reached by each start of the practical search, sorted.

    Uses ``result.phase("search").info["runs"]``; the acceptance threshold (a start whose
    residual is at or below it is accepted and ends the search) is drawn as a dashed line.
    """
    info = result.phase("search").info
    runs = info.get("runs", [])
    if not runs:
        raise ValueError("the search phase recorded no runs")
    res = np.sort([max(r["relative_residual"], 1e-17) for r in runs])
    thr = info.get("threshold") if threshold is None else threshold
    plt = _plt()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots()
    ax.semilogy(np.arange(1, len(res) + 1), res, "o", label="one random start")
    if thr is not None:
        ax.axhline(thr, color="0.3", ls="--", lw=1,
                   label=f"acceptance threshold {thr:.1e}: a start at or below it is accepted")
    ax.legend()
    ax.xaxis.set_major_locator(_plt().MaxNLocator(integer=True))
    ax.set_xlabel("start (sorted by residual)")
    ax.set_ylabel("relative training residual\n||F(X) - Y|| / ||Y|| (dimensionless)")
    ax.set_title(f"{len(res)} start{'s' if len(res) != 1 else ''} of the practical search")
    fig.tight_layout()
    return _finish(fig, path)


@styled
def plot_singular_values(layers: Mapping[str, object], path=None):
    """Singular values of every head's Θ_i, one panel per named layer (e.g. planted and learned).

    ``layers`` maps a panel title to a :class:`~provable_mha.MultiHeadAttention`; values below
    1e-18 are drawn at 1e-18 (the log axis cannot show 0).
    """
    if not layers:
        raise ValueError("no layers to plot")
    plt = _plt()
    fig, axes = plt.subplots(1, len(layers), figsize=(4 * len(layers), 3.2), sharey=True, squeeze=False)
    for ax, (name, layer) in zip(axes[0], layers.items(), strict=True):
        sv = np.linalg.svd(np.asarray(layer.thetas), compute_uv=False)
        for i, row in enumerate(sv):
            ax.semilogy(np.arange(1, row.size + 1), np.maximum(row, 1e-18), "o-", label=f"head {i}")
        ax.set_title(f"{name}: singular values of Θ_i")
        ax.set_xlabel("index (largest first)")
        ax.legend()
    axes[0][0].set_ylabel("singular value (units of Θ entries)")
    fig.tight_layout()
    return _finish(fig, path)


@styled
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


@styled
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


@styled
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


@styled
def plot_body_widths(sizes: Sequence[int], head_radii, *, true_errors=None, ax=None, path=None,
                     title: str = "the structured body shrinking as examples are added"):
    """Per-head certified radius of the body against the examples it holds (log scale).

    ``head_radii`` has shape ``(len(sizes), m)``: for each size, head :math:`i`'s bound on
    :math:`\\max(\\|\\Delta\\Theta_i\\|_F, \\|\\Delta W_i\\|_F)` (infinite or NaN where the body is unbounded:
    not drawn). ``true_errors`` (``m`` values, optional) are the planted layer's actual errors,
    drawn as dashed lines in the head's colour (a sound radius stays above its line).
    """
    R = np.asarray(head_radii, dtype=float)
    plt = _plt()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots()
    for i in range(R.shape[1]):
        y = np.where(np.isfinite(R[:, i]), R[:, i], np.nan)
        line, = ax.plot(sizes, y, "o-", label=f"head {i}: certified radius")
        if true_errors is not None:
            ax.axhline(max(float(true_errors[i]), 1e-18), ls="--", lw=1, color=line.get_color(),
                       label=f"head {i}: true error")
    ax.set_yscale("log")
    ax.set_xlabel("examples in the body")
    ax.set_ylabel("max(‖ΔΘᵢ‖_F, ‖ΔWᵢ‖_F)\n(parameter units)")
    unbounded = [n for n, r in zip(sizes, R, strict=True) if not np.all(np.isfinite(r))]
    if unbounded:
        title += f"\n(unbounded below {max(unbounded) + 1} examples: not drawn)"
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _finish(fig, path)
