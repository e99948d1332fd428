"""GD/SGD: monotone descent under the step-size condition, head symmetry, the training bound."""

import numpy as np
import pytest
from _gd_strategies import problems
from hypothesis import given, settings

from provable_mha import gd


@given(problems(max_H=4, max_d=4, max_T=4, max_n=6))
def test_safe_step_gd_decreases_the_loss_monotonically(prob):
    model, X, y = prob
    res = gd.train(model, X, y, steps=15, lr="safe")
    L = res.history["loss"]
    assert np.all(np.diff(L) <= 1e-12 * L[:-1])
    # the step actually used satisfies the descent-lemma guarantee L+ <= L - eta/2 |g|^2
    eta, g = res.history["lr"][1:], res.history["grad_norm"][:-1]
    assert np.all(L[1:] <= L[:-1] - 0.5 * eta * g**2 + 1e-12 * L[:-1])
    assert np.all(eta > 0)


def test_fixed_step_within_the_condition_along_the_path_decreases():
    X, y = gd.tokenized_mixture(40, 5, 6, rng=1)
    model = gd.MHAClassifier(4, 6, rng=2, init_scale=2.0)
    eta = gd.safe_step(model, X, model.loss(X, y)) / 2
    res = gd.train(model, X, y, steps=40, lr=eta, record_every=1)
    # recheck the hypothesis a posteriori at every iterate: eta <= 1/rho(B) on each segment
    traj = [model.params]
    th = model.params
    for _ in range(40):
        L, g = model.loss_and_grad(X, y, th)
        B = max(np.linalg.norm(model.unpack(th)[0], axis=1).max(),
                np.linalg.norm(model.unpack(th - eta * g)[0], axis=1).max())
        assert eta <= gd.constants(gd.token_radius(X), B, 4).max_step
        th = th - eta * g
        traj.append(th)
    np.testing.assert_allclose(res.params, traj[-1], rtol=1e-12, atol=1e-14)
    assert np.all(np.diff(res.history["loss"]) < 0)


@given(problems(max_H=4, max_d=3, max_T=3, max_n=5))
@settings(max_examples=8)
def test_symmetric_initialisation_stays_symmetric(prob):
    model, X, y = prob
    sym = gd.MHAClassifier(model.H, model.d, model.normalization, model.query, rng=1,
                           init_scale=1.0, symmetric=True)
    assert sym.is_symmetric()
    res = gd.train(sym, X, y, steps=10, lr=0.5)
    assert res.model.is_symmetric(rtol=1e-10)


def test_zero_init_has_zero_attention_gradient():
    X, y = gd.tokenized_mixture(30, 4, 5, rng=0)
    m = gd.MHAClassifier(3, 5, init_scale=0.0)
    _, g = m.loss_and_grad(X, y)
    gU, gTh = m.unpack(g)
    assert np.all(gTh == 0) and np.linalg.norm(gU) > 0
    res = gd.train(m, X, y, steps=5, lr=1.0)
    assert res.model.is_symmetric(rtol=1e-10)


@pytest.mark.parametrize("H, S, steps", [(256, 0.02, 300), (512, 0.02, 500)])
def test_trained_loss_below_the_certified_training_bound(H, S, steps):
    X, y = gd.tokenized_mixture(8, 3, 3, signal_tokens=2, signal_strength=S,
                                noise_std=0.1 * S, rng=0)
    model = gd.MHAClassifier(H, 3, rng=1)
    cb = gd.ntk_training_bound(model, X, y, steps)
    assert cb.valid, cb.detail          # the hypotheses of Theorem T hold here
    assert cb.bound < model.loss(X, y)  # and the bound says something
    res = gd.train(model, X, y, steps=steps, lr=cb.eta)
    assert res.cost <= cb.bound
    assert np.mean(res.history["loss"][1:]) <= cb.bound  # the averaged form of the theorem
    comparator = model.params + cb.radius * cb.margin.direction
    assert np.linalg.norm(res.params - comparator) ** 2 <= cb.detail.A


def test_sgd_history_and_result_fields():
    data = gd.tokenized_mixture(60, 4, 6, rng=3)
    test = gd.tokenized_mixture(100, 4, 6, means=data.info["means"], rng=4)
    m = gd.MHAClassifier(2, 6, rng=0)
    res = gd.train(m, *data, steps=30, lr=0.5, batch_size=16, X_test=test.X, y_test=test.y,
                   record_every=10, rng=0)
    assert list(res.history["step"]) == [0, 10, 20, 30]
    assert res.iterations == 30 and "max steps" in res.stopping_criterion
    assert np.all(np.isfinite(res.history["test_loss"]))
    assert res.history["dist"][0] == 0 and res.history["dist"][-1] > 0
    np.testing.assert_array_equal(m.params, res.params0)  # input model untouched
    assert res.point is res.params and res.cost == pytest.approx(res.model.loss(*data))
    again = gd.train(m, *data, steps=30, lr=0.5, batch_size=16, record_every=10, rng=0)
    np.testing.assert_array_equal(again.params, res.params)


def test_loss_tol_stops_early():
    data = gd.tokenized_mixture(40, 4, 6, rng=3)
    res = gd.train(gd.MHAClassifier(2, 6, rng=0), *data, steps=500, lr=2.0, loss_tol=0.3)
    assert res.iterations < 500 and res.cost <= 0.3 and "loss_tol" in res.stopping_criterion


@pytest.mark.parametrize("kwargs, msg", [
    ({"lr": -1.0}, "lr must be"), ({"lr": "fast"}, "lr must be"),
    ({"batch_size": 100}, "batch_size must be <="), ({"steps": -1}, "steps must be"),
    ({"X_test": np.ones((2, 3, 4))}, "both X_test and y_test"),
])
def test_train_rejects_bad_arguments(kwargs, msg):
    X, y = gd.tokenized_mixture(10, 3, 4, rng=0)
    with pytest.raises(ValueError, match=msg):
        gd.train(gd.MHAClassifier(2, 4, rng=0), X, y, **kwargs)


def test_non_finite_values_are_reported():
    X, y = gd.tokenized_mixture(10, 3, 4, signal_strength=1e160, rng=0)
    with pytest.raises(ValueError, match="not finite at the initial point"):
        gd.train(gd.MHAClassifier(2, 4, rng=0), X, y, steps=2, lr=1.0)
    X, y = gd.tokenized_mixture(10, 3, 4, signal_strength=1e100, rng=0)
    with pytest.raises(ValueError, match="diverged"):
        gd.train(gd.MHAClassifier(2, 4, rng=0, init_scale=3.0), X, y, steps=20, lr=1e200)
