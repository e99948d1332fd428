r"""Attention from outputs and the sculpted Θ-step body (the ``sculpt`` route, :math:`mk\le d`).

**Row coefficients.** Fix matrices :math:`V_1,\dots,V_m` (the true :math:`W_i`, or a basis of
their span). Row :math:`a` of example :math:`n` obeys

.. math::

    y_a = \sum_{j=1}^m\sum_{b=1}^k c_{jab}\, V_j^\top x_b = B_n\, c_a,\qquad
    B_n = [V_j^\top x_b]_{(j,b)} \in\mathbb{R}^{d\times mk},

and :math:`B_n` is shared by the :math:`k` rows of the example. When :math:`mk\le d` and
:math:`B_n` has full column rank, :math:`c_a = B_n^+y_a` exactly (noiseless), so with
:math:`V=W` the attention weights :math:`\alpha_{iab}=c_{iab}` are recovered by least squares.
With noise :math:`y = F(X)+\sigma\varepsilon`, :math:`\varepsilon\sim N(0,I)`, the error
:math:`B_n^+\sigma\varepsilon_a` has coordinates :math:`N(0,\sigma^2\|(B_n^+)_{jb,:}\|^2)`, so

.. math::

    |\hat c_{jab}-c_{jab}| \le r_{jab} = z\,\sigma\,\|(B_n^+)_{jb,:}\|_2 + \rho_a,
    \qquad \rho_a = 32\,u\,\big(\sqrt{mk}\,\kappa(B_n)\|\hat c_a\|_2 + \|y_a\|_2/\sigma_{\min}(B_n)\big)

holds with probability :math:`\ge 1-2\Phi(-z)` per coordinate (``z = 6`` by default, tail
:math:`2\times10^{-9}`); :math:`\rho_a` is a generous rounding bound of backward-stable least
squares (:math:`u` the unit round-off). Examples whose design is singular or numerically so
(repeated or opposite tokens, :math:`\kappa(B_n)>` ``cond_max``) are **dropped**: the formula
above does not bound the error of a rank-deficient solve, so they are never trusted.

**Intervals.** :math:`[\hat\alpha-r,\hat\alpha+r]\cap[0,1]` intersected with the simplex
:math:`\sum_b\alpha_{iab}=1`; for a box and one equality the LP bounds are closed-form:
:math:`u_b\leftarrow\min(u_b, 1-\sum_{c\ne b}l_c)`, :math:`l_b\leftarrow\max(l_b,1-\sum_{c\ne b}u_c)`.

**Θ-step body.** The log-ratio rows of :mod:`.constraints` plus the a-priori box
:math:`|\Theta_{pq}|\le R` (valid since :math:`\|\Theta_i\|_F\le 10` is a required condition)
define a polytope that contains the true :math:`\Theta_i` whenever the intervals are valid.
Adding examples only adds rows, so the bodies are nested and every width is non-increasing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ..._einsum import einsum
from ..._validation import check_array, check_inputs
from ...solvers import SolveInfo, solve
from ..policy import COND_MAX, DEGENERATE_TOL, NOISE_Z, THETA_BOX
from .constraints import LogRatioRows, box_block, interval_block, logratio_rows

__all__ = [
    "RowCoefficients", "row_coefficients", "AttentionIntervals", "attention_from_outputs",
    "ThetaBody", "theta_body", "BodyCentre", "body_centre", "body_widths",
    "THETA_BOX",
]

_EPS = np.finfo(float).eps


def _check_xy(X, Y):
    Xb, _ = check_inputs(X, "X")
    Yb = check_array(Y, "Y", ndim=(2, 3))
    if Yb.ndim == 2:
        Yb = Yb[None]
    if Yb.shape != Xb.shape:
        raise ValueError(f"Y must have the shape of X {Xb.shape}, got {Yb.shape}")
    return Xb, Yb


def _check_noise(noise) -> float:
    noise = float(noise)
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite standard deviation >= 0, got {noise}")
    return noise


@dataclass
class RowCoefficients:
    r"""Least-squares row coefficients :math:`c_{n,j,a,b}` and their error bounds.

    Attributes
    ----------
    coef : ndarray, shape (n, m, k, k)
        :math:`\hat c_{jab}` (index order ``[n, j, a, b]``, like attention ``[n, i, a, b]``).
    bound : ndarray, shape (n, m, k, k)
        Per-coefficient bounds :math:`r_{jab}` (``inf`` on dropped examples).
    valid : ndarray of bool, shape (n,)
        False for dropped (degenerate) examples.
    cond : ndarray, shape (n,)
        Condition numbers :math:`\kappa(B_n)`.
    residual : ndarray, shape (n, k)
        :math:`\|B_n\hat c_a-y_a\|_2` (0 up to noise when the data are realizable).
    """

    coef: np.ndarray
    bound: np.ndarray
    valid: np.ndarray
    cond: np.ndarray
    residual: np.ndarray

    @property
    def n_dropped(self) -> int:
        return int((~self.valid).sum())


def _degenerate_tokens(X: np.ndarray, tol: float = DEGENERATE_TOL) -> np.ndarray:
    """True for examples with two equal or opposite tokens (their row designs are singular: never trusted)."""
    n, k, d = X.shape
    bi, ci = np.triu_indices(k, 1)
    scale = tol * (1.0 + np.abs(X).max(axis=(1, 2)))[:, None]
    same = np.abs(X[:, bi] - X[:, ci]).max(-1) <= scale
    opp = np.abs(X[:, bi] + X[:, ci]).max(-1) <= scale
    return (same | opp).any(-1)


def row_coefficients(X, Y, basis, *, noise: float = 0.0, z: float = NOISE_Z,
                     cond_max: float = COND_MAX) -> RowCoefficients:
    """Batched least-squares coefficients of every output row on ``{V_j^T x_b}`` (module docstring).

    Parameters
    ----------
    X, Y : array_like, shape (n, k, d)
    basis : array_like, shape (m, d, d)
        The matrices :math:`V_j` (true ``W_i`` for attention, a span basis for β).
    noise : float
        Standard deviation σ of i.i.d. Gaussian label noise.
    z : float
        Number of standard deviations in the noise margin.
    cond_max : float
        Examples with :math:`\\kappa(B_n)` above this (or with repeated/opposite tokens) are dropped.
    """
    Xb, Yb = _check_xy(X, Y)
    V = check_array(basis, "basis", ndim=3)
    n, k, d = Xb.shape
    m = V.shape[0]
    if V.shape[1:] != (d, d):
        raise ValueError(f"basis must have shape (m, {d}, {d}), got {V.shape}")
    if m * k > d:
        raise ValueError(f"row coefficients need m*k <= d (got m={m}, k={k}, d={d}): "
                         "the d x mk row design cannot have full column rank")
    noise = _check_noise(noise)
    B = einsum("nbp,jpe->nejb", Xb, V).reshape(n, d, m * k)
    U, S, Vt = np.linalg.svd(B, full_matrices=False)
    smin, smax = S[:, -1], S[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = np.where(smin > 0, smax / smin, np.inf)
    valid = (cond <= cond_max) & ~_degenerate_tokens(Xb)
    Sinv = np.where(valid[:, None], 1.0 / np.where(S > 0, S, 1.0), 0.0)
    pinv = einsum("nji,ni,nei->nje", Vt.transpose(0, 2, 1), Sinv, U)  # (n, mk, d)
    C = einsum("nje,nae->nja", pinv, Yb)  # (n, mk, k)
    fit = einsum("nej,nja->nae", B, C)
    residual = np.linalg.norm(fit - Yb, axis=-1)
    row_norm = np.linalg.norm(pinv, axis=-1)  # (n, mk)
    cnorm = np.linalg.norm(C, axis=1)  # (n, k)
    ynorm = np.linalg.norm(Yb, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 32 * _EPS * (np.sqrt(m * k) * cond[:, None] * cnorm + ynorm / smin[:, None])
    bound = z * noise * row_norm[:, :, None] + rho[:, None, :]  # (n, mk, k)
    bound = np.where(valid[:, None, None], bound, np.inf)
    coef = C.reshape(n, m, k, k).transpose(0, 1, 3, 2)  # [n, j, b, a] -> [n, j, a, b]
    bound = bound.reshape(n, m, k, k).transpose(0, 1, 3, 2)
    coef = np.where(valid[:, None, None, None], coef, np.nan)
    return RowCoefficients(coef, bound, valid, cond, residual)


@dataclass
class AttentionIntervals:
    r"""Attention weights recovered from outputs with valid intervals.

    Attributes
    ----------
    alpha : ndarray, shape (n, m, k, k)
        Least-squares estimate (NaN on dropped examples).
    lower, upper : ndarray, shape (n, m, k, k)
        :math:`l\le\alpha\le u` (``[0, 1]`` on dropped examples).
    coefficients : RowCoefficients
    """

    alpha: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    coefficients: RowCoefficients

    @property
    def max_width(self) -> float:
        ok = self.coefficients.valid
        return float((self.upper[ok] - self.lower[ok]).max()) if ok.any() else 1.0


def simplex_intervals(est: np.ndarray, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact LP bounds of each coordinate over :math:`\{|\alpha-\hat\alpha|\le r\}\cap\Delta`.

    The last axis is the simplex axis. Non-finite radii give ``[0, 1]``.
    """
    rad = np.where(np.isfinite(radius), radius, np.inf)
    est = np.where(np.isfinite(est), est, 0.5)
    lo = np.clip(est - rad, 0.0, 1.0)
    up = np.clip(est + rad, 0.0, 1.0)
    lo2 = np.maximum(lo, 1.0 - (up.sum(-1, keepdims=True) - up))
    up2 = np.minimum(up, 1.0 - (lo.sum(-1, keepdims=True) - lo))
    return np.clip(lo2, 0.0, 1.0), np.clip(up2, 0.0, 1.0)


