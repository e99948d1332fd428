r"""The certificate: what the held-out split (and a strategy's body) prove about the learned layer.

Every strategy ends here. The statements, their assumptions and proofs are in
``docs/certificates.md``; this module computes them.

1. **Counting.** Only *distinct* held-out inputs that do not occur in the training split count
   towards the bound (:func:`fresh_distinct`): a duplicated or leaked input is not an independent
   test. Every held-out example must pass all the same: a failure on a leaked input is a failure.
2. **Realizable PAC bound.** If every held-out example has max-entry residual
   :math:`\le\varepsilon` (:func:`.policy.holdout_epsilon`), then with probability
   :math:`\ge1-\delta`, :math:`\Pr_X[\max|\hat F(X)-Y|>\varepsilon]\le\ln(1/\delta)/n'`
   (:math:`n'` the counted inputs; the proof uses all :math:`n_h\ge n'` draws).
3. **Vacuity.** The statement is *vacuous* (and not certified) when the zero layer or the
   training-mean predictor would satisfy it too (max residual :math:`\le\varepsilon` on the same
   inputs), or when :math:`n'` is below :data:`.policy.MIN_DISTINCT_HOLDOUT`.
4. **Mean squared error**, only under a declared label bound :math:`|Y_{ae}|\le B`: the
   empirical Bernstein inequality of Maurer & Pontil (2009, Thm. 4) on the loss clipped to
   :math:`[0,L]`, :math:`L=(B_{\hat F}+B)^2`; without a declared bound none is reported.
5. **Parameters.** A strategy that built a body (structured) supplies ``param_radius`` and its
   trust-region assumption; the others report ``None``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..model import MultiHeadAttention
from . import policy
from .result import Certificate

__all__ = ["fresh_distinct", "fresh_leverage", "inconsistencies", "output_bound", "bernstein_mse_bound",
           "holdout_certificate", "LEVERAGE_MAX_PARAMS"]


def fresh_distinct(X_train: np.ndarray, X_holdout: np.ndarray) -> np.ndarray:
    """Indices of held-out examples whose input is distinct and does not occur in training.

    The first occurrence of each distinct held-out input is kept; inputs are compared exactly
    (byte for byte, after conversion to float64).
    """
    # + 0.0 turns -0.0 into 0.0: equal inputs must have equal bytes
    seen = {row.tobytes() for row in np.ascontiguousarray(X_train + 0.0, dtype=np.float64)}
    keep = []
    for j, row in enumerate(np.ascontiguousarray(X_holdout + 0.0, dtype=np.float64)):
        key = row.tobytes()
        if key not in seen:
            seen.add(key)
            keep.append(j)
    return np.asarray(keep, dtype=int)


def output_bound(ws: np.ndarray, radius: float = 1.0) -> float:
    r"""Bound :math:`\max_{a,e}|F(X)_{ae}| \le R\sum_i\max_e\|W_i[:,e]\|_1` for :math:`\|x_b\|_\infty\le R`.

    Each output entry is a convex combination over tokens of :math:`x_b^\top W_i[:,e]`.
    """
    return float(radius * np.abs(ws).sum(axis=1).max(axis=1).sum())


def bernstein_mse_bound(losses: np.ndarray, loss_range: float, delta: float) -> float:
    r"""Empirical Bernstein upper bound on :math:`\mathbb{E}\ell` for i.i.d. :math:`\ell\in[0,L]`.

    Maurer & Pontil (2009), Theorem 4: with probability :math:`\ge1-\delta`,

    .. math::

        \mathbb{E}\ell\le\bar\ell+\sqrt{\frac{2V_n\ln(2/\delta)}{n}}+\frac{7L\ln(2/\delta)}{3(n-1)},

    :math:`V_n` the unbiased sample variance. Needs :math:`n\ge2`.
    """
    n = losses.size
    if n < 2:
        return math.inf
    lg = math.log(2.0 / delta)
    return float(losses.mean() + math.sqrt(2.0 * losses.var(ddof=1) * lg / n)
                 + 7.0 * loss_range * lg / (3.0 * (n - 1)))


#: Largest 2md^2 for which :func:`fresh_leverage` forms the joint normal matrix (P x P).
LEVERAGE_MAX_PARAMS = 2048


def fresh_leverage(layer: MultiHeadAttention, X: np.ndarray) -> float | None:
    r"""Mean leave-one-example-out leverage of the fit on training inputs ``X``: the variance of a
    fresh prediction in units of :math:`\sigma^2`, to first order.

    With :math:`H=J^\top J` over all training rows and :math:`L_i=J_iH^{-1}J_i^\top` the
    :math:`kd\times kd` hat block of example :math:`i`, the prediction at example :math:`i` of the fit
    without it has covariance :math:`\sigma^2L_i(I-L_i)^{-1}` (block Sherman–Morrison). Its mean
    trace per entry estimates the fresh-input leverage without assuming the input distribution;
    it exceeds the in-sample mean :math:`p/N` when :math:`H` is poorly conditioned (near the
    information limit). Uses training data only. ``None`` above :data:`LEVERAGE_MAX_PARAMS`.
    """
    from .design import joint_jacobian, joint_normal_equations

    n, k, d = X.shape
    th, ws = np.asarray(layer.thetas), np.asarray(layer.ws)
    if 2 * th.size > LEVERAGE_MAX_PARAMS:
        return None
    H, _ = joint_normal_equations(th, ws, X, np.zeros((n * k, d)))
    try:
        Hinv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None
    J = joint_jacobian(th, ws, X).reshape(n, k * d, -1)
    L = np.einsum("nrp,pq,nsq->nrs", J, Hinv, J, optimize=True)
    eye = np.eye(k * d)
    vals = []
    for Li in L:
        try:
            vals.append(float(np.trace(np.linalg.solve(eye - Li, Li))) / (k * d))
        except np.linalg.LinAlgError:
            return None
    return float(np.mean(vals))


def _reference(Yh: np.ndarray, y_mean: np.ndarray | None) -> dict:
    ref = {"zero_layer_max_residual": float(np.abs(Yh).max()) if Yh.size else 0.0}
    if y_mean is not None:
        ref["mean_predictor_max_residual"] = float(np.abs(Yh - y_mean).max()) if Yh.size else 0.0
    return ref


_WORDS = {"zero_layer_max_residual": "zero layer", "mean_predictor_max_residual": "training-mean predictor"}


def _statement(nd, n_held, n_min, max_res, eps, delta, fail_bound, certified, failed, trivial) -> str:
    """The certificate's main sentence (module docstring, items 1-3)."""
    head = f"{n_held} held-out examples ({nd} distinct inputs unseen in training are counted)"
    if certified:
        return (f"every one of {head} fits to max residual {max_res:.2e} <= eps = {eps:.2e}; with prob >= "
                f"{1 - delta:g}, P[max residual > eps] <= {fail_bound:.3g} on a fresh input")
    if failed:
        return f"NOT certified: invariant(s) {', '.join(failed)} violated ({head})"
    if nd < n_min:
        return f"VACUOUS, not certified: only {nd} < {n_min} distinct unseen held-out inputs"
    if trivial:
        who = " and the ".join(_WORDS[t] for t in trivial)
        return f"VACUOUS, not certified: eps = {eps:.2e} is met by the {who} too"
    return f"NOT certified: held-out max residual {max_res:.2e} exceeds eps = {eps:.2e} on {head}"


