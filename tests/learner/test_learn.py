"""End-to-end checks of pm.learn (the api: validation, dispatch, refine, certify) on planted instances."""

import numpy as np
import pytest
from scipy.stats import binomtest

import provable_mha as pm
from provable_mha.learner import min_examples

N_HOLDOUT = 10  # held-out examples in every test: enough for a non-vacuous certificate


def learn(X, Y, m, **kwargs):
    """pm.learn with exactly N_HOLDOUT held-out examples (so n_train is what _data planned)."""
    kwargs.setdefault("holdout", N_HOLDOUT / len(X))
    return pm.learn(X, Y, m, **kwargs)


def _data(m, d, k, scale, seed, factor=3, noise=0.0, rank=None):
    layer = pm.planted_instance(m, d, k, scale, rng=seed, rank=rank)
    n_train = factor * min_examples(m, d, k)
    n = n_train + N_HOLDOUT
    X = pm.sample_boolean(n, k, d, seed + 1000)
    Y = layer(X)
    if noise:
        Y = Y + noise * np.random.default_rng(seed + 2000).standard_normal(Y.shape)
    Xt = pm.sample_boolean(2000, k, d, seed + 3000)
    return layer, X, Y, Xt, layer(Xt)


@pytest.mark.parametrize("m, d, k, scale", [(1, 8, 4, 0.5), (2, 8, 4, 3.0), (3, 8, 4, 2.0), (2, 16, 8, 1.0),
                                            (4, 16, 8, 2.0)])
def test_recovers_target_shapes_with_3x_information_limit(m, d, k, scale):
    layer, X, Y, Xt, Yt = _data(m, d, k, scale, seed=11)
    res = learn(X, Y, m, rng=0)
    assert res.n_train <= 3 * min_examples(m, d, k)
    assert pm.relative_error(res, Xt, Yt) <= 1e-8
    assert pm.match_heads(layer, res.layer).max_error <= 1e-6
    assert res.certificate.certified and not res.certificate.vacuous
    assert res.certificate.param_radius is None  # the practical method builds no body
    assert [p.name for p in res.phases] == ["search", "refine", "certify"]


def test_success_rate_binomial():
    """Claim: on planted (2, 8, 4) instances, scale in [0.5, 3], at 3x the 2md/k limit, learn
    succeeds (test error <= 1e-8) with probability >= 0.95.

    20 fixed seeds; the claim is rejected at level 0.05 when the count is implausibly low for it
    (P[X <= 16 | p = 0.95] = 0.016, so 17 successes are needed).
    """
    scales = np.linspace(0.5, 3.0, 20)
    ok = 0
    for seed, s in enumerate(scales):
        layer, X, Y, Xt, Yt = _data(2, 8, 4, float(s), seed=100 + seed)
        try:
            res = learn(X, Y, 2, rng=seed)
        except pm.LearnError:
            continue
        ok += pm.relative_error(res, Xt, Yt) <= 1e-8
    assert binomtest(ok, len(scales), 0.95, alternative="less").pvalue > 0.05, ok


