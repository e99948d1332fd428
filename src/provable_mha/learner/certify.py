r"""The certificate: what the held-out split (and a strategy's body) prove about the learned layer.

Every strategy ends here. The statements, their assumptions and proofs are in
``docs/certificates.md``; this module computes them.

1. **Counting.** Only *distinct* held-out inputs that do not occur in the training split count
   (:func:`fresh_distinct`): a duplicated or leaked input is not an independent test.
2. **Realizable PAC bound.** If each of the :math:`n'` counted inputs has max-entry residual
   :math:`\le\varepsilon` (:func:`.policy.holdout_epsilon`), then with probability
   :math:`\ge1-\delta`, :math:`\Pr_X[\max|\hat F(X)-Y|>\varepsilon]\le\ln(1/\delta)/n'`.
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

import numpy as np

from ..model import MultiHeadAttention
from . import policy
from .result import Certificate

__all__ = ["fresh_distinct", "output_bound", "bernstein_mse_bound", "holdout_certificate"]


def fresh_distinct(X_train: np.ndarray, X_holdout: np.ndarray) -> np.ndarray:
    """Indices of held-out examples whose input is distinct and does not occur in training.

    The first occurrence of each distinct held-out input is kept; inputs are compared exactly
    (byte for byte, after conversion to float64).
    """
    seen = {row.tobytes() for row in np.ascontiguousarray(X_train, dtype=np.float64)}
    keep = []
    for j, row in enumerate(np.ascontiguousarray(X_holdout, dtype=np.float64)):
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


def _reference(Yh: np.ndarray, y_mean: np.ndarray | None) -> dict:
    ref = {"zero_layer_max_residual": float(np.abs(Yh).max()) if Yh.size else 0.0}
    if y_mean is not None:
        ref["mean_predictor_max_residual"] = float(np.abs(Yh - y_mean).max()) if Yh.size else 0.0
    return ref


_WORDS = {"zero_layer_max_residual": "zero layer", "mean_predictor_max_residual": "training-mean predictor"}


def _statement(nd, n_held, n_min, max_res, eps, delta, fail_bound, certified, failed, trivial) -> str:
    """The certificate's main sentence (module docstring, items 1-3)."""
    head = f"{nd} distinct unseen held-out inputs (of {n_held} held out)"
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
    Xc, Yc = Xh[keep], Yh[keep]
    nd = int(keep.size)
    assumptions = ["examples are independent draws from one input distribution, labelled by the "
                   "same rule; the statement is about that distribution"]
    if noise > 0:
        assumptions.append(f"label noise is Gaussian, independent, with standard deviation <= {noise:g}")
    if nd == 0:
        R = np.zeros((0,))
        max_res = rms = rel = math.inf
    else:
        R = layer(Xc) - Yc
        max_res = float(np.abs(R).max())
        rms = float(np.sqrt(np.mean(R ** 2)))
        rel = float(np.linalg.norm(R) / max(np.linalg.norm(Yc), 1e-300))
    eps = policy.holdout_epsilon(y_scale, noise, leverage, Yc.size, delta) if nd else 0.0
    reference = _reference(Yc, y_mean)
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
        losses = np.minimum((R ** 2).reshape(nd, -1).mean(axis=1), L)
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
