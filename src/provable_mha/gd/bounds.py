r"""Constants and bounds of the gradient-descent analysis (statements and proofs: docs/gd.md).

Notation: :math:`R = \max_{i,t}\|x_{i,t}\|_2` (largest token norm over the data), :math:`B` a bound
on :math:`\max_h\|U_h\|_2` over the region considered, :math:`c_H` the output normalisation
(:math:`1/\sqrt H` or :math:`1/H`), :math:`\ell` the logistic loss, for which
:math:`|\ell'| \le \min(1, \ell)` and :math:`0 < \ell'' \le 1/4`, :math:`\omega` the flat
parameter vector and :math:`\Theta_h` the attention matrices.

.. math::

    \beta_1(R, B) = \sqrt{R^2 + 4R^6B^2}, \qquad \beta_2(R, B) = 2R^3 + 6R^5B,

with :math:`\|\nabla\Phi\| \le c_H\sqrt H\,\beta_1` (docs/gd.md §3, Lemma 1) and
:math:`\|\nabla^2\Phi\| \le c_H\beta_2` (Lemma 2); for :math:`c_H = 1/\sqrt H` these read
:math:`\beta_1` and :math:`\beta_2/\sqrt H`. Every statement of this module is derived in this
project (docs/gd.md §3–§7), after the analysis announced in the abstract of arXiv 2310.12680
(convergence and generalization guarantees for GD under a realizability condition); the
constants are ours and are not claimed to be the paper's (its text was not available to us).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import check_array, check_positive_int
from ._deprecation import renamed_kwargs

__all__ = [
    "token_radius", "beta1", "beta2", "Constants", "constants", "model_constants", "safe_step",
    "realizability_radius", "heads_for_realizability", "TrainingBound", "training_bound",
    "generalization_bound",
]


def _nonneg(x, name: str) -> float:
    x = float(x)
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {x}")
    return x


def _pos(x, name: str) -> float:
    x = float(x)
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {x}")
    return x


def _c(H: int, normalization: str) -> float:
    H = check_positive_int(H, "H")
    if normalization == "sqrt":
        return 1.0 / math.sqrt(H)
    if normalization == "mean":
        return 1.0 / H
    raise ValueError(f"normalization must be 'sqrt' or 'mean', got {normalization!r}")


def token_radius(X) -> float:
    r""":math:`R = \max_{i,t}\|x_{i,t}\|_2` over a batch ``(n, T, d)``."""
    arr = check_array(X, "X", ndim=(2, 3))
    return float(np.sqrt(np.max(np.sum(arr * arr, axis=-1))))


def beta1(R: float, B: float) -> float:
    r""":math:`\beta_1 = \sqrt{R^2 + 4R^6B^2}` (gradient bound of :math:`\Phi`)."""
    R, B = _nonneg(R, "R"), _nonneg(B, "B")
    return math.sqrt(R**2 + 4 * R**6 * B**2)


def beta2(R: float, B: float) -> float:
    r""":math:`\beta_2 = 2R^3 + 6R^5B` (:math:`\sqrt H` times the Hessian bound of :math:`\Phi`)."""
    R, B = _nonneg(R, "R"), _nonneg(B, "B")
    return 2 * R**3 + 6 * R**5 * B


@dataclass(frozen=True)
class Constants:
    r"""The constants of the analysis at token radius ``R`` and head-norm bound ``B``.

    Attributes
    ----------
    beta1, beta2 : float
        :math:`\beta_1(R,B)`, :math:`\beta_2(R,B)`.
    grad_bound : float
        :math:`G = c_H\sqrt H\beta_1 \ge \|\nabla\Phi\|`; also the self-bounding constant:
        :math:`\|\nabla\hat L\| \le G\hat L`.
    hess_bound : float
        :math:`\kappa = c_H\beta_2 \ge \|\nabla^2\Phi\|`; the weak-convexity constant:
        :math:`\lambda_{\min}(\nabla^2\hat L) \ge -\kappa\,\hat L` (and :math:`\ge -\kappa`).
    smoothness : float
        :math:`\rho = G^2/4 + \kappa \ge \|\nabla^2\hat L\|`.
    max_step : float
        :math:`1/\rho`: the step-size condition :math:`\eta \le 1/\rho`.
    """

    R: float
    B: float
    H: int
    normalization: str
    beta1: float
    beta2: float
    grad_bound: float
    hess_bound: float
    smoothness: float
    max_step: float

    @property
    def self_bounded(self) -> float:
        """Alias of :attr:`grad_bound`: :math:`\\|\\nabla\\hat L\\| \\le G\\hat L`."""
        return self.grad_bound

    @property
    def weak_convexity(self) -> float:
        """Alias of :attr:`hess_bound`."""
        return self.hess_bound


def constants(R: float, B: float, H: int, normalization: str = "sqrt") -> Constants:
    r"""All constants at :math:`(R, B, H)`; see :class:`Constants` for the formulas."""
    c = _c(H, normalization)
    b1, b2 = beta1(R, B), beta2(R, B)
    G = c * math.sqrt(H) * b1
    kappa = c * b2
    rho = G**2 / 4 + kappa
    return Constants(float(R), float(B), int(H), normalization, b1, b2, G, kappa, rho,
                     math.inf if rho == 0 else 1.0 / rho)


@renamed_kwargs(theta="params")
def model_constants(model, X, params=None, margin: float = 0.0) -> Constants:
    r"""Constants at the parameters of ``model`` (or ``params``) on data ``X``:
    :math:`R` = :func:`token_radius`, :math:`B = \max_h\|U_h\| + \mathrm{margin}`."""
    U, _ = model.unpack(params)
    B = float(np.linalg.norm(U, axis=1).max()) + _nonneg(margin, "margin")
    return constants(token_radius(X), B, model.H, model.normalization)


@renamed_kwargs(theta="params")
def safe_step(model, X, loss: float, params=None) -> float:
    r"""A step satisfying the step-size condition on the whole segment of one GD step (docs/gd.md §4).

    Per head :math:`\|\nabla_{U_h}\hat L\| \le c_H R\hat L`, and any
    :math:`\eta \le 1/\rho \le 4/G^2 \le 4/(c_H^2HR^2)` moves :math:`U_h` by at most
    :math:`4\hat L/(c_H H R)`. So :math:`\eta = 1/\rho(B')` with
    :math:`B' = \max_h\|U_h\| + 4\hat L/(c_HHR)` bounds the smoothness on the segment
    :math:`[\omega,\omega-\eta\nabla\hat L]`, and the descent lemma gives
    :math:`\hat L(\omega^+) \le \hat L(\omega) - \frac\eta2\|\nabla\hat L(\omega)\|^2`.
    """
    R = token_radius(X)
    if R == 0:
        return math.inf
    c = _c(model.H, model.normalization)
    margin = 4 * _nonneg(loss, "loss") / (c * model.H * R)
    return model_constants(model, X, params, margin=margin).max_step


def realizability_radius(gamma: float, eps: float, phi0_max: float) -> float:
    r"""Radius :math:`\lambda = 2(\log(1/\varepsilon) + \max_i|\Phi(X_i;\omega_0)|)/\gamma` (docs/gd.md §6).

    If :math:`y_i\langle\nabla\Phi(X_i;\omega_0),\bar\omega\rangle \ge \gamma` with
    :math:`\|\bar\omega\|=1`, then :math:`\omega = \omega_0 + \lambda\bar\omega` has
    :math:`\hat L(\omega) \le \varepsilon` as soon as :math:`\kappa(B_0+\lambda)\,\lambda \le
    \gamma` (see :func:`heads_for_realizability`), because by Taylor's theorem
    :math:`y\Phi(\omega) \ge -|\Phi_0| + \lambda\gamma - \kappa\lambda^2/2 \ge \log(1/\varepsilon)`
    and :math:`\ell(t) \le e^{-t}`.
    """
    gamma = _pos(gamma, "gamma")
    eps = _pos(eps, "eps")
    if eps >= 1:
        raise ValueError(f"eps must be < 1, got {eps}")
    return 2 * (math.log(1 / eps) + _nonneg(phi0_max, "phi0_max")) / gamma


def heads_for_realizability(R: float, B0: float, gamma: float, radius: float,
                            normalization: str = "sqrt") -> int:
    r"""Smallest :math:`H` with :math:`c_H\,\beta_2(R, B_0+\lambda)\,\lambda \le \gamma` (docs/gd.md §6).

    For :math:`c_H = 1/\sqrt H`: :math:`H \ge (\beta_2\lambda/\gamma)^2`; for :math:`1/H`:
    :math:`H \ge \beta_2\lambda/\gamma`.
    """
    _c(1, normalization)
    b2 = beta2(R, _nonneg(B0, "B0") + _nonneg(radius, "radius"))
    q = b2 * radius / _pos(gamma, "gamma")
    need = q**2 if normalization == "sqrt" else q
    return max(1, math.ceil(need - 1e-12))


@dataclass(frozen=True)
class TrainingBound:
    r"""Result of :func:`training_bound`.

    ``bound`` bounds :math:`\hat L(\omega_T) \le \frac1T\sum_{t=1}^T\hat L(\omega_t)`;
    ``valid`` says whether both hypotheses hold: ``step_ok`` (:math:`\eta\le 1/\rho(B)`) and
    ``heads_ok`` (:math:`\kappa(B)A \le 1`). ``A`` bounds :math:`\|\omega_t-\omega\|^2` and
    ``B`` bounds :math:`\max_h\|U_h\|` along the run.
    """

    bound: float
    A: float
    B: float
    kappa: float
    rho: float
    step_ok: bool
    heads_ok: bool

    @property
    def valid(self) -> bool:
        return self.step_ok and self.heads_ok


def training_bound(*, R: float, B0: float, H: int, eta: float, steps: int, radius: float,
                   comparator_loss: float, init_loss: float,
                   normalization: str = "sqrt") -> TrainingBound:
    r"""Finite-time training bound for full-batch GD (derived in docs/gd.md, Theorem T).

    For any comparator :math:`\omega` with :math:`r = \|\omega-\omega_0\|` let

    .. math::

        A = r^2 + 2\eta T\hat L(\omega) + \eta\hat L(\omega_0),\quad
        B = B_0 + r + \sqrt A + \eta c_H R\hat L(\omega_0),

    :math:`\rho = \rho(R,B)`, :math:`\kappa = c_H\beta_2(R,B)`. If :math:`\eta\le 1/\rho` and
    :math:`\kappa A\le 1` then for every :math:`t\le T`, :math:`\|\omega_t-\omega\|^2\le A` and

    .. math::

        \hat L(\omega_T) \le \frac1T\sum_{t=1}^T \hat L(\omega_t)
        \le 2\hat L(\omega) + \frac{r^2}{\eta T} + \frac{\hat L(\omega_0)}{T}.
    """
    T = check_positive_int(steps, "steps")
    eta = _pos(eta, "eta")
    r = _nonneg(radius, "radius")
    Lc, L0 = _nonneg(comparator_loss, "comparator_loss"), _nonneg(init_loss, "init_loss")
    c = _c(H, normalization)
    A = r**2 + 2 * eta * T * Lc + eta * L0
    B = _nonneg(B0, "B0") + r + math.sqrt(A) + eta * c * _nonneg(R, "R") * L0
    k = constants(R, B, H, normalization)
    bound = 2 * Lc + r**2 / (eta * T) + L0 / T
    return TrainingBound(bound, A, B, k.hess_bound, k.smoothness,
                         eta <= k.max_step, k.hess_bound * A <= 1.0)


def generalization_bound(*, avg_train_loss: float, eta: float, steps: int, n: int,
                         grad_bound: float, kappa: float) -> float:
    r"""Stability bound on the expected generalization gap (docs/gd.md, Theorem G).

    With :math:`\varepsilon = \eta G^2 T e^{\eta\kappa T}/n < 1` and
    :math:`\bar A = \frac1T\sum_{t<T}\mathbb E\hat L(\omega_t)`,

    .. math::

        \mathbb E[L(\omega_T) - \hat L(\omega_T)] \le \frac{2\varepsilon}{1-\varepsilon}\bar A,

    provided every GD run on every training set stays where :math:`\max_h\|U_h\|\le B`
    (:math:`G=G(B)`, :math:`\kappa = \kappa(B)`) and :math:`\eta\le 1/\rho(B)`. Returns
    ``inf`` when :math:`\varepsilon \ge 1`.
    """
    T = check_positive_int(steps, "steps")
    n = check_positive_int(n, "n")
    eta = _pos(eta, "eta")
    expo = eta * _nonneg(kappa, "kappa") * T
    if expo > 700:
        return math.inf
    eps = eta * _nonneg(grad_bound, "grad_bound") ** 2 * T * math.exp(expo) / n
    if eps >= 1:
        return math.inf
    return 2 * eps / (1 - eps) * _nonneg(avg_train_loss, "avg_train_loss")
