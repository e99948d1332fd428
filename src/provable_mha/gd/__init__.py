r"""Gradient-descent analysis of multi-head attention classifiers (after Deora et al., arXiv 2310.12680).

Public names: :class:`MHAClassifier` (value vectors ``U``, attention matrices ``thetas`` =
:math:`\Theta_h`, flat parameters ``params`` = :math:`\omega`; forward, gradient,
Hessian-vector product, logistic loss), :func:`tokenized_mixture` and :func:`planted_teacher`
(data), training as problem -> optimizer -> result (:class:`TrainingProblem`,
:class:`GradientDescent` / :class:`StochasticGradientDescent` with :class:`FixedStep` /
:class:`SafeStep`, :class:`TrainResult`) and its wrapper :func:`train`, the bound calculators of
:mod:`provable_mha.gd.bounds`, the NTK margin :func:`ntk_margin`, and the heads experiment
:func:`heads_experiment`. Derivations, and what is from the paper versus derived here:
``docs/gd.md``.
"""

from __future__ import annotations

from .bounds import (
    Constants,
    TrainingBound,
    beta1,
    beta2,
    constants,
    generalization_bound,
    heads_for_realizability,
    model_constants,
    realizability_radius,
    safe_step,
    token_radius,
    training_bound,
)
from .classifier import MHAClassifier, logistic_loss
from .data import GDData, planted_teacher, tokenized_mixture
from .experiment import HeadsExperiment, heads_experiment
from .ntk import NTKMargin, NTKTrainingBound, ntk_features, ntk_margin, ntk_training_bound
from .optimizers import FixedStep, GradientDescent, SafeStep, StochasticGradientDescent
from .problem import TrainingProblem
from .result import TrainResult
from .train import train

__all__ = [
    "MHAClassifier", "logistic_loss",
    "GDData", "tokenized_mixture", "planted_teacher",
    "train", "TrainResult", "TrainingProblem", "GradientDescent", "StochasticGradientDescent",
    "FixedStep", "SafeStep",
    "token_radius", "beta1", "beta2", "Constants", "constants", "model_constants", "safe_step",
    "realizability_radius", "heads_for_realizability", "TrainingBound", "training_bound",
    "generalization_bound",
    "NTKMargin", "ntk_features", "ntk_margin", "NTKTrainingBound", "ntk_training_bound",
    "HeadsExperiment", "heads_experiment",
]
