"""The NTK margin SOCP goes through provable_mha.solvers.solve: solver choice, status and errors."""

import numpy as np
import pytest

import provable_mha as pm
from provable_mha import gd, solvers
from provable_mha.gd import ntk


@pytest.fixture
def instance():
    rng = np.random.default_rng(0)
    model = gd.MHAClassifier(2, 3, rng=1)
    X = rng.standard_normal((6, 3, 3))
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    return model, X, y


def test_margin_is_solved_by_solvers_solve(instance, monkeypatch):
    calls = []

    def spy(problem, kind="lp", solver=None, allow_infeasible=False):
        calls.append((kind, solver))
        return solvers.solve(problem, kind, solver, allow_infeasible)

    monkeypatch.setattr(ntk, "solve", spy)
    res = gd.ntk_margin(*instance)
    assert calls == [("socp", "CLARABEL")]
    assert res.solver == "CLARABEL" and res.status == "optimal"
    assert res.achieved == pytest.approx(res.gamma, rel=1e-6, abs=1e-9)  # solver's γ is the NumPy min margin


def test_margin_agrees_across_solvers(instance):
    """Clarabel (default, ``solver=None`` too) and SCS find the same optimal margin."""
    a = gd.ntk_margin(*instance)
    b = gd.ntk_margin(*instance, solver="SCS")
    c = gd.ntk_margin(*instance, solver=None)
    assert b.solver == "SCS" and c.solver == "CLARABEL"
    assert a.separable and b.gamma == pytest.approx(a.gamma, rel=1e-4)
    assert c.gamma == a.gamma


@pytest.mark.parametrize("name, msg", [("NOPE", "not installed"),
                                       ("HIGHS", "cannot solve second-order-cone")])
def test_bad_solver_name_is_a_value_error_before_any_work(instance, monkeypatch, name, msg):
    model, X, y = instance
    monkeypatch.setattr(model, "output_gradient", lambda *a, **k: pytest.fail("features computed"))
    with pytest.raises(ValueError, match=msg):
        gd.ntk_margin(model, X, y, solver=name)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_solver_failure_raises_learn_error(instance, monkeypatch):
    """Clarabel limited to 0 iterations (status user_limit), SCS given an invalid option: no solver succeeds."""
    monkeypatch.setattr(solvers, "_opts", lambda name: {"max_iter": 0} if name == "CLARABEL" else {"max_iters": 0})
    with pytest.raises(pm.LearnError, match="NTK margin SOCP") as err:
        gd.ntk_margin(*instance)
    assert err.value.diagnosis["program"] == "ntk_margin"
    assert err.value.diagnosis["solvers_tried"] == ["CLARABEL", "SCS"]