def holdout_certificate(layer: MultiHeadAttention, X_train: np.ndarray, Xh: np.ndarray, Yh: np.ndarray, *,
                        y_scale: float, delta: float = 0.05, noise: float = 0.0, leverage: float = 0.0,
                        y_mean: np.ndarray | None = None, label_bound: float | None = None,
                        param: dict | None = None, identifiable: bool = True,
                        checks: dict | None = None, programs: list | None = None) -> Certificate:
    r"""Certificate for ``layer`` from held-out ``(Xh, Yh)`` (module docstring).

    Parameters
    ----------
    layer : MultiHeadAttention
    X_train : ndarray (n_tr, k, d)
        Training inputs, to exclude leaked held-out inputs.
    Xh, Yh : ndarray (n_h, k, d)
    y_scale : float
        Largest training label magnitude (scale of the round-off tolerance).
    delta : float
        Confidence parameter of each statement.
    noise : float
        Declared label-noise level σ (widens ε: :func:`.policy.holdout_epsilon`).
    leverage : float
        Mean leverage :math:`p/N_{tr}` of the fit (noise only).
    y_mean : ndarray (k, d), optional
        Training-mean prediction, a reference for vacuity.
    label_bound : float, optional
        Declared :math:`B` with :math:`|Y_{ae}|\le B`; enables ``mse_bound``.
    param : dict, optional
        ``{"radius", "assumption", "statement"}`` from a strategy's body.
    identifiable : bool
        From :func:`provable_mha.identifiability` on the learned layer.
    checks : dict, optional
        Invariants checked on the way, ``{name: {"ok": bool, ...}}``; a failed one blocks
        certification.
    """
    keep = fresh_distinct(X_train, Xh)
    nd = int(keep.size)
    assumptions = ["examples are independent draws from one input distribution, labelled by the "
                   "same rule; the statement is about that distribution"]
    if noise > 0:
        assumptions.append(f"label noise is Gaussian, independent, with standard deviation <= {noise:g}")
    R = layer(Xh) - Yh  # every held-out example must pass; only the distinct unseen ones are counted
    max_res = float(np.abs(R).max())
    rms = float(np.sqrt(np.mean(R ** 2)))
    rel = float(np.linalg.norm(R) / max(np.linalg.norm(Yh), 1e-300))
    eps = policy.holdout_epsilon(y_scale, noise, leverage, Yh.size, delta)
    reference = _reference(Yh, y_mean)
    trivial = [name for name, v in reference.items() if v <= eps]
    failed = sorted(name for name, c in (checks or {}).items() if not c.get("ok", True))
    n_min = policy.min_distinct_holdout(delta)
    vacuous = nd < n_min or bool(trivial)
    fits = nd > 0 and max_res <= eps
    certified = bool(fits and not vacuous and not failed)
    fail_bound = float(min(1.0, math.log(1 / delta) / nd)) if certified else 1.0

    mse_bound = None
    if label_bound is not None and nd >= 2:
        L = (output_bound(layer.ws, float(np.abs(Xh).max())) + float(label_bound)) ** 2
        losses = np.minimum((R[keep] ** 2).reshape(nd, -1).mean(axis=1), L)
        mse_bound = bernstein_mse_bound(losses, L, delta)
        assumptions.append(f"every label entry satisfies |Y| <= {float(label_bound):g} (for mse_bound; "
                           f"without it the bound holds for the mean squared error clipped at {L:.3g})")
    if param is not None and param.get("radius") is not None:
        assumptions.append(param["assumption"])

    statement = _statement(nd, Xh.shape[0], n_min, max_res, eps, delta, fail_bound, certified, failed, trivial)
    if mse_bound is not None:
        statement += f"; E[mean sq. error] <= {mse_bound:.3g} (empirical Bernstein, prob >= {1 - delta:g})"
    if param is not None and param.get("statement"):
        statement += "; " + param["statement"]
    if not identifiable:
        statement += "; parameters NOT identified (only the function is certified)"
    statement += " [under: " + "; ".join(assumptions) + "]"
    return Certificate(
        certified=certified, vacuous=vacuous, statement=statement, assumptions=assumptions,
        n_holdout=int(Xh.shape[0]), n_distinct_holdout=nd, delta=float(delta), epsilon=float(eps),
        max_residual=max_res, rms_residual=rms, relative_error=rel, failure_rate_bound=fail_bound,
        mse_bound=mse_bound, param_radius=None if param is None else param.get("radius"),
        identifiable=bool(identifiable), reference=reference, checks=dict(checks or {}),
        programs=list(programs or []))

