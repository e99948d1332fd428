r"""The result of an optimiser run (pymanopt's ``OptimizerResult``, with a per-step history).

Fields follow pymanopt: ``point`` (here also ``params``), ``cost``, ``iterations``,
``stopping_criterion``, ``time``, ``gradient_norm``, and ``log`` (here ``history``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._deprecation import deprecated_attribute
from .classifier import MHAClassifier

__all__ = ["TrainResult", "HISTORY_KEYS"]

#: Keys of :attr:`TrainResult.history`, one array each.
HISTORY_KEYS = ("step", "loss", "grad_norm", "dist", "lr", "test_loss", "test_error")


@dataclass
class TrainResult:
    r"""Outcome of :func:`~provable_mha.gd.train` or of an optimiser's ``run``.

    Attributes
    ----------
    model : MHAClassifier
        A new classifier holding the final parameters (the input model is not modified).
    params, params0 : ndarray
        Final and initial parameter vectors :math:`\omega_T`, :math:`\omega_0` (``theta`` and
        ``theta0`` are deprecated aliases).
    cost : float
        Final training loss :math:`\hat L(\omega_T)` (full batch).
    gradient_norm : float
        :math:`\|\nabla\hat L(\omega_T)\|` (full batch).
    iterations : int
        Steps taken.
    stopping_criterion : str
        Why the run stopped.
    time : float
        Wall-clock seconds.
    history : dict of ndarray
        Keys ``step, loss, grad_norm, dist`` (:math:`\|\omega_t-\omega_0\|`), ``lr`` (the step
        size used to reach step t; NaN at step 0), and ``test_loss, test_error`` (NaN without a
        test set); one entry per recorded step, the first at step 0.
    """

    model: MHAClassifier
    params: np.ndarray
    params0: np.ndarray
    cost: float
    gradient_norm: float
    iterations: int
    stopping_criterion: str
    time: float
    history: dict = field(default_factory=dict)

    theta = deprecated_attribute("theta", "params")
    theta0 = deprecated_attribute("theta0", "params0")

    @property
    def point(self) -> np.ndarray:
        """Alias of :attr:`params` (pymanopt naming)."""
        return self.params
