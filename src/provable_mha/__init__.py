"""provable_mha: the theory of learning multi-head attention, as a toolkit.

Public API (SPEC §2): :class:`MultiHeadAttention`, samplers, planted instances and their
conditions, the certified learner :func:`learn`, :func:`relative_error`, :func:`save` /
:func:`load`; subpackages :mod:`provable_mha.hardness` and :mod:`provable_mha.gd`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .conditions import Condition, ConditionReport, check_conditions
from .errors import FormatError, LearnError
from .instances import planted_instance, random_layer
from .io import load, save
from .model import HeadMatch, MultiHeadAttention, from_torch_weights, match_heads, softmax
from .sampling import relative_error, sample_boolean, sample_gaussian

__all__ = [
    "__version__",
    "MultiHeadAttention", "HeadMatch", "match_heads", "softmax", "from_torch_weights",
    "sample_boolean", "sample_gaussian", "relative_error",
    "planted_instance", "random_layer",
    "Condition", "ConditionReport", "check_conditions",
    "save", "load",
    "LearnError", "FormatError",
    "learn", "LearnResult", "Certificate",  # loaded lazily (they import cvxpy)
]


def __getattr__(name):  # lazy: the learner and subpackages pull in cvxpy / ortools
    if name in ("learn", "LearnResult", "Certificate"):
        from . import learner  # the learner package is named so it cannot shadow pm.learn

        return getattr(learner, name)
    if name in ("hardness", "gd", "testing"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'provable_mha' has no attribute {name!r}")
