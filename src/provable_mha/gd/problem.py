r"""The training problem: a classifier, its training (and optional test) data, and the loss.

Mirrors pymanopt's ``Problem`` (``core/problem.py``): everything an optimiser needs to evaluate
the cost and its gradient at a point, and nothing about how to step. Here the point is the
flat parameter vector :math:`\omega` of an :class:`~provable_mha.gd.MHAClassifier` and the cost
is the empirical logistic loss (docs/gd.md §1)

.. math::

    \hat L_B(\omega) = \frac1{|B|}\sum_{i\in B}\log\big(1 + e^{-y_i\Phi(X_i;\omega)}\big)

on a batch :math:`B` of the training set (the whole set by default).
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_inputs
from .classifier import MHAClassifier, _check_labels

__all__ = ["TrainingProblem"]


class TrainingProblem:
    r"""Minimise the logistic loss of ``model`` on ``(X, y)``; optionally monitor ``(X_test, y_test)``.

    Parameters
    ----------
    model : MHAClassifier
        Architecture and the starting point :math:`\omega_0` = ``model.params`` (never modified
        by an optimiser; its scratch buffers are reused by every evaluation).
    X, y : arrays ``(n, T, d)`` and ``(n,)`` with labels in {-1, +1}.
    X_test, y_test : arrays, optional
        Held-out data for :meth:`test_metrics` (both or neither).

    Attributes
    ----------
    loss : str
        ``"logistic"``: the loss :math:`\ell(t) = \log(1 + e^{-t})`, the only one implemented.
    """

    loss = "logistic"

    def __init__(self, model: MHAClassifier, X, y, X_test=None, y_test=None) -> None:
        if not isinstance(model, MHAClassifier):
            raise ValueError("model must be an MHAClassifier")
        self.model = model
        self.X, _ = check_inputs(X, d=model.d)
        self.y = _check_labels(y, self.X.shape[0])
        if (X_test is None) != (y_test is None):
            raise ValueError("give both X_test and y_test, or neither")
        self.X_test = self.y_test = None
        if X_test is not None:
            self.X_test, _ = check_inputs(X_test, "X_test", d=model.d)
            self.y_test = _check_labels(y_test, self.X_test.shape[0])

    @property
    def n(self) -> int:
        """Number of training examples."""
        return self.X.shape[0]

    @property
    def has_test(self) -> bool:
        """Whether held-out data was given."""
        return self.X_test is not None

    def batch(self, idx=None) -> tuple[np.ndarray, np.ndarray]:
        """Training rows ``idx`` as ``(X, y)`` (``None``: the whole training set, not copied)."""
        return (self.X, self.y) if idx is None else (self.X[idx], self.y[idx])

    def cost_and_gradient(self, params: np.ndarray, batch=None) -> tuple[float, np.ndarray]:
        r""":math:`\hat L_B(\omega)` and :math:`\nabla\hat L_B(\omega)` on ``batch = (X, y)``
        (default: the training set), through the classifier's buffer-reusing evaluation."""
        Xb, yb = (self.X, self.y) if batch is None else batch
        return self.model._loss_and_grad(Xb, yb, params)

    def finite_cost_and_gradient(self, params: np.ndarray) -> tuple[float, np.ndarray] | None:
        """Full-batch cost and gradient, or ``None`` if the point or either value is not finite."""
        with np.errstate(over="ignore", invalid="ignore"):
            if not np.all(np.isfinite(params)):
                return None
            L, g = self.cost_and_gradient(params)
            if not (math.isfinite(L) and np.all(np.isfinite(g))):
                return None
        return L, g

    def test_metrics(self, params: np.ndarray) -> tuple[float, float]:
        """Held-out logistic loss and 0-1 error at ``params`` (NaN, NaN without test data)."""
        if not self.has_test:
            return math.nan, math.nan
        phi = self.model.decision_function(self.X_test, params)
        loss = float(np.mean(np.logaddexp(0.0, -self.y_test * phi)))
        return loss, float(np.mean(np.where(phi >= 0, 1.0, -1.0) != self.y_test))
