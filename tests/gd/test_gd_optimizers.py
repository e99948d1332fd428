"""Training as problem -> optimizer -> result: the split agrees with train(), buffers are reused."""

import numpy as np
import pytest

from provable_mha import gd


@pytest.fixture
def data():
    train_set = gd.tokenized_mixture(40, 4, 5, rng=3)
    test_set = gd.tokenized_mixture(30, 4, 5, means=train_set.info["means"], rng=4)
    return train_set, test_set


def _same_result(a, b):
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.params0, b.params0)
    assert (a.cost, a.gradient_norm, a.iterations, a.stopping_criterion) == \
        (b.cost, b.gradient_norm, b.iterations, b.stopping_criterion)
    assert a.history.keys() == b.history.keys()
    for k in a.history:
        np.testing.assert_array_equal(a.history[k], b.history[k])


@pytest.mark.parametrize("lr", [0.5, "safe"])
def test_train_is_the_optimizer_run_on_the_problem(data, lr):
    (X, y), test = data
    model = gd.MHAClassifier(3, 5, rng=0)
    problem = gd.TrainingProblem(model, X, y, X_test=test.X, y_test=test.y)
    via_split = gd.GradientDescent(12, lr, record_every=4).run(problem)
    via_train = gd.train(model, X, y, steps=12, lr=lr, record_every=4, X_test=test.X, y_test=test.y)
    _same_result(via_split, via_train)
    assert list(via_split.history["step"]) == [0, 4, 8, 12]
    sgd = gd.StochasticGradientDescent(16, 12, lr, rng=7).run(problem)
    _same_result(sgd, gd.train(model, X, y, steps=12, lr=lr, batch_size=16, rng=7,
                               X_test=test.X, y_test=test.y))
    assert not np.array_equal(sgd.params, via_split.params)  # the batches made a difference


def test_an_optimizer_is_reusable_and_does_not_touch_the_model(data):
    (X, y), _ = data
    model = gd.MHAClassifier(2, 5, rng=1)
    start = model.params.copy()
    opt = gd.StochasticGradientDescent(8, 10, 0.3, rng=2)
    first = opt.run(gd.TrainingProblem(model, X, y))
    _same_result(first, opt.run(gd.TrainingProblem(model, X, y)))  # an int seed restarts the order
    np.testing.assert_array_equal(model.params, start)
    assert first.model is not model and np.array_equal(first.model.params, first.params)
    other = opt.run(gd.TrainingProblem(model, X[:20], y[:20]))  # same settings, another problem
    assert other.iterations == 10 and not np.array_equal(other.params, first.params)


def test_step_size_rules(data):
    (X, y), _ = data
    model = gd.MHAClassifier(2, 5, rng=1)
    L = model.loss(X, y)
    assert gd.SafeStep()(model, X, L, model.params) == gd.safe_step(model, X, L)
    assert gd.FixedStep(0.25)(model, X, L, model.params) == 0.25
    res = gd.GradientDescent(5, gd.SafeStep()).run(gd.TrainingProblem(model, X, y))
    assert res.history["lr"][1] == pytest.approx(gd.safe_step(model, X, L))
    for bad in (0.0, -1.0, float("inf"), "fast"):
        with pytest.raises(ValueError, match="lr must be"):
            gd.GradientDescent(5, bad)


def test_training_step_reuses_the_scratch_buffers(data, monkeypatch):
    """The optimisation of docs/gd.md §10: every step writes into the same buffers."""
    (X, y), _ = data
    model = gd.MHAClassifier(3, 5, rng=0)
    seen: dict[str, list] = {}  # keeps every buffer alive, so equal identity means the same array
    original = gd.MHAClassifier._scratch

    def spy(self, name, shape):
        buf = original(self, name, shape)
        seen.setdefault(name, []).append(buf)
        return buf

    monkeypatch.setattr(gd.MHAClassifier, "_scratch", spy)
    res = gd.GradientDescent(6, 0.5).run(gd.TrainingProblem(model, X, y))
    assert res.iterations == 6
    assert {"TQ", "S", "V", "wa", "we", "R"} <= set(seen)
    for name, bufs in seen.items():
        assert len(bufs) >= 7 and all(b is bufs[0] for b in bufs), name  # initial point + 6 steps


def test_problem_validation_and_batches(data):
    (X, y), test = data
    model = gd.MHAClassifier(2, 5, rng=0)
    with pytest.raises(ValueError, match="model must be an MHAClassifier"):
        gd.TrainingProblem(object(), X, y)
    with pytest.raises(ValueError, match="both X_test and y_test"):
        gd.TrainingProblem(model, X, y, y_test=test.y)
    with pytest.raises(ValueError, match="token dimension"):
        gd.TrainingProblem(model, X[..., :4], y)
    p = gd.TrainingProblem(model, X, y)
    assert p.n == 40 and not p.has_test and p.loss == "logistic"
    assert np.isnan(p.test_metrics(model.params)).all()
    Xb, yb = p.batch([0, 5])
    L, g = p.cost_and_gradient(model.params, (Xb, yb))
    L2, g2 = model.loss_and_grad(X[[0, 5]], y[[0, 5]])
    assert L == pytest.approx(L2, rel=1e-14) and np.allclose(g, g2, rtol=1e-13, atol=1e-15)
    assert p.finite_cost_and_gradient(np.full(model.n_params, np.nan)) is None


def test_optimizer_validation(data):
    (X, y), _ = data
    p = gd.TrainingProblem(gd.MHAClassifier(2, 5, rng=0), X, y)
    with pytest.raises(ValueError, match="batch_size must be <= n = 40"):
        gd.StochasticGradientDescent(41, 5, 0.1).run(p)
    with pytest.raises(ValueError, match="steps must be"):
        gd.GradientDescent(-1, 0.1)
    with pytest.raises(ValueError, match="batch_size must be"):
        gd.StochasticGradientDescent(0)
    with pytest.raises(ValueError, match="rng"):
        gd.StochasticGradientDescent(4, rng="seed")
    zero = gd.GradientDescent(0, 0.1).run(p)
    assert zero.iterations == 0 and list(zero.history["step"]) == [0]
    assert np.isnan(zero.history["lr"][0]) and "max steps (0)" in zero.stopping_criterion


def test_gtol_stops_early(data):
    (X, y), _ = data
    model = gd.MHAClassifier(2, 5, rng=0)
    g0 = np.linalg.norm(model.loss_and_grad(X, y)[1])
    res = gd.GradientDescent(200, 1.0, gtol=0.5 * g0).run(gd.TrainingProblem(model, X, y))
    assert res.iterations < 200 and res.gradient_norm <= 0.5 * g0
    assert res.stopping_criterion == "gradient norm below gtol"
