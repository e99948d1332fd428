"""README.md: the results block is generated from benchmarks/results/*.csv and up to date."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("update_readme", ROOT / "benchmarks" / "update_readme.py")
update_readme = importlib.util.module_from_spec(spec)
spec.loader.exec_module(update_readme)


def test_results_block_is_current():
    # on failure: run `python benchmarks/update_readme.py` and commit README.md
    assert update_readme.main(["--check"]) == 0


def test_block_is_generated_from_csv(tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    (res / "b.csv").write_text("method,n,seconds,cpus\nours,10,0.123456,2\nbase,10,1.5,2\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nintro\n{update_readme.BEGIN}\nstale\n{update_readme.END}\ntail\n")
    assert update_readme.main(["--readme", str(readme), "--results", str(res), "--check"]) == 1
    assert update_readme.main(["--readme", str(readme), "--results", str(res)]) == 0
    text = readme.read_text()
    assert "stale" not in text and text.endswith("tail\n") and text.startswith("# x\n\nintro\n")
    assert "| ours | 0.123 |" in text and "In every row: n = 10, cpus = 2." in text
    assert update_readme.main(["--readme", str(readme), "--results", str(res), "--check"]) == 0


def test_readme_starts_with_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    first_block = text.split("```bash", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block and "make test" in first_block


def test_readme_python_example_runs(tmp_path, monkeypatch):
    """The first ```python block of the README executes as written (in a scratch directory)."""
    text = (Path(__file__).parents[1] / "README.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
