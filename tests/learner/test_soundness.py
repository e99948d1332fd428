r"""Soundness of the certificate over many seeded runs, and the calibration of its noise tolerance.

**What is claimed** (``docs/certificates.md``, Proposition 1). Given the training split, the
learned layer :math:`\hat F` and the tolerance :math:`\varepsilon` are fixed; if the certificate
is certified, then with probability :math:`\ge1-\delta` over the held-out draw

.. math::

    p = \Pr_{(x,y)\sim\mathcal D_h}\big[\max_{a,e}|\hat F(x)-y|_{ae} > \varepsilon\big]
      \le \texttt{failure\_rate\_bound},

:math:`\mathcal D_h` the distribution of (input, label) the held-out examples were drawn from.
So in every run, :math:`\Pr[\text{certified and } p > \text{bound}] \le \delta` — whatever the labels
are, whichever strategy produced :math:`\hat F`, and even when the noise assumption is wrong (the
assumption only calibrates :math:`\varepsilon`, it is not used by the proof).

**The test.** Four categories of seeded runs (planted layer m ∈ {1, 2}, d ∈ {3, 4, 5},
k ∈ {2, 3, 4}, logit scale 0.5–3, ``ceil(3 information_limit)`` training examples and 10 held out;
methods alternate practical / structured; ``strict=False``):

* ``planted`` — exact labels of the planted layer;
* ``noisy`` — Gaussian label noise, declared correctly (σ from 0.3% to 10% of the label rms);
* ``understated`` — Gaussian noise c·σ with c ∈ {1.5, 2, 2.5, 3} but σ declared: the tolerance is
  too small, the fit is usually not accepted, and the PAC statement must hold all the same;
* ``shifted`` — the rule changes between training and held-out: training labels by T, held-out
  labels by T' = T + η·(G_Θ, G_W) with η set so that T' differs from T by more than ε on a
  target fraction (5%–60%) of inputs. The certificate is then about T' (the held-out
  distribution), and fresh examples are labelled by T'. This is the sharp case: a certificate that
  ignored a failing held-out example would show up here. Building it needs the held-out indices,
  which :func:`_holdout_indices` takes from ``learn``'s split function (checked against the
  certificate's own numbers in every run).

For every certified run, :math:`p` is estimated on 2000 fresh examples from :math:`\mathcal D_h`
(fresh noise included); a *violation* is a certified run whose estimate exceeds
``failure_rate_bound``. Per category, the violation count over **all** runs of the category must
be consistent with probability :math:`\le\delta` per run (one-sided binomial test, level 0.01).

**Run counts.** 1000 runs (300 planted, 250 noisy, 200 understated, 250 shifted), in CI too: the
four categories are separate test items so ``pytest -n 2`` runs them in parallel (``restarts=4``;
the structured method without its CVXPY width check, see :data:`STRUCTURED_FAST`). Measured on the
shared 2-core machine: 43-67 s of one core per category, the whole file 136 s wall with ``-n 2``;
with basin hopping (``learner/hopping.py``, at most 5x the starts' cost on a failing fit) the
understated category, whose fits mostly fail, took 129 s and the file 271 s on one core at load 2.
``PROVABLE_MHA_SOUNDNESS_RUNS=<n>`` scales every category by n/1000 (e.g. 200 for a quick look).

**Measured** (certified / vacuous / runs; violations; largest fresh failure rate / bound among
certified runs): planted 253 / 3 / 300, 0 violations, 0.0; noisy 105 / 2 / 250, 0, 0.73;
understated 2 / 4 / 200, 0, 0.54; shifted 41 / 4 / 250, 0, 0.56 (of the 145 shifted runs whose
true failure rate exceeds 0.3, none was certified).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.stats import binomtest

import provable_mha as pm
from provable_mha.learner import information_limit
from provable_mha.learner.api import split_indices
from provable_mha.learner.policy import holdout_epsilon

DELTA = 0.05
N_HOLDOUT = 10
N_FRESH = 2000
SHAPES = [(m, d, k) for m in (1, 2) for d in (3, 4, 5) for k in (2, 3, 4)]
#: runs per category at the default total of 1000
RUNS = {"planted": 300, "noisy": 250, "understated": 200, "shifted": 250}
_TOTAL = int(os.environ.get("PROVABLE_MHA_SOUNDNESS_RUNS", "1000"))
#: fast structured options: the CVXPY width check can only *block* certification and the
#: per-round widths are diagnostics, so skipping them makes the PAC statement's test stricter
STRUCTURED_FAST = {"cvxpy_widths": False, "round_widths": False}


def _holdout_indices(n: int, holdout: float, seed: int) -> np.ndarray:
    """The held-out indices of ``pm.learn(..., holdout=holdout, rng=seed)`` (``api.split_indices``).

    Every run of this module checks them against the certificate (:func:`_check_split`), so a
    change in how ``learn`` draws its split fails loudly here.
    """
    return split_indices(n, holdout, np.random.default_rng(seed))[1]


def _distinct_unseen(X: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Held-out indices whose input is distinct and absent from training (first occurrence kept).

    An independent implementation of what ``n_distinct_holdout`` counts (tuples, not bytes).
    """
    train = np.setdiff1d(np.arange(len(X)), held)
    seen = {tuple(x.ravel()) for x in X[train]}
    keep = []
    for j in held:
        key = tuple(X[j].ravel())
        if key not in seen:
            seen.add(key)
            keep.append(j)
    return np.asarray(keep, dtype=int)