def attention_from_outputs(X, Y, ws, *, noise: float = 0.0, z: float = NOISE_Z,
                           cond_max: float = COND_MAX) -> AttentionIntervals:
    r"""Attention weights :math:`\alpha_{iab}` from outputs for known ``ws (m, d, d)``, with intervals.

    Needs :math:`mk\le d`. Noiseless: :math:`\hat\alpha` is exact to round-off and the intervals
    have width :math:`O(u\,\kappa)`. Noisy: widths scale with ``noise`` (module docstring).
    """
    rc = row_coefficients(X, Y, ws, noise=noise, z=z, cond_max=cond_max)
    lo, up = simplex_intervals(rc.coef, rc.bound)
    return AttentionIntervals(rc.coef, lo, up, rc)


# ----------------------------------------------------------------------------- Θ-step body
@dataclass
class ThetaBody:
    r"""One head's sculpted body :math:`\{\Theta: lo\le F\,\mathrm{vec}\Theta\le hi,\ |\Theta_{pq}|\le R\}`."""

    rows: LogRatioRows
    d: int
    radius: float = THETA_BOX

    def upto(self, n_examples: int) -> ThetaBody:
        """The body built from the first ``n_examples`` examples only (a superset of this body)."""
        return ThetaBody(self.rows.subset(self.rows.example < n_examples), self.d, self.radius)

    def violation(self, theta) -> float:
        """Largest constraint violation at ``theta (d, d)`` (0 means inside)."""
        th = np.asarray(theta, dtype=float)
        return max(self.rows.violation(th), float(max(0.0, np.abs(th).max() - self.radius)))


