r"""Non-degeneracy conditions under which the learner is analysed (see ``docs/conditions.md``).

Each condition is one function ``layer, k -> Condition`` with its value, threshold and verdict;
:func:`check_conditions` runs them all and returns a :class:`ConditionReport`. Thresholds are
module constants (:data:`DEFAULT_THRESHOLDS`) and can be overridden per call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ._validation import check_positive_int
from .model import MultiHeadAttention
from .sampling import sample_boolean

__all__ = ["Condition", "ConditionReport", "check_conditions", "DEFAULT_THRESHOLDS"]

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
    "provable_mode_dims": 0.0,  # m k <= d (value d - m k >= 0); only the provable mode needs it
}

#: Conditions that are informational (the practical learner does not need them).
OPTIONAL = frozenset({"provable_mode_dims"})

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


def _relative_smin(mats: np.ndarray) -> float:
    """sigma_min of the m x d^2 matrix of vectorised heads over the largest head norm."""
    flat = mats.reshape(mats.shape[0], -1)
    top = np.linalg.norm(flat, axis=1).max()
    if top == 0:
        return 0.0
    return float(np.linalg.svd(flat, compute_uv=False)[-1] / top)


def sum_w_conditioning(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r""":math:`\kappa(\sum_i W_i)`: phase (i) estimates :math:`\sum_i W_i` from correlations."""
    s = np.linalg.svd(layer.ws.sum(axis=0), compute_uv=False)
    kappa = np.inf if s[-1] == 0 else s[0] / s[-1]
    return _make("sum_w_conditioning", kappa, t, "<=", "condition number of sum_i W_i")


def theta_independence(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r""":math:`\sigma_m([\mathrm{vec}\,\Theta_1,\dots,\mathrm{vec}\,\Theta_m])/\max_i\|\Theta_i\|_F`."""
    return _make("theta_independence", _relative_smin(layer.thetas), t, ">=",
                 "relative smallest singular value of stacked vec(Theta_i)")


def w_independence(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r""":math:`\sigma_m([\mathrm{vec}\,W_1,\dots,\mathrm{vec}\,W_m])/\max_i\|W_i\|_F`."""
    return _make("w_independence", _relative_smin(layer.ws), t, ">=",
                 "relative smallest singular value of stacked vec(W_i)")


def head_separation(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r"""Minimum over pairs of :math:`\big(\|\Theta_i-\Theta_j\|_F^2/\bar\Theta^2+\|W_i-W_j\|_F^2/\bar W^2\big)^{1/2}`.

    :math:`\bar\Theta^2, \bar W^2` are the mean squared head norms; ``inf`` for one head.
    """
    m = layer.m
    if m == 1:
        return _make("head_separation", np.inf, t, ">=", "minimum relative distance between heads")
    tn = max(np.mean(np.sum(layer.thetas**2, axis=(1, 2))), 1e-300)
    wn = max(np.mean(np.sum(layer.ws**2, axis=(1, 2))), 1e-300)
    best = np.inf
    for i in range(m):
        for j in range(i + 1, m):
            dist = np.sum((layer.thetas[i] - layer.thetas[j]) ** 2) / tn
            dist += np.sum((layer.ws[i] - layer.ws[j]) ** 2) / wn
            best = min(best, float(np.sqrt(dist)))
    return _make("head_separation", best, t, ">=", "minimum relative distance between heads")


def theta_norm_bound(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r""":math:`\max_i\|\Theta_i\|_F`, the standard deviation of an off-diagonal Boolean logit."""
    v = np.linalg.norm(layer.thetas.reshape(layer.m, -1), axis=1).max()
    return _make("theta_norm_bound", v, t, "<=", "max_i ||Theta_i||_F (logit scale)")


def w_norm_bound(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r""":math:`\max_i\|W_i\|_2`."""
    v = max(np.linalg.norm(w, 2) for w in layer.ws)
    return _make("w_norm_bound", v, t, "<=", "max_i ||W_i||_2")


def _probe_attention(layer: MultiHeadAttention, k: int) -> np.ndarray:
    X = sample_boolean(_N_PROBE, k, layer.d, _PROBE_SEED)
    return layer.attention(X)  # (n, m, k, k)


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


def provable_mode_dims(layer: MultiHeadAttention, k: int, t: dict) -> Condition:
    r""":math:`d - mk \ge 0`: with :math:`mk\le d` each output row determines its attention rows."""
    return _make("provable_mode_dims", layer.d - layer.m * k, t, ">=",
                 "d - m k (provable mode needs m k <= d)")


_CHECKS = (sum_w_conditioning, theta_independence, w_independence, head_separation,
           theta_norm_bound, w_norm_bound)


def check_conditions(layer: MultiHeadAttention, k: int, thresholds: dict | None = None) -> ConditionReport:
    """Evaluate every documented non-degeneracy condition of ``layer`` at sequence length ``k``.

    Parameters
    ----------
    layer : MultiHeadAttention
    k : int
        Number of tokens per example (the attention-shape conditions depend on it).
    thresholds : dict, optional
        Overrides for :data:`DEFAULT_THRESHOLDS`.

    Returns
    -------
    ConditionReport
        ``report.passed`` is true iff all required conditions hold; ``print(report)`` shows a table.
    """
    if not isinstance(layer, MultiHeadAttention):
        raise ValueError(f"layer must be a MultiHeadAttention, got {type(layer).__name__}")
    k = check_positive_int(k, "k")
    t = dict(DEFAULT_THRESHOLDS)
    if thresholds:
        unknown = set(thresholds) - set(t)
        if unknown:
            raise ValueError(f"unknown condition names in thresholds: {sorted(unknown)}")
        t.update({key: float(v) for key, v in thresholds.items()})
    conds = [f(layer, k, t) for f in _CHECKS]
    A = _probe_attention(layer, k)
    conds.append(attention_not_uniform(layer, k, t, A))
    conds.append(attention_not_one_hot(layer, k, t, A))
    conds.append(provable_mode_dims(layer, k, t))
    return ConditionReport(layer.m, layer.d, k, tuple(conds))