@dataclass
class Run:
    """One seeded run: its category, what the certificate said, and the fresh failure rate."""

    category: str
    method: str
    certified: bool
    vacuous: bool
    bound: float
    fresh_failure: float  # estimate of p on N_FRESH fresh examples (every run, certified or not)

    @property
    def violation(self) -> bool:
        return self.certified and self.fresh_failure > self.bound


def _shift(truth: pm.MultiHeadAttention, k: int, seed: int, eps: float, target: float) -> pm.MultiHeadAttention:
    """T' = T + η(G_Θ, G_W), η such that max|T' − T| > eps on about a ``target`` fraction of inputs.

    Linear in η for small η: g(x) = max|T_{η0}(x) − T(x)|/η0 at η0 = 1e-6 on pilot inputs, and
    η = eps / quantile(g, 1 − target).
    """
    gen = np.random.default_rng(seed + 7)
    g_th, g_w = gen.standard_normal(np.shape(truth.thetas)), gen.standard_normal(np.shape(truth.ws))

    def moved(eta):
        return pm.MultiHeadAttention(np.asarray(truth.thetas) + eta * g_th, np.asarray(truth.ws) + eta * g_w)

    pilot = pm.sample_boolean(1000, k, truth.d, seed + 8)
    g = np.abs(moved(1e-6)(pilot) - truth(pilot)).reshape(len(pilot), -1).max(axis=1) / 1e-6
    return moved(eps / np.quantile(g, 1.0 - target))


