import numpy as np
import pytest

import provable_mha as pm


def test_boolean_sampler_is_reproducible_and_boolean():
    a = pm.sample_boolean(50, 4, 6, 3)
    b = pm.sample_boolean(50, 4, 6, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float64 and a.shape == (50, 4, 6)
    assert set(np.unique(a)) == {-1.0, 1.0}
    assert not np.array_equal(a, pm.sample_boolean(50, 4, 6, 4))


def test_boolean_sampler_is_unbiased():
    # each entry is +-1 with prob 1/2: the mean of 60000 entries has sd 1/sqrt(60000) ~ 0.004
    x = pm.sample_boolean(1000, 6, 10, 0)
    assert abs(x.mean()) < 5 * x.size**-0.5


def test_gaussian_sampler():
    x = pm.sample_gaussian(2000, 3, 5, 1)
    assert x.shape == (2000, 3, 5)
    assert abs(x.std() - 1) < 0.02
    np.testing.assert_array_equal(x, pm.sample_gaussian(2000, 3, 5, 1))


@pytest.mark.parametrize("args, match", [((0, 2, 2), "n must be >= 1"), ((2, 2.5, 2), "k must be an integer"),
                                          ((2, 2, -1), "d must be >= 1")])
def test_sampler_rejects_bad_sizes(args, match):
    with pytest.raises(ValueError, match=match):
        pm.sample_boolean(*args, rng=0)


def test_sampler_rejects_bad_rng():
    with pytest.raises(ValueError, match="rng"):
        pm.sample_boolean(2, 2, 2, rng="seed")


def test_relative_error():
    layer = pm.planted_instance(2, 6, 3, rng=0)
    X = pm.sample_boolean(10, 3, 6, 0)
    Y = layer(X)
    assert pm.relative_error(layer, X, Y) == 0.0
    assert pm.relative_error(layer, X, 2 * Y) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shape"):
        pm.relative_error(layer, X, Y[:5])
    with pytest.raises(ValueError, match="zero"):
        pm.relative_error(layer, X, np.zeros_like(Y))