def theta_body(X, lower, upper, *, radius: float = THETA_BOX) -> ThetaBody:
    """Build one head's Θ-step body from attention intervals ``lower, upper (n, k, k)``."""
    Xb, _ = check_inputs(X, "X")
    lo = check_array(lower, "lower", ndim=3)
    up = check_array(upper, "upper", ndim=3)
    n, k, d = Xb.shape
    if lo.shape != (n, k, k) or up.shape != (n, k, k):
        raise ValueError(f"lower/upper must have shape {(n, k, k)}, got {lo.shape}, {up.shape}")
    if np.any(lo > up + 1e-15):
        raise ValueError("lower must be <= upper")
    return ThetaBody(logratio_rows(Xb, lo, up), d, float(radius))


@dataclass
class BodyCentre:
    """A centre of a Θ-body: ``theta (d, d)``, inscribed ``radius`` (Chebyshev) and solver info."""

    theta: np.ndarray
    radius: float
    method: str
    solve: SolveInfo | None = None


def body_centre(body: ThetaBody, *, method: str = "chebyshev", solver: str | None = None) -> BodyCentre:
    r"""Centre of a Θ-body.

    ``"chebyshev"``: :math:`\max\rho` s.t. :math:`F\theta+\rho\|F_r\|\le hi`,
    :math:`F\theta-\rho\|F_r\|\ge lo`, :math:`|\theta|+\rho\le R` (one LP, HiGHS).
    ``"lsq"``: the weighted least-squares point
    :math:`\arg\min\sum_r ((F_r\theta-\mathrm{mid}_r)/\mathrm{hw}_r)^2` (no solver; exact on
    noiseless data where :math:`\mathrm{hw}\to0`), minimum-norm in unidentified directions.

    Raises
    ------
    LearnError
        If the body is empty (data not realizable with these attention intervals).
    """
    d, R = body.d, body.rows
    if method == "lsq":
        if R.n_rows == 0:
            return BodyCentre(np.zeros((d, d)), float("nan"), "lsq")
        hw = np.maximum(0.5 * (R.hi - R.lo), 1e-12)
        w = 1.0 / hw
        th = np.linalg.lstsq(R.F * w[:, None], 0.5 * (R.hi + R.lo) * w, rcond=None)[0]
        return BodyCentre(th.reshape(d, d), float("nan"), "lsq")
    if method != "chebyshev":
        raise ValueError(f"method must be 'chebyshev' or 'lsq', got {method!r}")
    th = cp.Variable(d * d)
    rho = cp.Variable()
    nr = np.linalg.norm(R.F, axis=1) if R.n_rows else np.zeros(0)
    cons = [rho >= 0, th + rho <= body.radius, th - rho >= -body.radius]
    if R.n_rows:
        cons += [R.F @ th + cp.multiply(nr, rho) <= R.hi, R.F @ th - cp.multiply(nr, rho) >= R.lo]
    prob = cp.Problem(cp.Maximize(rho), cons)
    info = solve(prob, "lp", solver)
    return BodyCentre(np.asarray(th.value).reshape(d, d), float(rho.value), "chebyshev", info)