def _one_run(category: str, i: int) -> Run:
    """Run ``i`` of ``category`` (module docstring): learn, then estimate p on fresh examples."""
    cat_id = list(RUNS).index(category)
    seed = 100_000 * (cat_id + 1) + i
    m, d, k = SHAPES[i % len(SHAPES)]
    scale = 0.5 + 2.5 * ((7 * i) % 11) / 10
    truth = pm.planted_instance(m, d, k, scale=scale, rng=seed)
    n_tr = math.ceil(3 * information_limit(m, d, k))
    n = n_tr + N_HOLDOUT
    holdout = N_HOLDOUT / n
    gen = np.random.default_rng(seed)
    X = pm.sample_boolean(n, k, d, gen)
    Y = truth(X)
    rms = float(np.sqrt(np.mean(Y ** 2)))
    noise, sigma_true, rule = 0.0, 0.0, truth
    if category == "noisy":
        noise = sigma_true = rms * (0.003, 0.01, 0.03, 0.1)[i % 4]
    elif category == "understated":
        noise = rms * (0.003, 0.01, 0.03, 0.1)[i % 4]
        sigma_true = noise * (1.5, 2.0, 2.5, 3.0)[(i // 4) % 4]
    held = _holdout_indices(n, holdout, seed)
    if category == "shifted":
        train = np.setdiff1d(np.arange(n), held)
        eps = holdout_epsilon(float(np.abs(Y[train]).max()), 0.0, 0.0, 1, DELTA)
        rule = _shift(truth, k, seed, eps, (0.05, 0.15, 0.3, 0.45, 0.6)[i % 5])
        Y[held] = rule(X[held])
    Y = Y + sigma_true * gen.standard_normal(Y.shape)
    method = ("practical", "structured")[i % 2]
    opts = STRUCTURED_FAST if method == "structured" else {}
    res = pm.learn(X, Y, m, method=method, noise=noise, rng=seed, holdout=holdout, delta=DELTA, restarts=4,
                   strict=False, **opts)
    cert = res.certificate
    _check_split(res, X, Y, held)
    Xf = pm.sample_boolean(N_FRESH, k, d, gen)
    Yf = rule(Xf) + sigma_true * gen.standard_normal((N_FRESH, k, d))
    fail = np.abs(res.layer(Xf) - Yf).reshape(N_FRESH, -1).max(axis=1) > cert.epsilon
    return Run(category, method, cert.certified, cert.vacuous, cert.failure_rate_bound, float(fail.mean()))


def _check_split(res, X, Y, held) -> None:
    """The reconstructed held-out set gives the certificate's own count and max residual (over every
    held-out example: all must pass, the distinct unseen ones are counted)."""
    cert = res.certificate
    keep = _distinct_unseen(X, held)
    assert res.n_holdout == len(held) and cert.n_distinct_holdout == len(keep), \
        "the held-out split of learn() changed: update _holdout_indices"
    mine = float(np.abs(res.layer(X[held]) - Y[held]).max())
    assert mine == pytest.approx(cert.max_residual, rel=1e-9, abs=0.0)


def runs(category: str) -> list[Run]:
    count = max(1, round(RUNS[category] * _TOTAL / 1000))
    return [_one_run(category, i) for i in range(count)]


@pytest.mark.parametrize("category", list(RUNS))
def test_certified_failure_rate_bound_holds_over_seeded_runs(category):
    """Per category: #(certified and fresh failure rate > bound) is consistent with rate <= delta."""
    rs = runs(category)
    violations = sum(r.violation for r in rs)
    certified = [r for r in rs if r.certified]
    ratio = max((r.fresh_failure / r.bound for r in certified), default=0.0)
    summary = (f"{category}: {len(rs)} runs, {len(certified)} certified, "
               f"{sum(r.vacuous for r in rs)} vacuous, {violations} violations, max fresh/bound {ratio:.3f}")
    print(summary)
    assert binomtest(violations, len(rs), DELTA, alternative="greater").pvalue > 0.01, summary
    if category == "planted":  # the statement is not vacuous: exact fits are certified (measured 253 of 300)
        assert len(certified) >= 0.6 * len(rs), summary
    if category == "shifted":  # the case is sharp: many runs have a true failure rate above the bound
        assert sum(r.fresh_failure > 0.3 for r in rs) >= 0.3 * len(rs), summary


# -- calibration of the noise tolerance ----------------------------------------------------------
#: shapes with k d >= 10 (>= 1024 Boolean inputs): held-out inputs are almost never seen in training,
#: so vacuity by too few distinct unseen inputs does not enter the calibration count
CAL_SHAPES = [(1, 4, 3), (1, 5, 2), (2, 4, 3), (1, 5, 3), (2, 5, 2), (1, 4, 4)]
CAL_RUNS = 30


def _noisy_problem(i: int, factor: float, level: float):
    """Run ``i``: planted layer, ``ceil(factor information_limit)`` training + 10 held-out examples,
    Gaussian label noise of standard deviation ``level`` times the label rms (returned as sigma)."""
    seed = 900_000 + i
    m, d, k = CAL_SHAPES[i % len(CAL_SHAPES)]
    truth = pm.planted_instance(m, d, k, scale=1.0 + 0.5 * (i % 3), rng=seed)
    n = math.ceil(factor * information_limit(m, d, k)) + N_HOLDOUT
    gen = np.random.default_rng(seed)
    X = pm.sample_boolean(n, k, d, gen)
    Y = truth(X)
    sigma = level * float(np.sqrt(np.mean(Y ** 2)))
    return m, X, Y + sigma * gen.standard_normal(Y.shape), sigma, N_HOLDOUT / n, seed


# at 3x the information limit the mean in-sample leverage p/N underestimated the fresh-input error
# (12 of 30 right fits refused); the leave-one-example-out leverage of certify.fresh_leverage fixed it
@pytest.mark.parametrize("factor", [3, 8])
def test_right_noisy_fit_is_accepted_and_certified_with_probability_1_minus_delta(factor):
    """Planted layer, Gaussian noise of 5% of the label rms declared exactly, 30 seeded runs, methods alternating.

    Claim: ``learn(strict=True)`` accepts and certifies with probability >= 1 - delta; the count of
    runs raising ``LearnError`` must be consistent with a rate <= delta (one-sided binomial test at
    level 0.01: at most 5 of 30).
    """
    failures = []
    for i in range(CAL_RUNS):
        m, X, Y, sigma, holdout, seed = _noisy_problem(i, factor, 0.05)
        method = ("practical", "structured")[i % 2]
        opts = STRUCTURED_FAST if method == "structured" else {}
        try:
            pm.learn(X, Y, m, method=method, noise=sigma, rng=seed, holdout=holdout, delta=DELTA, **opts)
        except pm.LearnError as err:
            failures.append((i, str(err)[:60]))
    assert binomtest(len(failures), CAL_RUNS, DELTA, alternative="greater").pvalue > 0.01, failures


def test_random_labels_with_declared_noise_are_not_certified():
    """Y ~ N(0, 1) with ``noise=1`` declared, 30 seeded runs, methods alternating.

    The zero layer meets epsilon >= z sigma with probability >= 1 - delta (union bound), which makes
    the statement vacuous; so certified runs must be consistent with a rate <= delta (binomial test
    at level 0.01), and a certified run may not have a fresh failure rate above its bound. Measured
    over 300 seeds (this file's shapes, 3x the information limit): 1 certified, 297 vacuous.
    """
    certified = []
    for i in range(CAL_RUNS):
        m, d, k = CAL_SHAPES[i % len(CAL_SHAPES)]
        n = math.ceil(3 * information_limit(m, d, k)) + N_HOLDOUT
        gen = np.random.default_rng(950_000 + i)
        X = pm.sample_boolean(n, k, d, gen)
        method = ("practical", "structured")[i % 2]
        opts = STRUCTURED_FAST if method == "structured" else {}
        res = pm.learn(X, gen.standard_normal(X.shape), m, method=method, noise=1.0, rng=i, holdout=N_HOLDOUT / n,
                       delta=DELTA, restarts=4, strict=False, **opts)
        cert = res.certificate
        assert cert.certified or cert.vacuous or cert.max_residual > cert.epsilon, cert.statement
        if cert.certified:
            Xf = pm.sample_boolean(N_FRESH, k, d, gen)
            fresh = np.abs(res.layer(Xf) - gen.standard_normal(Xf.shape)).reshape(N_FRESH, -1).max(axis=1)
            certified.append(i)
            assert float(np.mean(fresh > cert.epsilon)) <= cert.failure_rate_bound, (i, cert.statement)
    assert binomtest(len(certified), CAL_RUNS, DELTA, alternative="greater").pvalue > 0.01, certified
