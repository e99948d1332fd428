"""The renamed public names of gd (W -> thetas, theta -> params) keep working for one release, with a warning."""

import numpy as np
import pytest

from provable_mha import gd


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    model = gd.MHAClassifier(2, 3, rng=1)
    X = rng.standard_normal((5, 4, 3))
    y = np.where(rng.random(5) < 0.5, 1.0, -1.0)
    other = model.params + 0.1 * rng.standard_normal(model.n_params)
    return model, X, y, other


def test_constructor_and_pack_accept_W(setup):
    model = setup[0]
    with pytest.warns(DeprecationWarning, match="'W'.*use 'thetas'"):
        old = gd.MHAClassifier(2, 3, U=model.U, W=model.thetas)
    np.testing.assert_array_equal(old.params, model.params)
    with pytest.warns(DeprecationWarning, match="'W'"):
        np.testing.assert_array_equal(model.pack(model.U, W=model.thetas), model.params)
    with pytest.raises(TypeError, match="both 'thetas' and its deprecated alias 'W'"):
        gd.MHAClassifier(2, 3, U=model.U, W=model.thetas, thetas=model.thetas)


def test_attributes_W_and_theta(setup):
    model, _, _, other = setup
    with pytest.warns(DeprecationWarning, match="attribute 'W'"):
        np.testing.assert_array_equal(model.W, model.thetas)
    with pytest.warns(DeprecationWarning, match="attribute 'theta'.*use 'params'"):
        np.testing.assert_array_equal(model.theta, model.params)
    with pytest.warns(DeprecationWarning, match="attribute 'theta'"):
        model.theta = other
    np.testing.assert_array_equal(model.params, other)
    with pytest.raises(AttributeError):  # W was read-only before as well
        model.W = model.thetas


@pytest.mark.parametrize("method, args", [
    ("decision_function", "X"), ("attention", "X"), ("predict", "X"), ("output_gradient", "X"),
    ("loss", "Xy"), ("loss_and_grad", "Xy"), ("hvp", "Xyv"), ("output_hvp", "Xv"),
    ("unpack", ""), ("is_symmetric", ""),
])
def test_methods_accept_theta_keyword(setup, method, args):
    model, X, y, other = setup
    v = np.linspace(-1, 1, model.n_params)
    pos = {"": (), "X": (X,), "Xy": (X, y), "Xyv": (X, y, v), "Xv": (X, v)}[args]
    new = getattr(model, method)(*pos, params=other)
    with pytest.warns(DeprecationWarning, match="'theta'.*use 'params'"):
        old = getattr(model, method)(*pos, theta=other)
    pairs = zip(new, old, strict=True) if isinstance(new, tuple) else [(new, old)]
    for a, b in pairs:
        np.testing.assert_array_equal(a, b)
    if method == "decision_function":  # and the new keyword really is used
        assert not np.array_equal(new, model.decision_function(X))


def test_copy_accepts_theta_keyword(setup):
    model, _, _, other = setup
    with pytest.warns(DeprecationWarning):
        np.testing.assert_array_equal(model.copy(theta=other).params, other)


def test_module_functions_accept_theta_keyword(setup):
    model, X, y, other = setup
    L = model.loss(X, y, other)
    with pytest.warns(DeprecationWarning):
        assert gd.model_constants(model, X, theta=other) == gd.model_constants(model, X, params=other)
    with pytest.warns(DeprecationWarning):
        assert gd.safe_step(model, X, L, theta=other) == gd.safe_step(model, X, L, params=other)
    with pytest.warns(DeprecationWarning):
        np.testing.assert_array_equal(gd.ntk_features(model, X, theta=other),
                                      gd.ntk_features(model, X, params=other))
    with pytest.warns(DeprecationWarning):
        old = gd.ntk_margin(model, X, y, theta=other)
    assert old.gamma == pytest.approx(gd.ntk_margin(model, X, y, params=other).gamma, rel=1e-9)


def test_train_result_theta_aliases(setup):
    model, X, y, _ = setup
    res = gd.train(model, X, y, steps=3, lr=0.5)
    with pytest.warns(DeprecationWarning, match="'theta'"):
        assert res.theta is res.params
    with pytest.warns(DeprecationWarning, match="'theta0'"):
        assert res.theta0 is res.params0
    assert res.point is res.params


def test_new_names_do_not_warn(setup, recwarn):
    model, X, y, other = setup
    gd.MHAClassifier(2, 3, U=model.U, thetas=model.thetas).loss(X, y, params=other)
    assert gd.train(model, X, y, steps=2, lr="safe").params.shape == (model.n_params,)
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]
