r"""Every tolerance and threshold the learner compares against, each with where it comes from.

No other module of the learner writes a numeric tolerance: they read it here. Three kinds:

* **Round-off** (noiseless data). A float64 forward pass of the layer is accurate to a few
  hundred units in the last place of the label scale; fits that are right reach relative
  residuals of :math:`10^{-15}`–:math:`10^{-13}` (measured, ``docs/learner.md``), spurious local
  minima stall at :math:`10^{-4}` or above. Thresholds sit between, with a margin of at least
  :math:`10^3` on both sides.
* **Declared noise** :math:`\sigma`. Quantiles of the distributions the noise induces, at the
  level :math:`\delta` of the call: chi-square for a sum of squared residuals, the Gaussian
  maximum for a largest entry (``docs/certificates.md``).
* **Solver accuracy**. What we ask of the convex solvers (:data:`FEAS_TOL`) and what a
  containment check may therefore allow (:data:`CONTAINMENT_TOL`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ..solvers import FEAS_TOL  # what we ask of the convex solvers (solvers.py)

__all__ = [
    "EXACT_FIT_REL", "EXACT_HOLDOUT_REL", "FEAS_TOL", "CONTAINMENT_TOL", "THETA_BOX",
    "W_INDEPENDENCE", "NOISE_Z", "COND_MAX", "DEGENERATE_TOL",
    "MAX_USEFUL_FAILURE_RATE", "min_distinct_holdout", "LM_STALL_WINDOW", "LM_STALL_RATIO", "LM_POLISH",
    "SPAN_TOL", "POLISH_TOL",
    "acceptance_threshold", "holdout_epsilon", "gaussian_max_quantile", "chi2_norm_quantile",
]

#: Relative training residual below which a noiseless fit is accepted. Right fits measure
#: 1e-15..1e-13, spurious minima >= 1e-4: 1e-10 leaves three decades on each side.
EXACT_FIT_REL = 1e-10

#: Per-entry held-out tolerance, relative to max|Y|, for noiseless labels: the float64 error of
#: one output entry is a few hundred ulps of max|Y| (sums of k*d products, softmax), so 1e-8
#: is 10^5 ulps -- round-off never fails a right layer, and a layer off by 1e-8 relative is not
#: called exact.
EXACT_HOLDOUT_REL = 1e-8

#: Containment checks (is the truth inside the body?) allow 10x the solver tolerance.
CONTAINMENT_TOL = 10 * FEAS_TOL

#: A-priori bound on |Θ_i[p, q]| used to keep bodies bounded; implied by the required condition
#: ||Θ_i||_F <= 10 of docs/conditions.md (an entry is at most the Frobenius norm).
THETA_BOX = 10.0

#: The required condition sigma_min([vec W_i]) >= tau max_i ||W_i||_F (docs/conditions.md).
W_INDEPENDENCE = 0.1

#: Standard deviations in per-coefficient noise margins: two-sided tail 2e-9 per coordinate,
#: so a union over 10^6 coordinates still fails with probability below 0.2%.
NOISE_Z = 6.0

#: Row designs with condition number above this are dropped, never trusted (their
#: least-squares error is not bounded by the formulas used).
COND_MAX = 1e8

#: Two tokens closer than this (relative) are equal or opposite: degenerate example.
DEGENERATE_TOL = 1e-12

#: The certificate is vacuous when its failure-rate bound ln(1/delta)/n' exceeds this: a bound
#: above 1/2 says less than a fair coin (see :func:`min_distinct_holdout`).
MAX_USEFUL_FAILURE_RATE = 0.5

#: Levenberg–Marquardt: a start is abandoned when its cost fell by less than LM_STALL_RATIO over
#: LM_STALL_WINDOW iterations (near a zero-residual solution LM converges superlinearly, so a
#: slow crawl marks a spurious local minimum).
LM_STALL_WINDOW = 15
LM_STALL_RATIO = 1.5

#: LM polishes below the acceptance threshold by this factor (superlinear convergence makes the
#: extra iterations few, and the final residual is what the certificate sees).
LM_POLISH = 1e-4

#: span{W_i}: relative residual of a certified span basis (noiseless).
SPAN_TOL = 1e-13

#: Head polishing of the structured strategy's net route: residual of a true g_i (noiseless).
POLISH_TOL = 1e-6


def chi2_norm_quantile(dof: int, delta: float) -> float:
    r"""The :math:`1-\delta` quantile of :math:`\|\xi\|_2/\sigma` for :math:`\xi\sim N(0,\sigma^2I_{dof})`.

    That is :math:`\sqrt{\chi^2_{dof}(1-\delta)}`.
    """
    return float(math.sqrt(stats.chi2.ppf(1.0 - delta, max(int(dof), 1))))


def gaussian_max_quantile(count: int, delta: float) -> float:
    r"""A level :math:`z` with :math:`\Pr[\max_{j\le count}|Z_j|>z]\le\delta` for standard normals.

    By the union bound, :math:`z=\Phi^{-1}(1-\delta/(2\,count))` (no independence needed).
    """
    return float(stats.norm.isf(delta / (2.0 * max(int(count), 1))))


def acceptance_threshold(Y: np.ndarray, noise: float, n_params: int, delta: float = 0.05) -> float:
    r"""Relative training residual :math:`\|r\|/\|Y\|` below which a fit is accepted.

    Noiseless: :data:`EXACT_FIT_REL`. With declared noise :math:`\sigma`, the residual of the
    true parameters is :math:`\|\xi\|`, and to first order that of a least-squares fit with
    :math:`p` parameters is :math:`\|P^\perp\xi\|\sim\sigma\chi_{N-p}`; we accept up to the
    :math:`1-\delta` quantile of :math:`\sigma\chi_N` (the larger, so that the truth itself is
    accepted with probability :math:`\ge1-\delta` whatever the fit's leverage).
    """
    norm = float(np.linalg.norm(Y))
    if noise <= 0 or norm == 0:
        return EXACT_FIT_REL
    return EXACT_FIT_REL + noise * chi2_norm_quantile(Y.size, delta) / norm


def holdout_epsilon(y_scale: float, noise: float, leverage: float, n_entries: int, delta: float) -> float:
    r"""Per-entry tolerance :math:`\varepsilon` of the held-out PAC statement.

    Noiseless: :data:`EXACT_HOLDOUT_REL` :math:`\cdot` ``y_scale`` (the largest *training* label:
    the tolerance must not depend on the held-out labels it judges). With noise level :math:`\sigma`,
    a held-out residual of a right fit is, to first order, :math:`(\hat F-F)-\xi` with variance
    :math:`\sigma^2(1+h_x)`, :math:`h_x` the leverage of the entry under the fit (the estimation
    error adds to the noise). ``leverage`` is its mean over fresh inputs: the leave-one-example-out
    estimate of :func:`.certify.fresh_leverage` (at least the in-sample mean :math:`p/N_{tr}`); we use
    twice that to cover its spread, and add :math:`\sigma\sqrt{1+2h}\,z` with :math:`z` =
    :func:`gaussian_max_quantile` over ``n_entries`` held-out entries. The tolerance depends on the training
    data only, so the PAC statement built on it is valid whatever its calibration; the calibration
    (a right fit passes with probability :math:`\approx1-\delta`) is tested by a binomial test.
    """
    eps = EXACT_HOLDOUT_REL * float(y_scale)
    if noise > 0:
        eps += noise * math.sqrt(1.0 + 2.0 * leverage) * gaussian_max_quantile(n_entries, delta)
    return eps


def min_distinct_holdout(delta: float) -> int:
    r"""Fewest distinct unseen held-out inputs for a non-vacuous certificate at level :math:`\delta`.

    The smallest :math:`n'` with :math:`\ln(1/\delta)/n'\le` :data:`MAX_USEFUL_FAILURE_RATE`
    (6 at :math:`\delta=0.05`).
    """
    return math.ceil(math.log(1.0 / delta) / MAX_USEFUL_FAILURE_RATE)