def test_low_rank_scaled_dot_product_heads():
    m, d, k = 2, 8, 4
    layer, X, Y, Xt, Yt = _data(m, d, k, 1.5, seed=5, rank=d // m)
    res = learn(X, Y, m, rng=1)
    assert pm.relative_error(res, Xt, Yt) <= 1e-8
    assert pm.match_heads(layer, res.layer).max_error <= 1e-6


def test_noise_error_scales_with_sigma():
    errs = []
    for sigma in (1e-3, 1e-2):
        layer, X, Y, Xt, Yt = _data(2, 8, 4, 1.0, seed=3, factor=6, noise=sigma)
        res = learn(X, Y, 2, rng=0, noise=sigma)
        assert res.certificate.certified, res.certificate.statement
        errs.append(pm.relative_error(res, Xt, Yt))
    # error is linear in sigma: a 10x larger sigma gives 3x to 30x the test error
    assert 3 < errs[1] / errs[0] < 30, errs
    assert errs[1] < 0.05


def test_not_realisable_raises_learn_error():
    layer, X, Y, _, _ = _data(3, 8, 4, 2.0, seed=4, factor=4)
    with pytest.raises(pm.LearnError, match="no 1-head layer") as info:
        learn(X, Y, 1, rng=0, restarts=2)
    assert info.value.diagnosis["train_relative_error"] > 1e-3


def test_understated_noise_is_not_certified():
    layer, X, Y, Xt, Yt = _data(1, 6, 3, 1.0, seed=6, factor=4, noise=1e-2)
    with pytest.raises(pm.LearnError):
        learn(X, Y, 1, rng=0, restarts=1)  # noise=0 claimed: no fit reaches 1e-10
    res = learn(X, Y, 1, rng=0, restarts=1, strict=False)
    assert not res.certificate.certified


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(m=0), ValueError, "m must be >= 1"),
        (dict(m=2, method="fast"), ValueError, "method"),
        (dict(m=2, delta=0.0), ValueError, "delta"),
        (dict(m=2, restarts=0), ValueError, "restarts"),
        (dict(m=2, label_bound=-1.0), ValueError, "label_bound"),
        (dict(m=2, method="structured", bogus=1), ValueError, "unknown options"),
        (dict(m=2, holdout=1.5), ValueError, "holdout"),
        (dict(m=2, noise=-1.0), ValueError, "noise"),
        (dict(m=2, solver="NOPE"), ValueError, "not installed"),
        (dict(m=20), pm.LearnError, "too few examples"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    layer, X, Y, _, _ = _data(2, 6, 3, 1.0, seed=1)
    with pytest.raises(exc, match=match):
        learn(X, Y, **kwargs)


def test_bad_data():
    layer, X, Y, _, _ = _data(1, 4, 2, 1.0, seed=1)
    with pytest.raises(ValueError, match="Boolean"):
        learn(X * 0.5, Y, 1)
    with pytest.raises(ValueError, match="same shape"):
        learn(X, Y[:, :, :3], 1)
    with pytest.raises(ValueError, match="NaN"):
        learn(X, np.full_like(Y, np.nan), 1)
    with pytest.raises(ValueError, match=r"\(n, k, d\)"):
        learn(X[0], Y[0], 1)


def test_result_round_trip_and_progress(tmp_path, capsys):
    layer, X, Y, Xt, Yt = _data(2, 6, 3, 1.0, seed=2)
    res = learn(X, Y, 2, rng=3, progress=True)
    path = pm.save(res, tmp_path / "res.npz", seed=3)
    back = pm.load(path)
    assert isinstance(back, pm.LearnResult)
    assert back.layer == res.layer
    assert back.certificate == res.certificate
    assert [p.name for p in back.phases] == [p.name for p in res.phases]
    assert back.phases[0].info["runs"] == res.phases[0].info["runs"]
    assert "certificate" in res.summary()


def test_same_seed_same_result():
    layer, X, Y, _, _ = _data(2, 6, 3, 1.0, seed=9)
    a = learn(X, Y, 2, rng=4)
    b = learn(X, Y, 2, rng=4)
    assert a.layer == b.layer


def test_fit_that_fails_holdout_is_refused():
    """An exact training fit whose held-out labels come from another layer is refused, not certified.

    The held-out rows are the ones ``learn``'s split (``api.split_indices``) holds out; only their
    labels are replaced, so training is consistent with ``layer`` and the fit is exact.
    """
    from provable_mha.learner.api import split_indices

    layer, other = pm.planted_instance(2, 8, 4, rng=3), pm.planted_instance(2, 8, 4, rng=4)
    X = pm.sample_boolean(60, 4, 8, 2)
    held = split_indices(60, 0.2, np.random.default_rng(0))[1]
    Y = layer(X)
    Y[held] = other(X[held])
    with pytest.raises(pm.LearnError, match="not certified") as info:
        learn(X, Y, 2, rng=0, holdout=0.2)
    res = info.value.diagnosis["result"]
    assert not res.certificate.certified
    assert res.train_relative_error < 1e-8 < res.certificate.max_residual


def test_mode_is_a_deprecated_alias_of_method():
    layer, X, Y, Xt, Yt = _data(1, 8, 4, 1.0, seed=21, factor=4)
    with pytest.warns(DeprecationWarning, match="method"):
        res = learn(X, Y, 1, mode="provable", rng=0)
    assert res.method == "structured" and res.mode == "structured" and res.certificate.certified
    assert pm.relative_error(res, Xt, Yt) <= 1e-8


def test_every_method_ends_in_the_same_refine_certify_path():
    layer, X, Y, Xt, Yt = _data(2, 8, 4, 1.0, seed=23)
    for method in pm.learner.STRATEGIES:
        res = learn(X, Y, 2, method=method, rng=0)
        names = [p.name for p in res.phases]
        assert names[-2:] == ["refine", "certify"] and names.count("certify") == 1, (method, names)
        assert res.method == method and pm.relative_error(res, Xt, Yt) <= 1e-8


def test_compare_to_truth_reports_principal_angles():
    from provable_mha.learner import compare_to_truth

    layer, X, Y, Xt, Yt = _data(2, 8, 4, 1.0, seed=31)
    res = learn(X, Y, 2, rng=0)
    cmp = compare_to_truth(res, layer, Xt)
    assert cmp.test_relative_error <= 1e-8 and cmp.max_parameter_error <= 1e-6
    assert len(cmp.theta_angles) == 2 and max(cmp.theta_angles + cmp.w_angles) < 1e-6
    other = pm.planted_instance(2, 8, 4, 1.0, rng=32)
    far = compare_to_truth(other, layer, Xt)
    assert max(far.theta_angles) > 0.1 and far.test_relative_error > 0.1


def test_noisy_certificate_holds_with_probability_1_minus_delta():
    """Claim: a correct fit to noisy data is certified w.p. >= 1 - delta (delta = 0.05).

    epsilon = sigma sqrt(1 + p/N_tr) z, z the Gaussian-max quantile over the held-out entries; over
    20 fixed seeds the number of uncertified runs must not be implausibly large for a failure
    rate <= delta (binomial test at level 0.01).
    """
    failures, trials = 0, 20
    for seed in range(trials):
        layer, X, Y, _, _ = _data(1, 4, 2, 1.0, seed=200 + seed, factor=8, noise=0.01)
        res = learn(X, Y, 1, rng=seed, noise=0.01, strict=False, restarts=4)
        failures += not res.certificate.certified
    assert binomtest(failures, trials, 0.05, alternative="greater").pvalue > 0.01, failures


def test_gaussian_inputs_with_inputs_any():
    layer = pm.planted_instance(2, 8, 4, 1.0, rng=0)
    X = pm.sample_gaussian(40, 4, 8, 1)
    with pytest.raises(ValueError, match="Boolean"):
        learn(X, layer(X), 2, rng=0)
    res = learn(X, layer(X), 2, rng=0, inputs="any")
    Xt = pm.sample_gaussian(500, 4, 8, 2)
    assert res.certificate.certified and pm.relative_error(res, Xt, layer(Xt)) <= 1e-8


def test_blas_threads_are_capped_while_learning_and_restored(monkeypatch):
    from threadpoolctl import threadpool_info

    import provable_mha.learner.api as api

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    layer, X, Y, Xt, Yt = _data(1, 6, 3, 1.0, seed=41)
    seen, original = [], api._learn

    def spy(*args, **kwargs):
        seen.append(blas_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(api, "_learn", spy)
    a = learn(X, Y, 1, rng=0)
    b = learn(X, Y, 1, rng=0, blas_threads=None)
    assert all(t == 1 for t in seen[0]) and seen[1] == before
    assert blas_threads() == before
    assert pm.relative_error(a, Xt, Yt) <= 1e-8 and pm.relative_error(b, Xt, Yt) <= 1e-8
    with pytest.raises(ValueError, match="blas_threads"):
        learn(X, Y, 1, blas_threads=0)


@pytest.mark.parametrize("factor, match", [(1e200, "outside the range"), (0.0, "every label is 0")])
def test_label_scale_is_refused_clearly(factor, match):
    layer, X, Y, _, _ = _data(1, 4, 2, 1.0, seed=1)
    with pytest.raises(ValueError, match=match):
        learn(X, Y * factor, 1)