def inconsistencies(cert: Certificate) -> list[str]:
    r"""Inconsistencies between the stated fields and the rules of :mod:`.certify` (empty: consistent).

    Only what the stored fields determine is checked (the held-out data are not stored):

    * types and ranges: flags are ``bool``; :math:`0\le n'\le n_h` are ``int``;
      :math:`0<\delta<1`; no NaN; ``rms_residual <= max_residual``;
    * vacuity: ``vacuous`` must hold when :math:`n'<` :func:`.policy.min_distinct_holdout` (δ) or a
      reference predictor (zero layer, training mean) meets ε;
    * ``certified`` implies :math:`n'>0`, ``max_residual <= epsilon``, ``not vacuous`` and no failed
      entry in ``checks``;
    * ``failure_rate_bound`` equals :math:`\min(1,\ln(1/\delta)/n')` when certified, else 1.

    A certificate that claims less than it could (not certified although it would be) is not
    an inconsistency. :func:`provable_mha.load` refuses a file whose certificate has any.
    """

    def num(v) -> bool:  # a real number >= 0 (inf allowed: no counted held-out input), not NaN/bool
        return isinstance(v, numbers.Real) and not isinstance(v, bool) and v >= 0

    issues = [f"{name} = {getattr(cert, name)!r} is not a bool" for name in ("certified", "vacuous", "identifiable")
              if not isinstance(getattr(cert, name), bool)]
    issues += [f"{name} = {getattr(cert, name)!r} is not a non-negative int"
               for name in ("n_holdout", "n_distinct_holdout")
               if not (isinstance(getattr(cert, name), numbers.Integral) and num(getattr(cert, name)))]
    issues += [f"{name} = {getattr(cert, name)!r} is not a non-negative number"
               for name in ("delta", "epsilon", "max_residual", "rms_residual", "relative_error",
                            "failure_rate_bound") if not num(getattr(cert, name))]
    issues += [f"{name} = {getattr(cert, name)!r} is not None or a non-negative number"
               for name in ("mse_bound", "param_radius")
               if getattr(cert, name) is not None and not num(getattr(cert, name))]
    if not isinstance(cert.reference, dict) or not isinstance(cert.checks, dict):
        issues.append("reference and checks must be dicts")
    if issues:
        return issues  # the rules below need well-typed fields
    nd, eps = cert.n_distinct_holdout, cert.epsilon
    if nd > cert.n_holdout:
        issues.append(f"n_distinct_holdout = {nd} > n_holdout = {cert.n_holdout}")
    if not 0 < cert.delta < 1:
        return issues + [f"delta = {cert.delta} is not in (0, 1)"]
    if cert.rms_residual > cert.max_residual * (1 + 1e-12):
        issues.append(f"rms_residual {cert.rms_residual!r} > max_residual {cert.max_residual!r}")
    n_min = policy.min_distinct_holdout(cert.delta)
    if nd < n_min and not cert.vacuous:
        issues.append(f"vacuous is false with n_distinct_holdout = {nd} < min_distinct_holdout(delta) = {n_min}")
    trivial = sorted(name for name, v in cert.reference.items() if not (num(v) and v > eps))
    if trivial and not cert.vacuous:
        issues.append(f"vacuous is false although reference {trivial} meets epsilon = {eps!r} (or is not a number)")
    if cert.certified:
        if nd == 0 or not cert.max_residual <= eps:
            issues.append(f"certified with max_residual = {cert.max_residual!r} > epsilon = {eps!r}")
        if cert.vacuous:
            issues.append("certified and vacuous at once")
        failed = sorted(name for name, c in cert.checks.items() if not (isinstance(c, dict) and c.get("ok", True)))
        if failed:
            issues.append(f"certified although checks {failed} failed")
    if (cert.param_radius is not None or cert.mse_bound is not None) and not cert.assumptions:
        issues.append("a parameter radius or MSE bound is stated without the assumptions it rests on")
    expect = min(1.0, math.log(1.0 / cert.delta) / nd) if cert.certified and nd > 0 else 1.0
    if not math.isclose(cert.failure_rate_bound, expect, rel_tol=1e-12, abs_tol=0.0):
        issues.append(f"failure_rate_bound = {cert.failure_rate_bound!r}, but the rule gives {expect!r}")
    return issues
