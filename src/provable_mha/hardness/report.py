r"""Which non-degeneracy conditions the parity and LWR families violate; what they cost a learner.

:func:`family_conditions` runs :func:`provable_mha.check_conditions` on every member of a family
(``k = 2``) and reports, per condition, how many members fail it. :func:`learner_cost` measures a
learner on one member of the parity family and on a planted non-degenerate instance for each
``m``: the smallest number of examples (on a doubling grid) at which the relative test error
falls below ``tol``, the wall time of that run, and the search size the learner reports.
These are measurements of one learner, not lower bounds: its failure on the parity family
(``docs/hardness.md`` §6) shows nothing about other learners. The figure is drawn by
:func:`provable_mha.plotting.plot_learner_cost`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .._validation import as_generator, check_positive_int
from ..conditions import check_conditions
from ..instances import planted_instance
from ..model import MultiHeadAttention
from ..sampling import relative_error, sample_boolean
from .parity import parity_instance, parity_secrets

__all__ = ["family_conditions", "format_family_conditions", "CostRow", "cost_instances",
           "learner_cost", "format_cost_table", "plot_cost"]

_SEARCH_KEYS = ("search_size", "candidates", "net_size", "n_candidates")


def family_conditions(family: Sequence[tuple[object, MultiHeadAttention]], k: int = 2) -> dict:
    """Failures of :func:`~provable_mha.check_conditions` over a family at ``k`` tokens.

    Returns ``{"members": D, "failed": {name: count}, "values": {name: (min, max)}}``; a
    condition failed by all ``D`` members is a structural violation of the construction.
    """
    k = check_positive_int(k, "k")
    if not family:
        raise ValueError("family is empty")
    failed: dict[str, int] = {}
    values: dict[str, list[float]] = {}
    for _, layer in family:
        rep = check_conditions(layer, k)
        for c in rep:
            failed.setdefault(c.name, 0)
            failed[c.name] += int(not c.passed)
            values.setdefault(c.name, []).append(c.value)
    return {"members": len(family), "failed": failed,
            "values": {n: (float(min(v)), float(max(v))) for n, v in values.items()}}


def format_family_conditions(summary: dict, title: str = "family") -> str:
    """Plain-text table of :func:`family_conditions`."""
    D = summary["members"]
    lines = [f"{title}: {D} members", f"  {'condition':24s} {'failed':>8s}  {'value range':>22s}"]
    for name, cnt in summary["failed"].items():
        lo, hi = summary["values"][name]
        lines.append(f"  {name:24s} {cnt:>4d}/{D:<3d}  {lo:10.4g} .. {hi:<10.4g}")
    return "\n".join(lines)


@dataclass(frozen=True)
class CostRow:
    """One (family, m) cell of :func:`learner_cost`."""

    kind: str  # "parity" or "planted"
    m: int
    d: int
    examples: int | None  # smallest n on the grid reaching tol (None: never)
    seconds: float  # wall time of the successful run (or of the last run)
    test_error: float  # relative test error of that run
    success: bool
    search_size: float | None  # reported by the learner's phases, if any
    note: str = ""  # the learner's exception, if the last run raised one


def cost_instances(m: int, d: int, seed: int = 0) -> dict[str, MultiHeadAttention]:
    """The two instances :func:`learner_cost` uses for ``m``: a parity member and a planted layer.

    The parity secret is drawn uniformly (seeded) from the family; the planted layer is
    ``planted_instance(m, d, k=2, rng=seed)``.
    """
    gen = as_generator(seed)
    secrets = parity_secrets(m, d)
    S = secrets[int(gen.integers(len(secrets)))]
    return {"parity": parity_instance(S, m, d), "planted": planted_instance(m, d, k=2, rng=seed)}


def _search_size(result) -> float | None:
    phases = getattr(result, "phases", None)
    items = phases.values() if isinstance(phases, dict) else (phases or [])
    for ph in items:
        ph = asdict(ph) if hasattr(ph, "__dataclass_fields__") else ph
        if isinstance(ph, dict):
            # top level, or nested in the learner's PhaseRecord.sizes / .info
            for where in (ph, ph.get("sizes") or {}, ph.get("info") or {}):
                for key in _SEARCH_KEYS:
                    if isinstance(where, dict) and where.get(key) is not None:
                        return float(where[key])
    return None


def learner_cost(ms: Sequence[int], d: int, learner: Callable | None = None,
                 n_grid: Sequence[int] | None = None, n_test: int = 500, tol: float = 1e-3,
                 seed: int = 0) -> list[CostRow]:
    r"""Examples, time and search size a learner needs on hard vs planted instances, per ``m``.

    For each ``m`` and each instance of :func:`cost_instances`, runs
    ``learner(X, Y, m, rng=seed)`` on ``n`` Boolean two-token examples for ``n`` along
    ``n_grid`` (default: doubling from ``2 m d``) until the relative test error
    (:func:`~provable_mha.relative_error` on ``n_test`` fresh examples) is ``<= tol``.
    An exception from the learner (``LearnError``, or ``ValueError`` for too few examples)
    counts as a failure at that ``n``; its message is kept in ``CostRow.note``.

    Parameters
    ----------
    learner : callable, optional
        ``learner(X, Y, m, rng=...)`` returning a layer or an object with ``.layer`` (and
        optionally ``.phases`` carrying one of ``search_size``/``candidates``/``net_size``).
        Default: :func:`provable_mha.learn`.
    """
    d = check_positive_int(d, "d")
    if learner is None:
        import provable_mha

        learner = provable_mha.learn
    if not callable(learner):
        raise ValueError("learner must be callable")
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be > 0, got {tol}")
    n_test = check_positive_int(n_test, "n_test")
    rows = []
    for m in ms:
        m = check_positive_int(m, "m")
        if d < m:
            raise ValueError(f"d = {d} is too small for m = {m} (the parity family needs d >= m)")
        grid = list(n_grid) if n_grid is not None else [2 * m * d * 2**j for j in range(6)]
        for kind, layer in cost_instances(m, d, seed).items():
            Xt = sample_boolean(n_test, 2, d, seed + 1)
            Yt = layer(Xt)
            row = None
            for n in grid:
                n = check_positive_int(n, "n")
                X = sample_boolean(n, 2, d, seed + 2)
                t0 = time.perf_counter()
                note = ""
                try:
                    res = learner(X, layer(X), m, rng=seed)
                    err = relative_error(res, Xt, Yt)
                except Exception as exc:  # a learner failure is a measured outcome
                    res, err, note = None, float("inf"), f"{type(exc).__name__}: {exc}"
                secs = time.perf_counter() - t0
                ok = bool(err <= tol)
                row = CostRow(kind, m, d, n if ok else None, secs, err, ok, _search_size(res), note)
                if ok:
                    break
            rows.append(row)
    return rows


def format_cost_table(rows: Sequence[CostRow]) -> str:
    """Plain-text table of :func:`learner_cost` rows."""
    lines = [f"{'kind':8s} {'m':>2s} {'d':>3s} {'examples':>8s} {'seconds':>9s} {'test err':>9s} "
             f"{'search':>8s}"]
    for r in rows:
        lines.append(f"{r.kind:8s} {r.m:>2d} {r.d:>3d} {str(r.examples or '-'):>8s} "
                     f"{r.seconds:9.3f} {r.test_error:9.2e} "
                     f"{('-' if r.search_size is None else f'{r.search_size:.3g}'):>8s}")
    return "\n".join(lines)


def plot_cost(rows: Sequence[CostRow], path=None):
    """Figure of :func:`learner_cost` rows, drawn by :func:`provable_mha.plotting.plot_learner_cost`.

    Saved as PNG at ``path`` if given; returns the figure.
    """
    from ..plotting import plot_learner_cost

    return plot_learner_cost(rows, path=path)
