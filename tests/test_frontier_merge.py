"""benchmarks/frontier.py --merge-from: a group scanned in another checkout replaces exactly its cells."""

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import frontier  # noqa: E402  (a script beside its siblings, importable once benchmarks/ is on the path)
import sample_complexity as sc  # noqa: E402


def _write(res: Path, tag: str) -> None:
    (res / "raw").mkdir(parents=True)
    runs = [{"m": c.m, "d": c.d, "k": c.k, "scale": c.scale, "seed": 0, "error": tag} for c in frontier.GRID]
    sc.write_csv(res / "raw" / "frontier_runs.csv", runs, frontier.RUN_FIELDS)
    base = [{"cell": c.label, "method": "adam", "note": tag} for c in frontier.GRID]
    sc.write_csv(res / "raw" / "frontier_baseline_runs.csv", base, frontier.BASE_RUN_FIELDS)
    mem = [{"cell": c.label, "load": tag} for c in frontier.GRID if c.corner]
    sc.write_csv(res / "frontier_memory.csv", mem, frontier.MEMORY_FIELDS)


def _merged(tmp_path, monkeypatch, groups) -> Path:
    """Two checkouts' results ("main", "other"); ``groups`` merged from the other into main; main's path."""
    here, there = tmp_path / "main", tmp_path / "other"
    _write(here, "main")
    _write(there, "other")
    monkeypatch.setattr(sc, "RESULTS", here)
    frontier.merge(frontier.GRID, "", groups, there)
    return here


def _label(r: dict) -> str:
    """The label of the cell a per-call row belongs to (``frontier.Cell.label``)."""
    return frontier.Cell(*frontier._key(r)).label


def test_merge_takes_the_groups_cells_and_keeps_the_rest(tmp_path, monkeypatch):
    here = _merged(tmp_path, monkeypatch, ["corner"])
    corner = {c.label for c in frontier.GRID if c.group == "corner"}
    runs = sc.read_csv(here / "raw" / "frontier_runs.csv")
    assert len(runs) == len(frontier.GRID)
    for r in runs:
        assert r["error"] == ("other" if _label(r) in corner else "main")
    base = sc.read_csv(here / "raw" / "frontier_baseline_runs.csv")
    assert sorted(r["cell"] for r in base if r["note"] == "other") == sorted(corner)
    assert {r["load"] for r in sc.read_csv(here / "frontier_memory.csv")} == {"other"}


def test_merge_by_cell_label_takes_only_that_cell(tmp_path, monkeypatch):
    here = _merged(tmp_path, monkeypatch, ["(8,64,16,1)"])
    runs = sc.read_csv(here / "raw" / "frontier_runs.csv")
    assert [_label(r) for r in runs if r["error"] == "other"] == ["(8,64,16,1)"] and len(runs) == len(frontier.GRID)
    assert [r["cell"] for r in sc.read_csv(here / "frontier_memory.csv") if r["load"] == "other"] == ["(8,64,16,1)"]


def test_a_cap_at_the_goal_multiple_counts_despite_the_csvs_rounding():
    """A baseline stopped at a cap of 50x our median is a >= 50x result even when the 4-digit CSV values
    give 49.99x; a cap clearly below the goal leaves the target untested."""
    cell = next(c for c in frontier.GRID if c.label == "(8,64,16,1)")
    row = {"method": "adam", "successes": "0/1", "finished": "0/1", "varpro_first_jacobian_s": "",
           "ours_median_seconds": 49.73, "outcome": "did not finish", "ratio_to_ours": 50.0}
    assert frontier._speed_target(cell, {**row, "cap_multiple": round(2486 / 49.73, 2)})["met"] == "yes"
    assert frontier._speed_target(cell, {**row, "cap_multiple": 31.65})["met"].startswith("untested")
