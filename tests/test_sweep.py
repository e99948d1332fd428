"""The sweep store: one fsync-ed row per finished cell, resumable, joblib and Dask back ends."""

import csv
import functools
import os

import pytest

from provable_mha.sweep import (
    COLUMNS,
    Cell,
    SweepInterrupted,
    grid,
    read_results,
    run_cell,
    run_sweep,
    summarize,
)

TINY = functools.partial(run_cell, n_test=50, restarts=2)


def _cells():
    # m=1, d=4, k=2: cells of ~0.1 s; n=3 is below the information limit -> a learn_error row;
    # n=40 holds out 8 examples (>= 6 distinct unseen ones are needed for a non-vacuous certificate)
    return grid([1], [4], [2], [3, 40], scale=[1.0], seed=[0, 1, 2])


def _keys(rows):
    return [Cell(int(r["m"]), int(r["d"]), int(r["k"]), int(r["n"]), float(r["scale"]),
                 int(r["seed"]), r["method"], float(r["noise"])).key for r in rows]


class Interrupt(Exception):
    pass


def _crash_after(limit, counter, cell):
    if len(counter) >= limit:
        raise Interrupt
    counter.append(cell.key)
    return TINY(cell)


def test_grid_and_cell_validation():
    cells = grid([1, 2], [4], [2], [10, 20], scale=[0.5, 1.0], seed=[0, 1])
    assert len(cells) == 16 and len({c.key for c in cells}) == 16
    with pytest.raises(ValueError, match="axis 'n' is empty"):
        grid([1], [4], [2], [])
    with pytest.raises(ValueError, match="method"):
        Cell(1, 4, 2, 10, method="exact")
    with pytest.raises(ValueError, match="m must be >= 1"):
        Cell(0, 4, 2, 10)


def test_rows_are_deterministic_and_failures_recorded():
    a, b = TINY(Cell(1, 4, 2, 40, 1.0, 1)), TINY(Cell(1, 4, 2, 40, 1.0, 1))
    assert a["status"] == "ok" and float(a["test_error"]) < 1e-8
    assert a["test_error"] == b["test_error"]  # a cell is a pure function of its key
    bad = TINY(Cell(1, 4, 2, 3, 1.0, 0))
    assert bad["status"] == "learn_error" and "too few examples" in bad["message"]


def test_interrupted_sweep_resumes_without_recomputing(tmp_path):
    path = tmp_path / "sweep.csv"
    cells = _cells()
    first: list = []
    with pytest.raises(Interrupt):  # crash after 4 cells (serial back end)
        run_sweep(cells, path, func=functools.partial(_crash_after, 4, first))
    rows = read_results(path)
    assert _keys(rows) == first and len(rows) == 4  # every finished cell is on disk
    before = path.read_bytes()
    # a crash in the middle of a write leaves a torn line; it must not count as finished
    with open(path, "a") as fh:
        fh.write("1,4,2,12,1.0,2,practical,0.0,ok,9")
    second: list = []
    new = run_sweep(cells, path, func=functools.partial(_crash_after, 99, second))
    assert len(new) == len(cells) - 4 and not set(second) & set(first)
    assert path.read_bytes().startswith(before)  # earlier rows untouched
    rows = read_results(path)
    assert sorted(_keys(rows)) == sorted(c.key for c in cells)  # all cells, no duplicates
    third: list = []
    assert run_sweep(cells, path, func=functools.partial(_crash_after, 99, third)) == []
    assert third == []
    with open(path, newline="") as fh:
        assert tuple(next(csv.reader(fh))) == COLUMNS
    summary = summarize(rows)
    assert {(s["n"], s["success_rate"]) for s in summary} == {(3, 0.0), (40, 1.0)}


def _ctrl_c_after(limit, counter, cell):
    if len(counter) >= limit:
        raise KeyboardInterrupt
    counter.append(cell.key)
    return TINY(cell)


def test_ctrl_c_raises_sweep_interrupted_with_counts_and_a_closed_store(tmp_path):
    path = tmp_path / "sweep.csv"
    cells = _cells()
    run_sweep(cells[:1], path, func=TINY)  # one cell finished by an earlier run
    first: list = []
    with pytest.raises(SweepInterrupted) as info:
        run_sweep(cells, path, func=functools.partial(_ctrl_c_after, 2, first))
    exc = info.value
    assert isinstance(exc, KeyboardInterrupt)  # code that catches Ctrl-C still sees one
    assert (exc.done, exc.total, exc.path) == (3, len(cells), path)
    assert str(exc) == f"interrupted after 3 of {len(cells)} cells; rerun the same command to resume"
    text = path.read_text()
    assert text.endswith("\n") and len(read_results(path)) == 3 == len(text.splitlines()) - 1
    rest: list = []
    new = run_sweep(cells, path, func=functools.partial(_ctrl_c_after, 99, rest))
    assert len(new) == len(cells) - 3 and not set(rest) & set(first)


def test_progress_bar_counts_all_cells_and_reports_the_best_error(tmp_path, capsys):
    cells = grid([1], [4], [2], [3, 40], seed=[0, 1])
    run_sweep(cells[:1], tmp_path / "p.csv", func=TINY, progress=False)
    assert capsys.readouterr().err == ""
    run_sweep(cells, tmp_path / "p.csv", func=TINY, progress=True)
    err = capsys.readouterr().err
    assert "sweep" in err and "1/4" in err and "4/4" in err  # resumed cells count as done
    assert "best test err" in err and "1 failed" in err  # n=3 is below the information limit


def test_foreign_file_is_refused(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="columns"):
        run_sweep(_cells()[:1], path, func=TINY)


def test_joblib_backend_matches_serial(tmp_path):
    cells = grid([1], [4], [2], [40], seed=[0, 1, 2, 3])
    run_sweep(cells[:1], tmp_path / "a.csv", func=TINY)  # one cell done before
    new = run_sweep(cells, tmp_path / "a.csv", func=TINY, n_jobs=2)
    assert len(new) == 3
    rows = read_results(tmp_path / "a.csv")
    assert sorted(_keys(rows)) == sorted(c.key for c in cells)
    serial = {c.key: TINY(c) for c in cells}
    for r, k in zip(rows, _keys(rows), strict=True):
        # the same outcome per cell: a refused fit (learn_error) in one back end is refused in the other
        assert r["status"] == serial[k]["status"]
        if r["status"] == "ok":
            assert float(r["test_error"]) == pytest.approx(float(serial[k]["test_error"]), rel=1e-6, abs=1e-14)
    assert any(r["status"] == "ok" for r in rows)


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    cells = grid([1], [4], [2], [40], seed=[0, 1, 2])
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        run_sweep(cells[:1], tmp_path / "d.csv", func=TINY, scheduler=client)
        new = run_sweep(cells, tmp_path / "d.csv", func=TINY, scheduler=client)
    assert len(new) == 2
    rows = read_results(tmp_path / "d.csv")
    assert sorted(_keys(rows)) == sorted(c.key for c in cells)
    assert all(r["status"] == "ok" and float(r["test_error"]) < 1e-8 for r in rows)
    assert os.path.getsize(tmp_path / "d.csv") > 0


def test_bad_scheduler(tmp_path):
    with pytest.raises(ValueError, match="scheduler"):
        run_sweep(_cells()[:1], tmp_path / "x.csv", func=TINY, scheduler="nowhere")
