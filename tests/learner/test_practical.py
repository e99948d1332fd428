"""The practical strategy: Kaufman's structured normal equations, local search, the multi-start loop."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import provable_mha as pm
from provable_mha.learner import design, practical
from provable_mha.learner.problem import Problem


def _kaufman_jacobian(t, X, Y, m):
    """The reference: -P_perp J_Theta formed explicitly."""
    n, k, d = X.shape
    step = design.w_step(t.reshape(m, d, d), X, Y)
    J = design.theta_jacobian(t.reshape(m, d, d), step.W.reshape(m, d, d), X).reshape(n * k, d, -1)
    Q = step.Q
    J -= np.einsum("rs,sej->rej", Q, np.einsum("rs,rej->sej", Q, J))
    return -J.reshape(n * k * d, -1)


def _near_truth(noise: float):
    """A planted (2, 6, 3) layer, 40 Boolean inputs, its labels, and its Theta perturbed by ``noise``."""
    layer = pm.planted_instance(2, 6, 3, rng=1)
    X = pm.sample_boolean(40, 3, 6, 2)
    th0 = np.asarray(layer.thetas) + noise * np.random.default_rng(0).standard_normal((2, 6, 6))
    return layer, X, layer(X), th0


@given(st.integers(1, 3), st.integers(2, 5), st.integers(2, 4), st.integers(0, 10**6))
def test_structured_normal_equations_equal_explicit(m, d, k, seed):
    rng = np.random.default_rng(seed)
    layer = pm.random_layer(m, d, 1.0, rng)
    X = pm.sample_boolean(m * d, k, d, rng)
    Y = layer(X)
    t = rng.standard_normal(m * d * d) / d
    r, W = practical.varpro_residual(t, X, Y, m)
    J = _kaufman_jacobian(t, X, Y, m)
    lin = practical.varpro_normal(t, r, X, Y, m)
    # H = J^T J - K^T K is a difference of terms of size ||J_Theta||^2: round-off is relative to that
    scale = np.linalg.norm(design.theta_jacobian(t.reshape(m, d, d), W, X)) ** 2
    np.testing.assert_allclose(lin.H, J.T @ J, rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(lin.gradient, J.T @ r, rtol=1e-9, atol=1e-12 * np.sqrt(scale) * np.linalg.norm(Y))


def test_local_search_from_near_the_truth_converges_to_round_off():
    layer, X, Y, th0 = _near_truth(1e-2)
    run = practical.local_search(X, Y, 2, th0)
    assert run.relative_residual < 1e-12 and run.iterations < 30
    assert pm.match_heads(layer, pm.MultiHeadAttention(run.thetas, run.ws)).max_error < 1e-8


def test_practical_stops_at_the_first_accepted_start_and_records_every_run():
    layer = pm.planted_instance(1, 6, 3, rng=3)
    X = pm.sample_boolean(20, 3, 6, 4)
    cand = practical.practical(Problem(X, layer(X), 1, restarts=5), np.random.default_rng(0))
    runs = cand.phases[0].info["runs"]
    assert cand.accepted and runs[-1]["relative_residual"] <= cand.threshold
    assert all(r["relative_residual"] > cand.threshold for r in runs[:-1])
    assert cand.phases[0].sizes["starts"] == sum(r["start"] != "hop" for r in runs) <= 5


def test_start_points_are_reproducible_and_cycle_scales():
    a = list(practical.start_points(2, 4, np.random.default_rng(5), 5))
    b = list(practical.start_points(2, 4, np.random.default_rng(5), 5))
    assert [n for n, _ in a] == [n for n, _ in b]
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, b, strict=True))
    scales = practical.START_SCALES
    assert [n for n, _ in a] == [f"random(scale={scales[j % len(scales)]})" for j in range(5)]
    for j, (_, th) in enumerate(a):  # logit scale s: Theta = s G / d, so ||Theta_i||_F ~ s
        assert 0.4 < np.linalg.norm(th[0]) / scales[j % len(scales)] < 2.0


def _operator_near_truth(**kw):
    """(residual r, explicit Kaufman Jacobian J, ``varpro_operator(**kw)``) at ``_near_truth(0.05)``'s start."""
    _, X, Y, th0 = _near_truth(0.05)
    t = th0.ravel()
    r, _ = practical.varpro_residual(t, X, Y, 2)
    return r, _kaufman_jacobian(t, X, Y, 2), practical.varpro_operator(t, r, X, Y, 2, **kw)


