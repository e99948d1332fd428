"""The constants of docs/gd.md §3 (Lemmas 1-2 and corollaries) checked on random instances (each assertion can fail)."""

import math

import numpy as np
import pytest
from _gd_strategies import problems
from hypothesis import given
from scipy.sparse.linalg import LinearOperator, eigsh

from provable_mha import gd

RTOL = 1e-9  # floating-point slack only; the bounds themselves are not loosened


def _consts(model, X):
    return gd.model_constants(model, X)


def _dense_output_hessian(model, X, i):
    w = np.zeros(X.shape[0])
    w[i] = 1.0
    P = model.n_params
    Hm = np.array([model.output_hvp(X, e, weights=w) for e in np.eye(P)])
    return 0.5 * (Hm + Hm.T)


@given(problems())
def test_output_gradient_norm_below_beta1(prob):
    model, X, _ = prob
    k = _consts(model, X)
    norms = np.linalg.norm(model.output_gradient(X), axis=1)
    assert norms.max() <= k.grad_bound * (1 + RTOL)
    if model.normalization == "sqrt":
        assert k.grad_bound == pytest.approx(k.beta1)


@given(problems(max_H=3, max_d=3, max_T=3, max_n=3))
def test_output_hessian_norm_below_beta2_over_sqrtH(prob):
    model, X, _ = prob
    k = _consts(model, X)
    for i in range(X.shape[0]):
        Hm = _dense_output_hessian(model, X, i)
        assert np.abs(np.linalg.eigvalsh(Hm)).max() <= k.hess_bound * (1 + RTOL) + 1e-12
    assert k.hess_bound <= k.beta2 / math.sqrt(model.H) * (1 + 1e-12)


@given(problems())
def test_loss_is_self_bounded(prob):
    model, X, y = prob
    L, g = model.loss_and_grad(X, y)
    assert np.linalg.norm(g) <= _consts(model, X).self_bounded * L * (1 + RTOL)


@given(problems(max_H=3, max_d=3, max_T=3, max_n=4))
def test_weak_convexity_by_lanczos(prob):
    model, X, y = prob
    P = model.n_params
    L = model.loss(X, y)
    if P < 3:  # eigsh needs k < P; compare densely instead
        Hm = np.array([model.hvp(X, y, e) for e in np.eye(P)])
        lam = np.linalg.eigvalsh(0.5 * (Hm + Hm.T)).min()
    else:
        op = LinearOperator((P, P), matvec=lambda v: model.hvp(X, y, np.ravel(v)), dtype=float)
        lam = eigsh(op, k=1, which="SA", tol=1e-10, v0=np.ones(P),
                    return_eigenvectors=False)[0]
    assert lam >= -_consts(model, X).weak_convexity * L * (1 + 1e-7) - 1e-10


def test_lanczos_agrees_with_dense_eigenvalues():
    model = gd.MHAClassifier(2, 3, rng=5, init_scale=3.0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 4, 3))
    y = np.where(rng.random(6) < 0.5, 1.0, -1.0)
    P = model.n_params
    Hm = np.array([model.hvp(X, y, e) for e in np.eye(P)])
    np.testing.assert_allclose(Hm, Hm.T, atol=1e-10)
    op = LinearOperator((P, P), matvec=lambda v: model.hvp(X, y, np.ravel(v)), dtype=float)
    lam = eigsh(op, k=1, which="SA", tol=1e-12, v0=np.ones(P), return_eigenvectors=False)[0]
    assert lam == pytest.approx(np.linalg.eigvalsh(Hm).min(), abs=1e-8)


def test_constants_formulas():
    assert gd.beta1(2.0, 0.5) == pytest.approx(math.sqrt(4 + 4 * 64 * 0.25))
    assert gd.beta2(2.0, 0.5) == pytest.approx(16 + 6 * 32 * 0.5)
    k = gd.constants(2.0, 0.5, H=4)
    assert k.hess_bound == pytest.approx(gd.beta2(2.0, 0.5) / 2)
    assert k.max_step == pytest.approx(1 / (k.beta1**2 / 4 + k.beta2 / 2))
    km = gd.constants(2.0, 0.5, H=4, normalization="mean")
    assert km.grad_bound == pytest.approx(k.beta1 / 2)
    assert km.hess_bound == pytest.approx(k.beta2 / 4)
    assert gd.token_radius(np.array([[[3.0, 4.0], [0.0, 1.0]]])) == pytest.approx(5.0)


def test_realizability_radius_gives_small_loss_when_heads_suffice():
    """Taylor argument of realizability_radius, checked at H meeting heads_for_realizability."""
    X, y = gd.tokenized_mixture(6, 3, 3, signal_tokens=2, signal_strength=0.05,
                                noise_std=0.005, rng=2)
    eps = 0.05
    checked = 0
    for H in (32, 256):
        m = gd.MHAClassifier(H, 3, rng=0)
        mg = gd.ntk_margin(m, X, y)
        assert mg.separable
        lam = gd.realizability_radius(mg.achieved, eps, np.abs(m(X)).max())
        B0 = np.linalg.norm(m.U, axis=1).max()
        need = gd.heads_for_realizability(gd.token_radius(X), B0, mg.achieved, lam)
        if H >= need:
            checked += 1
            assert m.loss(X, y, m.params + lam * mg.direction) <= eps
    assert checked >= 1  # the check above is not vacuous


@pytest.mark.parametrize("call, msg", [
    (lambda: gd.beta1(-1.0, 1.0), "R must be"),
    (lambda: gd.constants(1.0, 1.0, H=0), "H must be"),
    (lambda: gd.constants(1.0, 1.0, H=2, normalization="x"), "normalization"),
    (lambda: gd.realizability_radius(0.0, 0.1, 0.0), "gamma"),
    (lambda: gd.realizability_radius(1.0, 1.5, 0.0), "eps must be < 1"),
    (lambda: gd.training_bound(R=1, B0=1, H=1, eta=0, steps=1, radius=1, comparator_loss=0,
                               init_loss=1), "eta"),
])
def test_bound_functions_reject_bad_input(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


def test_generalization_bound_formula():
    eps = 0.1 * 4.0 * 50 * math.exp(0.1 * 0.01 * 50) / 1000
    got = gd.generalization_bound(avg_train_loss=0.3, eta=0.1, steps=50, n=1000, grad_bound=2.0,
                                  kappa=0.01)
    assert got == pytest.approx(2 * eps / (1 - eps) * 0.3)
    assert gd.generalization_bound(avg_train_loss=0.3, eta=1.0, steps=1000, n=10,
                                   grad_bound=2.0, kappa=0.0) == math.inf