def body_widths(body: ThetaBody, directions, *, solver: str | None = None) -> np.ndarray:
    r"""Widths :math:`\max_{\Theta\in K}u^\top\theta-\min_{\Theta\in K}u^\top\theta` along unit ``directions (r, d*d)``.

    All :math:`2r` LPs are one CVXPY problem over stacked copies ``Z (d*d, 2r)`` (independent
    copies, so maximising the sum maximises every term); one matrix constraint per block.
    """
    U = check_array(directions, "directions", ndim=2)
    d2 = body.d * body.d
    if U.shape[1] != d2:
        raise ValueError(f"directions must have shape (r, {d2}), got {U.shape}")
    U = U / np.linalg.norm(U, axis=1, keepdims=True)
    r = U.shape[0]
    Z = cp.Variable((d2, 2 * r))
    cons = box_block(Z, body.radius)
    if body.rows.n_rows:
        cons += interval_block(body.rows.F, Z, body.rows.lo, body.rows.hi)
    Usg = np.concatenate([U, -U]).T  # (d2, 2r)
    prob = cp.Problem(cp.Maximize(cp.sum(cp.multiply(Usg, Z))), cons)
    solve(prob, "lp", solver)
    Zv = np.asarray(Z.value)
    return np.einsum("pr,pr->r", U.T, Zv[:, :r] - Zv[:, r:])
