r"""Non-degeneracy conditions under which the learner is analysed (see ``docs/conditions.md``).

Each condition is one function ``layer, k -> Condition`` with its value, threshold and verdict;
:func:`check_conditions` runs them all and returns a :class:`ConditionReport`. Thresholds are
module constants (:data:`DEFAULT_THRESHOLDS`) and can be overridden per call.

Before anything is allocated, :func:`check_conditions` estimates the memory of its probe (256
Boolean inputs, their attention and the temporaries of the attention-shape conditions) and
refuses sizes above the memory limit of :mod:`provable_mha._validation` (``docs/io.md``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from ._validation import check_memory, check_positive_int, check_real
from .model import MultiHeadAttention, attention_weights
from .sampling import sample_boolean

__all__ = ["Condition", "ConditionReport", "check_conditions", "memory_estimate", "DEFAULT_THRESHOLDS"]

#: Default thresholds; keys are condition names.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "sum_w_conditioning": 100.0,  # kappa(sum_i W_i) <= 100
    "theta_independence": 0.1,  # sigma_min([vec Theta_i]) / max ||Theta_i||_F >= 0.1
    "w_independence": 0.1,  # sigma_min([vec W_i]) / max ||W_i||_F >= 0.1
    "head_separation": 0.1,  # min_{i<j} relative distance between heads >= 0.1
    "theta_norm_bound": 10.0,  # max ||Theta_i||_F <= 10 (logit standard deviation)
    "w_norm_bound": 10.0,  # max ||W_i||_2 <= 10
    "attention_not_uniform": 0.02,  # mean TV distance of attention rows to uniform >= 0.02
    "attention_not_one_hot": 0.05,  # mean normalised entropy of attention rows >= 0.05
    "sculpt_route_dims": 0.0,  # m k <= d (value d - m k >= 0); only the structured route="sculpt" needs it
}

#: Conditions that are informational (the practical learner does not need them).
OPTIONAL = frozenset({"sculpt_route_dims"})

_N_PROBE = 256  # Boolean examples used by the attention-shape conditions
_PROBE_SEED = 20240206  # fixed, so a report is a deterministic function of the layer


@dataclass(frozen=True)
class Condition:
    """One checked condition.

    Attributes
    ----------
    name : str
    value : float
        The measured quantity.
    threshold : float
    comparison : {"<=", ">="}
        ``passed`` is ``value <= threshold`` or ``value >= threshold``.
    passed : bool
    required : bool
        Whether the practical learner's analysis uses it (optional ones are reported only).
    meaning : str
        One line on what is measured.
    """

    name: str
    value: float
    threshold: float
    comparison: str
    passed: bool
    required: bool
    meaning: str


@dataclass(frozen=True)
class ConditionReport:
    """All conditions for one layer at one sequence length ``k``."""

    m: int
    d: int
    k: int
    conditions: tuple[Condition, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """True iff every *required* condition passes."""
        return all(c.passed for c in self.conditions if c.required)

    @property
    def failed(self) -> list[str]:
        """Names of the failing conditions (required or not)."""
        return [c.name for c in self.conditions if not c.passed]

    def __getitem__(self, name: str) -> Condition:
        for c in self.conditions:
            if c.name == name:
                return c
        raise KeyError(name)

    def __iter__(self):
        return iter(self.conditions)

    def to_dict(self) -> dict:
        return {"m": self.m, "d": self.d, "k": self.k, "passed": self.passed,
                "conditions": [asdict(c) for c in self.conditions]}

    def __str__(self) -> str:
        lines = [f"conditions for m={self.m}, d={self.d}, k={self.k}: "
                 + ("PASS" if self.passed else "FAIL (" + ", ".join(self.failed) + ")")]
        lines.append(f"  {'condition':24s} {'value':>11s}    {'threshold':>9s}  verdict")
        for c in self.conditions:
            verdict = "pass" if c.passed else ("FAIL" if c.required else "fail (optional)")
            lines.append(f"  {c.name:24s} {c.value:11.4g} {c.comparison:>3s} {c.threshold:9.4g}  {verdict}")
        return "\n".join(lines)


def _make(name, value, thresholds, comparison, meaning) -> Condition:
    t = float(thresholds[name])
    v = float(value)
    ok = v <= t if comparison == "<=" else v >= t
    return Condition(name, v, t, comparison, bool(ok), name not in OPTIONAL, meaning)


def _unit(mats: np.ndarray) -> tuple[np.ndarray, float]:
    """``(mats / s, s)`` with ``s = max|mats|`` (1 for zeros): norms of the scaled array neither overflow
    (entries near 1e308) nor underflow (entries near 1e-200), so every value below is right at any scale."""
    s = float(np.abs(mats).max()) if mats.size else 0.0
    s = s if s > 0 else 1.0
    return mats / s, s


def _relative_smin(mats: np.ndarray) -> float:
    r""":math:`\sigma_m` of the :math:`m\times d^2` matrix of vectorised heads over the largest head norm.

    With :math:`m>d^2` the :math:`m` vectors in :math:`\mathbb{R}^{d^2}` are linearly dependent, so
    :math:`\sigma_m=0` (the SVD returns only :math:`d^2` values; the smallest of those is *not*
    :math:`\sigma_m`). The ratio is scale-invariant and computed on the scaled heads.
    """
    m = mats.shape[0]
    flat = _unit(mats.reshape(m, -1))[0]
    top = np.linalg.norm(flat, axis=1).max()
    if top == 0 or m > flat.shape[1]:
        return 0.0
    return float(np.linalg.svd(flat, compute_uv=False)[m - 1] / top)


def sum_w_conditioning(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r""":math:`\kappa(\sum_i W_i)`: phase (i) estimates :math:`\sum_i W_i` from correlations."""
    s = np.linalg.svd(_unit(layer.ws)[0].sum(axis=0), compute_uv=False)
    kappa = np.inf if s[-1] == 0 else s[0] / s[-1]
    return _make("sum_w_conditioning", kappa, t, "<=", "condition number of sum_i W_i")


def theta_independence(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r""":math:`\sigma_m([\mathrm{vec}\,\Theta_1,\dots,\mathrm{vec}\,\Theta_m])/\max_i\|\Theta_i\|_F`.

    0 when :math:`m>d^2` (see :func:`_relative_smin`).
    """
    return _make("theta_independence", _relative_smin(layer.thetas), t, ">=",
                 "relative smallest singular value of stacked vec(Theta_i)")


def w_independence(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r""":math:`\sigma_m([\mathrm{vec}\,W_1,\dots,\mathrm{vec}\,W_m])/\max_i\|W_i\|_F` (0 when :math:`m>d^2`)."""
    return _make("w_independence", _relative_smin(layer.ws), t, ">=",
                 "relative smallest singular value of stacked vec(W_i)")


def head_separation(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r"""Minimum over pairs of :math:`\big(\|\Theta_i-\Theta_j\|_F^2/\bar\Theta^2+\|W_i-W_j\|_F^2/\bar W^2\big)^{1/2}`.

    :math:`\bar\Theta^2, \bar W^2` are the mean squared head norms; ``inf`` for one head. Both ratios
    are scale-invariant and computed on the heads scaled to largest entry 1.
    """
    m = layer.m
    if m == 1:
        return _make("head_separation", np.inf, t, ">=", "minimum relative distance between heads")
    th, ws = _unit(layer.thetas)[0], _unit(layer.ws)[0]
    tn = max(np.mean(np.sum(th**2, axis=(1, 2))), 1e-300)
    wn = max(np.mean(np.sum(ws**2, axis=(1, 2))), 1e-300)
    best = np.inf
    for i in range(m):
        for j in range(i + 1, m):
            dist = np.sum((th[i] - th[j]) ** 2) / tn + np.sum((ws[i] - ws[j]) ** 2) / wn
            best = min(best, float(np.sqrt(dist)))
    return _make("head_separation", best, t, ">=", "minimum relative distance between heads")


def theta_norm_bound(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r""":math:`\max_i\|\Theta_i\|_F`, the standard deviation of an off-diagonal Boolean logit."""
    th, s = _unit(layer.thetas)
    with np.errstate(over="ignore"):  # a norm above 1.8e308 is inf, which fails the bound, as it should
        v = s * np.linalg.norm(th.reshape(layer.m, -1), axis=1).max()
    return _make("theta_norm_bound", v, t, "<=", "max_i ||Theta_i||_F (logit scale)")


def w_norm_bound(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r""":math:`\max_i\|W_i\|_2`."""
    ws, s = _unit(layer.ws)
    with np.errstate(over="ignore"):
        v = s * max(np.linalg.norm(w, 2) for w in ws)
    return _make("w_norm_bound", v, t, "<=", "max_i ||W_i||_2")


def _probe_attention(layer: MultiHeadAttention, k: int) -> np.ndarray:
    """Attention ``(256, m, k, k)`` on the fixed Boolean probe (memory checked by the caller)."""
    X = sample_boolean(_N_PROBE, k, layer.d, _PROBE_SEED, memory_limit=math.inf)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported just below
        A = attention_weights(np.asarray(layer.thetas), X)
    if not np.all(np.isfinite(A)):
        raise ValueError(f"the attention logits of this layer overflow float64 on Boolean inputs (max |Theta| = "
                         f"{np.abs(layer.thetas).max():.3g}): rescale it")
    return A


def attention_not_uniform(layer: MultiHeadAttention, k: int, t: dict, A=None) -> Condition:
    r"""Mean total-variation distance :math:`\tfrac12\sum_b|\alpha_{iab}-1/k|` over rows, heads, inputs.

    Uniform attention (``Theta = 0``) makes the heads indistinguishable from one averaged head.
    For ``k = 1`` attention is trivially uniform and the condition cannot hold.
    """
    A = _probe_attention(layer, k) if A is None else A
    # every head must be away from uniform: take the minimum over heads of the mean distance
    tv = 0.5 * np.abs(A - 1.0 / k).sum(axis=-1).mean(axis=(0, 2)).min()
    return _make("attention_not_uniform", tv, t, ">=",
                 "min over heads of mean TV distance of attention rows to uniform")


def attention_not_one_hot(layer: MultiHeadAttention, k: int, t: dict, A=None) -> Condition:
    r"""Mean normalised entropy :math:`-\sum_b\alpha_{iab}\log\alpha_{iab}/\log k` (min over heads).

    One-hot attention makes the log-ratio constraints of the Theta-step uninformative and
    the least-squares landscape flat; for ``k = 1`` the value is defined as 0.
    """
    if k == 1:
        return _make("attention_not_one_hot", 0.0, t, ">=", "min over heads of mean normalised entropy")
    A = _probe_attention(layer, k) if A is None else A
    ent = -(A * np.log(np.clip(A, 1e-300, None))).sum(axis=-1) / np.log(k)
    return _make("attention_not_one_hot", ent.mean(axis=(0, 2)).min(), t, ">=",
                 "min over heads of mean normalised entropy of attention rows")


def sculpt_route_dims(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r""":math:`d - mk \ge 0`: with :math:`mk\le d` each output row determines its attention rows."""
    return _make("sculpt_route_dims", layer.d - layer.m * k, t, ">=",
                 "d - m k (the structured sculpt route needs m k <= d)")


_CHECKS = (sum_w_conditioning, theta_independence, w_independence, head_separation,
           theta_norm_bound, w_norm_bound)


def memory_estimate(m: int, d: int, k: int) -> int:
    """Bytes :func:`check_conditions` allocates at most for ``(m, d, k)`` (an upper estimate).

    The probe inputs ``(256, k, d)``, the logits/attention and up to three temporaries of the
    attention-shape conditions ``(256, m, k, k)``, the ``X Θ`` intermediate ``(256, m, k, d)``, and
    three copies of the stacked heads ``(m, d^2)`` for the singular values.
    """
    return 8 * (_N_PROBE * (k * d + 2 * m * k * d + 5 * m * k * k) + 3 * m * d * d)


def _thresholds(thresholds) -> dict[str, float]:
    t = dict(DEFAULT_THRESHOLDS)
    if thresholds is None:
        return t
    if not isinstance(thresholds, Mapping):
        raise ValueError(f"thresholds must be a dict {{condition name: number}}, got {type(thresholds).__name__}")
    unknown = set(thresholds) - set(t)
    if unknown:
        raise ValueError(f"unknown condition names in thresholds: {sorted(map(str, unknown))}")
    t.update({key: check_real(v, f"thresholds[{key!r}]") for key, v in thresholds.items()})
    return t


def check_conditions(layer: MultiHeadAttention, k: int, thresholds: dict | None = None, *,
                     memory_limit: float | None = None) -> ConditionReport:
    """Evaluate every documented non-degeneracy condition of ``layer`` at sequence length ``k``.

    Parameters
    ----------
    layer : MultiHeadAttention
    k : int
        Number of tokens per example (the attention-shape conditions depend on it).
    thresholds : dict, optional
        Overrides for :data:`DEFAULT_THRESHOLDS` (finite real numbers).
    memory_limit : float, optional
        Bytes the call may allocate (default :data:`provable_mha._validation.MEMORY_LIMIT`, 4 GiB);
        checked against :func:`memory_estimate` before anything is allocated.

    Returns
    -------
    ConditionReport
        ``report.passed`` is true iff all required conditions hold; ``print(report)`` shows a table.

    Raises
    ------
    ValueError
        Bad arguments, a size above the memory limit, or a layer so large that a condition
        cannot be evaluated in float64 (a NaN value), instead of a report that would be wrong.
    """
    if not isinstance(layer, MultiHeadAttention):
        raise ValueError(f"layer must be a MultiHeadAttention, got {type(layer).__name__}")
    k = check_positive_int(k, "k")
    t = _thresholds(thresholds)
    check_memory(memory_estimate(layer.m, layer.d, k),
                 f"check_conditions(m = {layer.m}, d = {layer.d}, k = {k})", memory_limit)
    conds = [f(layer, k, t) for f in _CHECKS]
    A = _probe_attention(layer, k)
    conds.append(attention_not_uniform(layer, k, t, A))
    conds.append(attention_not_one_hot(layer, k, t, A))
    conds.append(sculpt_route_dims(layer, k, t))
    nan = [c.name for c in conds if math.isnan(c.value)]
    if nan:
        raise ValueError(f"conditions {nan} evaluate to NaN in float64 for this layer (max |Theta| = "
                         f"{np.abs(layer.thetas).max():.3g}, max |W| = {np.abs(layer.ws).max():.3g}): rescale it")
    return ConditionReport(layer.m, layer.d, k, tuple(conds))
