r"""Grids of planted learning problems, a crash-safe resumable CSV store, joblib and Dask back ends.

One *cell* is a planted problem :math:`(m, d, k, n, s, \text{seed})` run end to end by
:func:`run_trial`: plant ``pm.planted_instance(m, d, k, scale=s, rng=seed)``, draw ``n`` Boolean
examples (labels with optional Gaussian noise of level :math:`\sigma`), learn with
:func:`provable_mha.learn`, and measure the training, held-out and test errors (test on fresh
noiseless examples) and the parameter error after matching heads (:func:`provable_mha.match_heads`).
All randomness is derived from ``seed`` through :class:`numpy.random.SeedSequence` streams, so a
cell is a pure function of its key.

:func:`run_sweep` appends one CSV row per *finished* cell, flushed and ``fsync``-ed before the next
is written, so a crash loses at most the cells still running; rerunning the same command skips
every cell already in the file (never recomputed, never duplicated) and drops a torn last line
left by a crash. Ctrl-C raises :class:`SweepInterrupted` after closing the file with complete
rows only; a progress bar over the cells (done/total, ETA, best test error so far) is shown on
stderr when it is a terminal. Cells run serially, in local worker processes (joblib/loky) or on a Dask
cluster (``scheduler="local"`` for a :class:`distributed.LocalCluster`, ``"tcp://host:port"`` for
a running scheduler; Dask is the optional extra ``provable_mha[distributed]``).
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ._validation import check_positive_int

__all__ = ["Cell", "Trial", "grid", "run_trial", "run_cell", "run_sweep", "SweepInterrupted",
           "read_results", "summarize", "cell_key", "COLUMNS", "KEY"]

KEY = ("m", "d", "k", "n", "scale", "seed", "method", "noise")
COLUMNS = KEY + ("status", "n_train", "n_holdout", "train_error", "holdout_error", "test_error",
                 "head_error", "certified", "max_residual", "epsilon", "seconds", "message")
_STREAMS = {"train": 1, "noise": 2, "test": 3}


@dataclass(frozen=True)
class Cell:
    """One grid point. ``method`` and ``noise`` are part of the key: changing them is a new cell."""

    m: int
    d: int
    k: int
    n: int
    scale: float = 1.0
    seed: int = 0
    method: str = "practical"
    noise: float = 0.0

    def __post_init__(self) -> None:
        for name in ("m", "d", "k", "n"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.seed, "seed", minimum=0)
        if not (np.isfinite(self.scale) and self.scale >= 0):
            raise ValueError(f"scale must be finite and >= 0, got {self.scale}")
        if not (np.isfinite(self.noise) and self.noise >= 0):
            raise ValueError(f"noise must be finite and >= 0, got {self.noise}")
        if self.method not in ("practical", "structured"):
            raise ValueError(f"method must be 'practical' or 'structured', got {self.method!r}")

    @property
    def key(self) -> tuple:
        """Canonical key (ints, floats, str) used to recognise finished cells in a CSV file."""
        return cell_key(asdict(self))


def cell_key(row: dict) -> tuple:
    """The canonical key of a CSV row or cell dict (files from release 1 name the method ``mode``)."""
    try:
        method = row.get("method", row.get("mode"))
        method = "structured" if method == "provable" else method
        return (int(row["m"]), int(row["d"]), int(row["k"]), int(row["n"]), float(row["scale"]),
                int(row["seed"]), str(method), float(row["noise"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"row has no valid cell key {KEY}: {row}") from exc


def grid(m: Iterable[int], d: Iterable[int], k: Iterable[int], n: Iterable[int],
         scale: Iterable[float] = (1.0,), seed: Iterable[int] = (0,), *, method: str = "practical",
         noise: float = 0.0) -> list[Cell]:
    """The Cartesian product of the axes as a list of :class:`Cell` (row-major, argument order)."""
    axes = [list(a) for a in (m, d, k, n, scale, seed)]
    names = ("m", "d", "k", "n", "scale", "seed")
    for name, axis in zip(names, axes, strict=True):
        if not axis:
            raise ValueError(f"grid axis {name!r} is empty")
    return [Cell(mm, dd, kk, nn, float(ss), se, method, float(noise))
            for mm, dd, kk, nn, ss, se in itertools.product(*axes)]


@dataclass
class Trial:
    """A planted problem learned end to end (returned by :func:`run_trial`)."""

    cell: Cell
    planted: object
    result: object | None
    metrics: dict = field(default_factory=dict)
    X: np.ndarray | None = None  # the examples the learner was given (train and held out)
    Y: np.ndarray | None = None


def _stream(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAMS[name]]))


def run_trial(cell: Cell, *, n_test: int = 500, restarts: int = 100, progress: bool = False,
              rank: int | None = None, holdout: float = 0.2, raise_errors: bool = True) -> Trial:
    """Plant, sample, learn and measure one cell.

    Parameters
    ----------
    cell : Cell
    n_test : int
        Fresh noiseless examples for the test error.
    restarts : int
        Passed to :func:`provable_mha.learn`.
    progress : bool
        Show the learner's progress bar.
    rank : int, optional
        Low-rank planted heads (``planted_instance(..., rank=rank)``).
    holdout : float
        Fraction of the ``n`` examples held out for the certificate.
    raise_errors : bool
        If false, a :class:`~provable_mha.LearnError` is recorded in ``metrics`` (status
        ``"learn_error"``) instead of raised.

    Returns
    -------
    Trial
        ``metrics`` has the non-key columns of :data:`COLUMNS`.
    """
    import provable_mha as pm

    n_test = check_positive_int(n_test, "n_test")
    planted = pm.planted_instance(cell.m, cell.d, cell.k, scale=cell.scale, rng=cell.seed,
                                  rank=rank)
    X = pm.sample_boolean(cell.n, cell.k, cell.d, _stream(cell.seed, "train"))
    Y = planted(X)
    if cell.noise > 0:
        Y = Y + cell.noise * _stream(cell.seed, "noise").standard_normal(Y.shape)
    Xt = pm.sample_boolean(n_test, cell.k, cell.d, _stream(cell.seed, "test"))
    t0 = time.perf_counter()
    metrics: dict = {"status": "ok", "message": "", "n_test": n_test}
    try:
        res = pm.learn(X, Y, cell.m, method=cell.method, noise=cell.noise, rng=cell.seed,
                       progress=progress, restarts=restarts, holdout=holdout)
    except pm.LearnError as exc:
        if raise_errors:
            raise
        metrics.update(status="learn_error", message=str(exc).splitlines()[0][:300],
                       seconds=time.perf_counter() - t0)
        return Trial(cell, planted, None, metrics, X, Y)
    c = res.certificate
    resid = np.abs(res.layer(Xt) - planted(Xt)).max(axis=(1, 2))
    metrics.update(
        n_train=res.n_train, n_holdout=res.n_holdout, train_error=res.train_relative_error,
        holdout_error=c.relative_error, test_error=pm.relative_error(res.layer, Xt, planted(Xt)),
        head_error=pm.match_heads(planted, res.layer).max_error, certified=bool(c.certified),
        max_residual=c.max_residual, epsilon=c.epsilon, seconds=time.perf_counter() - t0,
        test_max_residual=float(resid.max()), test_exceed_rate=float(np.mean(resid > c.epsilon)))
    return Trial(cell, planted, res, metrics, X, Y)


def run_cell(cell: Cell, n_test: int = 500, restarts: int = 100) -> dict:
    """One CSV row for ``cell`` (a learner failure is a row with status ``learn_error``)."""
    trial = run_trial(cell, n_test=n_test, restarts=restarts, raise_errors=False)
    row = {**asdict(cell), **trial.metrics}
    return {c: row.get(c, "") for c in COLUMNS}


# -- the result store -----------------------------------------------------------------------
def _repair(path: Path) -> None:
    """Drop a torn last line (no trailing newline) left by a crash mid-write."""
    with open(path, "rb+") as fh:
        data = fh.read()
        if data and not data.endswith(b"\n"):
            fh.truncate(data.rfind(b"\n") + 1)


def read_results(path) -> list[dict]:
    """Rows of a sweep CSV (complete lines only); ``[]`` if the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.DictReader(io.StringIO(text)))
    if rows and set(KEY) - set(rows[0]):
        raise ValueError(f"{path} is not a sweep result file: missing columns "
                         f"{sorted(set(KEY) - set(rows[0]))}")
    return rows