def test_matrix_free_search_matches_the_dense_products_and_converges():
    r, J, op = _operator_near_truth()
    v = np.random.default_rng(1).standard_normal(J.shape[1])
    np.testing.assert_allclose(op.gradient, J.T @ r, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(op.op.matvec(v), J @ op.scaling(v), rtol=1e-9, atol=1e-12)
    _, X, Y, th0 = _near_truth(0.05)
    run = practical.local_search(X, Y, 2, th0, linear_algebra="matrix-free")
    assert run.relative_residual < 1e-12


def test_the_operators_adjoint_is_exact_on_the_range_lsmr_applies_it_to():
    """``rmatvec`` skips the projection: exact on range(P_perp), where r and every product lie."""
    r, J, op = _operator_near_truth()
    rng = np.random.default_rng(2)
    u = op.products[0](rng.standard_normal(J.shape[1])) + rng.standard_normal(1) * r  # in range(P_perp)
    np.testing.assert_allclose(op.products[1](u), J.T @ u, rtol=1e-9, atol=1e-12 * np.linalg.norm(J.T @ u))
    w = rng.standard_normal(J.shape[0])  # outside that range the shortcut is not the adjoint
    assert np.linalg.norm(op.products[1](w) - J.T @ w) > 1e-3 * np.linalg.norm(J.T @ w)


def test_float32_products_agree_with_the_jacobian_to_float32_round_off():
    r, J, op = _operator_near_truth(dtype=np.float32)
    v = np.random.default_rng(1).standard_normal(J.shape[1])
    for got, want in ((op.gradient, J.T @ r), (op.op.matvec(v), J @ op.scaling(v))):
        assert got.dtype == np.float64
        err = np.linalg.norm(got - want) / np.linalg.norm(want)
        assert 1e-10 < err < 1e-5  # float32 round-off: not float64's, and not worse than 1e-5


def test_float32_products_do_not_limit_the_accuracy_of_the_fit():
    """Mixed precision: float32 inner products, float64 residual; the fit still reaches float64 round-off."""
    layer, X, Y, th0 = _near_truth(0.05)
    run = practical.local_search(X, Y, 2, th0, linear_algebra="matrix-free", product_dtype=np.float32)
    assert run.relative_residual < 1e-12
    assert pm.match_heads(layer, pm.MultiHeadAttention(run.thetas, run.ws)).max_error < 1e-8


@pytest.mark.parametrize("linear_algebra", ["dense", "matrix-free"])
def test_each_residual_evaluation_computes_the_one_w_step_its_linearisation_reuses(monkeypatch, linear_algebra):
    _, X, Y, th0 = _near_truth(0.05)
    calls = [0]
    real = practical.w_step

    def counting(*a):
        calls[0] += 1
        return real(*a)

    monkeypatch.setattr(practical, "w_step", counting)
    run = practical.local_search(X, Y, 2, th0, linear_algebra=linear_algebra, ridge_path=(1e-2,))
    assert run.relative_residual < 1e-12
    assert calls[0] == run.evaluations + 1  # + the final W of the returned fit


def test_start_scales_option_reaches_the_starts_and_is_validated():
    layer = pm.planted_instance(1, 4, 3, rng=2)
    X = pm.sample_boolean(60, 3, 4, 3)
    res = pm.learn(X, layer(X), 1, rng=0, start_scales=[0.7])
    assert res.certificate.certified
    assert all(r["start"] == "random(scale=0.7)" for r in res.phases[0].info["runs"])
    for bad in ([], [0.0], [-1.0], [float("nan")], ["a"], [[0.1, 0.2]], [2e3], [True]):
        with pytest.raises(ValueError, match="start_scales"):
            pm.learn(X, layer(X), 1, rng=0, start_scales=bad)
    with pytest.raises(ValueError, match="unknown options"):
        pm.learn(X, layer(X), 1, method="structured", start_scales=[0.1])


@pytest.mark.parametrize("linear_algebra", ["dense", "matrix-free"])
def test_ridge_path_is_followed_by_the_exact_fit(linear_algebra):
    """The Tikhonov path leaves the returned fit unregularised: the last stage is the plain search
    (a penalised minimiser has a residual of order lambda, far above 1e-12)."""
    _, X, Y, th0 = _near_truth(1e-2)
    plain = practical.local_search(X, Y, 2, th0, linear_algebra=linear_algebra)
    path = practical.local_search(X, Y, 2, th0, linear_algebra=linear_algebra, ridge_path=practical.RIDGE_PATH)
    assert path.relative_residual < 1e-12
    assert path.iterations >= plain.iterations + len(practical.RIDGE_PATH)  # the path's iterations are counted


def test_each_path_weight_stops_once_its_penalised_minimiser_is_reached(monkeypatch):
    """RIDGE_STALL: a weight is left when its cost fell by < 2% over 2 iterations, so repeating a
    weight whose minimiser was just reached costs at most window + 1 iterations, not RIDGE_ITERS."""
    _, X, Y, th0 = _near_truth(1e-2)
    runs, real = [], practical.levenberg_marquardt

    def spy(*args, **kw):
        runs.append(real(*args, **kw))
        return runs[-1]

    monkeypatch.setattr(practical, "levenberg_marquardt", spy)
    practical.local_search(X, Y, 2, th0, ridge_path=(1e-2, 1e-2, 1e-2))
    assert [r.reason for r in runs[1:3]] == ["stalled", "stalled"]
    assert all(r.iterations <= practical.RIDGE_STALL[0] + 1 < practical.RIDGE_ITERS for r in runs[1:3])


def test_ridge_path_option_reaches_every_start_but_the_first_and_is_validated(monkeypatch):
    layer = pm.planted_instance(1, 4, 3, rng=2)
    X = pm.sample_boolean(60, 3, 4, 3)
    seen, real = [], practical.local_search

    def spy(*args, **kw):
        seen.append(kw["ridge_path"])
        return real(*args, **kw)

    monkeypatch.setattr(practical, "local_search", spy)
    Y = np.random.default_rng(0).standard_normal(X.shape)  # no 1-head layer fits: every start runs
    # hops=0: only the fresh starts call the search (the hops run it without a path)
    pm.learn(X, Y, 1, rng=0, restarts=3, strict=False, ridge_path=[1e-2, 1e-3], path_starts=[1.0], hops=0)
    assert seen == [(), (1e-2, 1e-3), (1e-2, 1e-3)]
    seen.clear()
    pm.learn(X, Y, 1, rng=0, restarts=4, strict=False, hops=0)  # default: alternately from 1e-2 and 1e-3
    tail = tuple(w for w in practical.RIDGE_PATH if w <= 1e-3)
    assert seen == [(), practical.RIDGE_PATH, tail, practical.RIDGE_PATH] and tail[0] == 1e-3
    seen.clear()
    pm.learn(X, Y, 1, rng=0, restarts=4, strict=False, ridge_path=[1e-2, 3e-3, 1e-4], path_starts=[5e-3, 1e-4, 1e-6],
             hops=0)
    assert seen == [(), (3e-3, 1e-4), (1e-4,), ()]
    assert pm.learn(X, layer(X), 1, rng=0, ridge_path=()).certificate.certified
    for bad in ("ab", [[1e-3]], [2.0], [0.0], [-1.0], [float("nan")], [True], [1e-3] * 65):
        with pytest.raises(ValueError, match="ridge_path"):
            pm.learn(X, layer(X), 1, rng=0, ridge_path=bad)
    with pytest.raises(ValueError, match="unknown options"):
        pm.learn(X, layer(X), 1, method="structured", ridge_path=[1e-3])
    for bad in ([], [2.0], [0.0], "x"):
        with pytest.raises(ValueError, match="path_starts"):
            pm.learn(X, layer(X), 1, rng=0, path_starts=bad)


def test_loose_inner_solves_still_converge_to_round_off():
    """Inexact Gauss-Newton: a loose LSMR tolerance costs iterations, not the accuracy of the fit."""
    _, X, Y, th0 = _near_truth(0.05)
    tight = practical.local_search(X, Y, 2, th0, linear_algebra="matrix-free", lsmr_rtol=1e-10)
    loose = practical.local_search(X, Y, 2, th0, linear_algebra="matrix-free", lsmr_rtol=1e-2)
    assert loose.relative_residual < 1e-12 and tight.relative_residual < 1e-12
    assert loose.iterations >= tight.iterations


def test_path_and_plain_search_use_their_own_inner_tolerances(monkeypatch):
    """Matrix-free: the Tikhonov path solves with ``path_lsmr_rtol``, the plain search with ``lsmr_rtol``."""
    _, X, Y, th0 = _near_truth(0.05)
    seen: list[float] = []
    real = practical.varpro_operator

    def spy(t, r, X, Y, m, rtol=1e-8, **kw):
        seen.append(rtol)
        return real(t, r, X, Y, m, rtol=rtol, **kw)

    monkeypatch.setattr(practical, "varpro_operator", spy)
    run = practical.local_search(X, Y, 2, th0, linear_algebra="matrix-free", ridge_path=(1e-2, 1e-3),
                                 lsmr_rtol=1e-3, path_lsmr_rtol=1e-7)
    assert run.relative_residual < 1e-12
    assert set(seen) == {1e-7, 1e-3} and seen[0] == 1e-7 and seen[-1] == 1e-3
    assert seen == sorted(seen, key=lambda t: t == 1e-3)  # every path solve before every plain one
    seen.clear()
    practical.local_search(X, Y, 2, th0, linear_algebra="matrix-free", ridge_path=(1e-2,))
    assert set(seen) == {practical.PATH_LSMR_RTOL, practical.LSMR_RTOL}


def test_only_the_heavy_path_weights_get_the_accurate_tolerance(monkeypatch):
    """Path weights below ``path_accurate_min`` are solved like the plain search (``lsmr_rtol``)."""
    _, X, Y, th0 = _near_truth(0.05)
    seen: list[tuple[float, float]] = []
    real_ridged, real_op = practical.ridged, practical.varpro_operator
    weight = [None]

    def ridged_spy(residual, lin, w):
        weight[0] = w
        return real_ridged(residual, lin, w)

    def op_spy(t, r, X, Y, m, rtol=1e-8, **kw):
        seen.append((weight[0], rtol))
        return real_op(t, r, X, Y, m, rtol=rtol, **kw)

    monkeypatch.setattr(practical, "ridged", ridged_spy)
    monkeypatch.setattr(practical, "varpro_operator", op_spy)
    norm = float(np.linalg.norm(Y))
    practical.local_search(X, Y, 2, th0, linear_algebra="matrix-free", ridge_path=(1e-2, 1e-4), lsmr_rtol=1e-3,
                           path_lsmr_rtol=1e-7, path_accurate_min=1e-3)
    by_weight = {w: {rt for w2, rt in seen if w2 == w} for w, _ in seen}
    heavy, light = np.sqrt(1e-2) * norm, np.sqrt(1e-4) * norm
    assert by_weight[heavy] == {1e-7}
    # the plain search's solves come last and carry the light weight too: both are at lsmr_rtol
    assert 1e-3 in by_weight[light] and 1e-7 not in by_weight[light]
    seen.clear()
    practical.local_search(X, Y, 2, th0, linear_algebra="matrix-free", ridge_path=(1e-4,), path_lsmr_rtol=1e-7,
                           path_accurate_min=0.0)
    assert seen[0][1] == 1e-7  # with no cut every path weight is accurate
