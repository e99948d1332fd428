"""plotting: one style for every figure, one quantity per axis, legends in words, saved where asked."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from provable_mha import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_every_plot_function_draws_in_the_style():
    names = [n for n in plotting.__all__ if n.startswith("plot_")]
    assert len(names) >= 6
    for name in names:
        assert getattr(getattr(plotting, name), "styled", False), f"{name} lacks @styled"


def test_style_is_applied_and_restored():
    before = matplotlib.rcParams["axes.spines.top"]
    fig = plotting.plot_curves([1, 2, 3], {"error": [1e-3, 1e-4, 1e-5]}, xlabel="n", ylabel="error")
    ax = fig.axes[0]
    assert not ax.spines["top"].get_visible() and ax.xaxis.get_gridlines()[0].get_visible()
    assert ax.xaxis.label.get_fontsize() == plotting.STYLE["axes.labelsize"]
    assert matplotlib.rcParams["axes.spines.top"] == before  # the style does not leak


def test_different_quantities_get_different_axes():
    steps = np.arange(5)
    # the GD-path figure of notebook 03: loss and gradient norm are two quantities
    fig = plotting.plot_curves(steps, {"loss": np.exp(-steps), "||grad||": 0.1 * np.exp(-steps)},
                               xlabel="GD step", ylabel="value")
    assert len(fig.axes) == 2 and [len(a.lines) for a in fig.axes] == [1, 1]
    assert [a.get_ylabel() for a in fig.axes] == ["loss", "||grad||"]
    fig = plotting.plot_curves(steps, {"a": steps + 1, "b": steps + 2}, xlabel="x",
                               ylabel={"a": "time (s)", "b": "time (s)"})
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2 and fig.axes[0].get_legend()
    fig = plotting.plot_curves(steps, {"best": steps + 1, "worst": steps + 2}, xlabel="x",
                               ylabel="error", same_quantity=True)
    assert len(fig.axes) == 1 and fig.axes[0].get_ylabel() == "error"
    with pytest.raises(ValueError, match="axes"):
        _, ax = plt.subplots()
        plotting.plot_curves(steps, {"a": steps, "b": steps}, xlabel="x", ylabel="y", ax=ax)
    with pytest.raises(ValueError, match="no label"):
        plotting.plot_curves(steps, {"a": steps}, xlabel="x", ylabel={"b": "y"})


def _summary():
    rows = []
    for method in ("practical", "structured"):
        for n, err, rate in ((20, 1e-3, 0.0), (40, 1e-12, 1.0)):
            rows.append({"m": 2, "d": 8, "k": 4, "n": n, "scale": 1.0, "method": method, "noise": 0.0,
                         "seeds": 3, "success_rate": rate, "median_test_error": err, "mean_seconds": 0.1})
    return rows


def test_sweep_figure_names_methods_and_explains_the_threshold(tmp_path):
    path = tmp_path / "runs.png"
    fig = plotting.plot_sweep(_summary(), path, tol=1e-6)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("practical search" in t for t in labels) and any("structured" in t for t in labels)
    assert "success threshold: test error <= 1e-06" in labels
    err_ax, rate_ax = fig.axes
    assert any(np.allclose(line.get_ydata(), 1e-6) for line in err_ax.lines)
    assert "dimensionless" in err_ax.get_ylabel() and "fraction" in rate_ax.get_ylabel()
    assert path.stat().st_size > 1000


@pytest.mark.parametrize("name, fmt, magic", [("f.png", "png", b"\x89PNG"), ("f.svg", "svg", b"<?xml"),
                                              ("noext", "png", b"\x89PNG")])
def test_saved_exactly_where_asked(tmp_path, name, fmt, magic):
    fig = plotting.plot_curves([1, 2], {"y": [1, 2]}, xlabel="x", ylabel="y", path=tmp_path / name)
    assert fig is not None
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no suffix appended
    assert (tmp_path / name).read_bytes().startswith(magic)


def test_singular_values_figure(tmp_path):
    import provable_mha as pm

    layer = pm.planted_instance(2, 8, 4, rng=0, rank=4)
    fig = plotting.plot_singular_values({"planted": layer}, path=tmp_path / "sv.png")
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and "singular value" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["head 0", "head 1"]