def _open_store(path: Path) -> tuple[set, object]:
    done: set = set()
    if path.exists() and path.stat().st_size > 0:
        _repair(path)
        with open(path, newline="") as fh:
            header = next(csv.reader(fh), None)
        if header is not None and tuple(header) != COLUMNS:
            raise ValueError(f"{path} has columns {header}, expected {list(COLUMNS)}; "
                             "write the sweep to a new file")
        done = {cell_key(r) for r in read_results(path)}
    fresh = not path.exists() or path.stat().st_size == 0
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a", newline="")  # noqa: SIM115 - closed by run_sweep
    if fresh:
        _append(fh, COLUMNS)
    return done, fh


def _append(fh, values: Sequence) -> None:
    csv.writer(fh, lineterminator="\n").writerow(values)
    fh.flush()
    os.fsync(fh.fileno())


# -- back ends -------------------------------------------------------------------------------
def _serial(func, cells):
    for c in cells:
        yield func(c)


def _joblib(func, cells, n_jobs):
    from joblib import Parallel, delayed

    par = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator_unordered")
    yield from par(delayed(func)(c) for c in cells)


def _dask(func, cells, scheduler, n_jobs):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError("the Dask back end needs the optional extra: "
                          "pip install 'provable_mha[distributed]'") from exc
    own_cluster = own_client = None
    if isinstance(scheduler, Client):
        client = scheduler
    elif scheduler == "local":
        own_cluster = LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        client = own_client = Client(own_cluster)
    elif isinstance(scheduler, str) and "://" in scheduler:
        client = own_client = Client(scheduler, timeout="20s")
    else:
        raise ValueError(f"scheduler must be 'local', an address like tcp://host:8786 or a "
                         f"distributed.Client, got {scheduler!r}")
    try:
        futures = [client.submit(func, c, pure=False) for c in cells]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_sweep`. The store was closed holding complete rows only.

    Attributes
    ----------
    done : int
        Cells of the grid now in the file (finished before or during this call).
    total : int
        Cells in the grid.
    path : Path
        The CSV store; running the same sweep again resumes from it.
    """

    def __init__(self, done: int, total: int, path: Path) -> None:
        super().__init__(f"interrupted after {done} of {total} cells; rerun the same command to resume")
        self.done, self.total, self.path = done, total, path


def _progress_bar(total: int, done: int, progress: bool | None):
    """tqdm bar over all cells (the ones already in the file count as done): done/total, ETA."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc="sweep", unit="cell", dynamic_ncols=True,
                disable=(not progress) if progress is not None else None)


def _best(best: float, row: dict) -> float:
    """Lowest test error so far (rows of other functions may have none)."""
    try:
        err = float(row.get("test_error", "nan"))
    except (TypeError, ValueError):
        return best
    ok = row.get("status", "ok") == "ok" and np.isfinite(err)
    return min(best, err) if ok else best


def run_sweep(cells: Sequence[Cell], path, *, func: Callable[[Cell], dict] | None = None,
              n_jobs: int = 1, scheduler=None, progress: bool | None = None) -> list[dict]:
    """Run the cells not yet in ``path`` and append one row per finished cell.

    Parameters
    ----------
    cells : sequence of Cell
    path : str or Path
        CSV file; created with a header if absent, appended to otherwise.
    func : callable, optional
        ``func(cell) -> dict`` with the :data:`COLUMNS` (default :func:`run_cell`); must be
        picklable (a module-level function or :func:`functools.partial`) for parallel back ends.
    n_jobs : int
        Worker processes (joblib/loky; ``1`` runs serially in this process) or LocalCluster workers.
    scheduler : None, "local", "tcp://host:port" or distributed.Client
        Use Dask instead of joblib.
    progress : bool, optional
        Progress bar on stderr over all cells of the grid: cells done/total, rate, ETA, the best
        test error so far and the failures (default: only when stderr is a terminal).

    Returns
    -------
    list of dict
        The rows computed by this call (cells already in the file are skipped).

    Raises
    ------
    SweepInterrupted
        On Ctrl-C (a :class:`KeyboardInterrupt`): the running cells are abandoned, the file keeps
        every finished row and no torn one, and the same call resumes.
    """
    func = run_cell if func is None else func
    n_jobs = check_positive_int(n_jobs, "n_jobs")
    cells = list(cells)
    if len({c.key for c in cells}) != len(cells):
        raise ValueError("the grid contains duplicate cells")
    path = Path(path)
    done, fh = _open_store(path)
    todo = [c for c in cells if c.key not in done]
    new: list[dict] = []
    results = None
    try:
        if scheduler is not None:
            results = _dask(func, todo, scheduler, n_jobs)
        elif n_jobs > 1 and len(todo) > 1:
            results = _joblib(func, todo, n_jobs)
        else:
            results = _serial(func, todo)
        best, failed = float("inf"), 0
        with _progress_bar(len(cells), len(cells) - len(todo), progress) as bar:
            for row in results:
                _append(fh, [row.get(c, "") for c in COLUMNS])
                new.append(row)
                best = _best(best, row)
                failed += row.get("status", "ok") != "ok"
                bar.set_postfix_str(f"best test err {best:.1e}, {failed} failed"
                                    if np.isfinite(best) else f"{failed} failed", refresh=False)
                bar.update(1)
    except KeyboardInterrupt as exc:
        if results is not None:
            results.close()  # stops the back end (joblib workers, Dask client) before returning
        fh.close()  # flushes a row still in the buffer; a row cut mid-write is dropped next
        _repair(path)
        keys = {c.key for c in cells}
        finished = sum(cell_key(r) in keys for r in read_results(path))
        raise SweepInterrupted(finished, len(cells), path) from exc
    finally:
        if not fh.closed:
            fh.close()
    return new


def summarize(rows: Iterable[dict], tol: float = 1e-6) -> list[dict]:
    """Aggregate rows over seeds: success rate (test error <= ``tol``), medians, mean seconds."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        k = cell_key(r)
        groups.setdefault(k[:5] + k[6:], []).append(r)

    def num(r, c):
        try:
            return float(r[c])
        except (TypeError, ValueError):
            return float("nan")

    out = []
    for (m, d, k, n, scale, method, noise), rs in sorted(groups.items()):
        test = np.array([num(r, "test_error") for r in rs])
        ok = (r["status"] == "ok" and t <= tol for r, t in zip(rs, test, strict=True))
        out.append({"m": m, "d": d, "k": k, "n": n, "scale": scale, "method": method, "noise": noise,
                    "seeds": len(rs), "success_rate": float(np.mean(list(ok))),
                    "median_test_error": float(np.nanmedian(test)) if np.isfinite(test).any()
                    else float("nan"),
                    "mean_seconds": float(np.nanmean([num(r, "seconds") for r in rs]))})
    return out
