"""Execute every notebook (jupytext py:percent) through a Jupyter kernel at quick size.

The kernel is the ``python3`` kernelspec of ``ipykernel``; its ``argv`` starts ``python`` from
``PATH``, so the interpreter running the tests is put first on ``PATH`` (``make test`` does not
activate the virtualenv). Figures go to a temporary ``PROVABLE_MHA_FIGURES`` directory.
"""

import os
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = {
    "01_learning.py": {"01_phase_times.png", "01_search_runs.png", "01_test_error_vs_n.png"},
    "02_lower_bounds.py": {"02_gadget_growth.png", "02_sq_dimension.png", "02_learner_cost.png"},
    "03_gd_heads.py": {"03_loss_vs_heads.png", "03_gd_path.png"},
    "04_torch_layer.py": {"04_low_rank_spectrum.png"},
    "05_linear_vs_softmax.py": {"05_design_sigma_min.png", "05_linear_vs_softmax.png"},
    "06_theory_vs_measurement.py": {"06_samples.png", "06_time.png", "06_sq_bound.png"},
    "07_structured_body.py": {"07_body_exact.png", "07_body_noisy.png"},
}


def test_every_notebook_is_listed():
    assert {p.name for p in NOTEBOOKS.glob("[0-9]*.py")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_executes(name, tmp_path, monkeypatch):
    nb = jupytext.read(NOTEBOOKS / name)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds.count("markdown") >= 3 and kinds.count("code") >= 3  # a notebook, not a script
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("PROVABLE_MHA_QUICK", "1")
    monkeypatch.setenv("PROVABLE_MHA_FIGURES", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()  # raises CellExecutionError with the traceback if any cell fails
    written = {p.name for p in tmp_path.glob("*.png") if p.stat().st_size > 1000}
    assert EXPECTED[name] <= written


def test_notebook_run_as_a_script_writes_figures_beside_itself(tmp_path):
    """``python path/to/notebook.py`` from another directory: figures go to path/to/figures/."""
    import shutil
    import subprocess

    nb_dir, elsewhere = tmp_path / "nb", tmp_path / "elsewhere"
    nb_dir.mkdir()
    elsewhere.mkdir()
    script = shutil.copy(NOTEBOOKS / "04_torch_layer.py", nb_dir)
    env = {k: v for k, v in os.environ.items() if k != "PROVABLE_MHA_FIGURES"}
    env.update(PROVABLE_MHA_QUICK="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(NOTEBOOKS.parent / "src"), env.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, os.path.relpath(script, elsewhere)], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (nb_dir / "figures" / "04_low_rank_spectrum.png").stat().st_size > 1000
    assert list(elsewhere.iterdir()) == []  # nothing written in the working directory


def test_figure_dir_is_relative_to_the_calling_script(tmp_path, monkeypatch):
    import subprocess

    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts" / "make.py"
    script.write_text("from provable_mha import plotting\nprint(plotting.figure_dir())\n"
                      "print(plotting.figure_dir('out/figs'))\n")
    env = {k: v for k, v in os.environ.items() if k != "PROVABLE_MHA_FIGURES"}
    env["PYTHONPATH"] = os.pathsep.join([str(NOTEBOOKS.parent / "src"), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    assert out == [str(tmp_path / "scripts" / "figures"), str(tmp_path / "scripts" / "out" / "figs")]
    env["PROVABLE_MHA_FIGURES"] = str(tmp_path / "chosen")
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    assert out == [str(tmp_path / "chosen")] * 2
