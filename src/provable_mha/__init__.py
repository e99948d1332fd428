"""provable_mha: the theory of learning multi-head attention, as a toolkit.

Public API: :class:`MultiHeadAttention` (and the linear-attention variant
:class:`LinearMultiHeadAttention`, ``docs/linear_attention.md``), samplers, planted instances and
their conditions, :func:`identifiability`, the certified learner :func:`learn`, :func:`relative_error`,
:func:`save` / :func:`load`; subpackages :mod:`provable_mha.hardness` and :mod:`provable_mha.gd`
(``docs/`` documents each).
"""

from __future__ import annotations

__version__ = "0.1.0"

from .conditions import Condition, ConditionReport, check_conditions
from .datasets import export_dataset, load_dataset
from .errors import FormatError, LearnError
from .identifiability import IdentifiabilityReport, NonIdentifiablePair, identifiability, non_identifiable_pair
from .instances import planted_instance, random_layer
from .io import load, register_kind, save
from .linear import LinearMultiHeadAttention
from .model import HeadMatch, MultiHeadAttention, from_torch_weights, match_heads, softmax
from .queries import learn_from_queries
from .sampling import relative_error, sample_boolean, sample_gaussian

__all__ = [
    "__version__",
    "MultiHeadAttention", "HeadMatch", "match_heads", "softmax", "from_torch_weights",
    "LinearMultiHeadAttention",
    "sample_boolean", "sample_gaussian", "relative_error",
    "planted_instance", "random_layer",
    "Condition", "ConditionReport", "check_conditions",
    "identifiability", "IdentifiabilityReport",
    "non_identifiable_pair", "NonIdentifiablePair", "learn_from_queries",
    "save", "load",
    "export_dataset", "load_dataset",
    "LearnError", "FormatError",
    "learn", "LearnResult", "Certificate",  # loaded lazily (they import cvxpy)
    "information_limit", "local_identifiability", "LocalIdentifiability",
]


# the learner's results are saved by pm.save and rebuilt by pm.load without io importing the learner
register_kind("LearnResult", "provable_mha.learner.result:LearnResult.from_payload")
register_kind("LinearMultiHeadAttention", "provable_mha.linear:LinearMultiHeadAttention.from_payload")


def __getattr__(name):  # lazy: the learner and subpackages pull in cvxpy / ortools
    if name in ("learn", "LearnResult", "Certificate", "information_limit", "local_identifiability",
                "LocalIdentifiability"):
        from . import learner  # the learner package is named so it cannot shadow pm.learn

        return getattr(learner, name)
    if name in ("hardness", "gd", "testing", "learner", "baselines", "cli", "plotting", "sweep", "solvers"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'provable_mha' has no attribute {name!r}")
