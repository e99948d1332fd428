r"""``train``: full-batch gradient descent or mini-batch SGD on the logistic loss, with history.

A thin wrapper over the problem -> optimizer -> result split (pymanopt's layout):

.. code-block:: python

    problem = TrainingProblem(model, X, y, X_test=..., y_test=...)     # gd/problem.py
    result = GradientDescent(steps, "safe").run(problem)               # gd/optimizers.py
    # or StochasticGradientDescent(batch_size, steps, lr, rng=...)     -> TrainResult (gd/result.py)

Iteration, step-size rules and stopping rules: :mod:`provable_mha.gd.optimizers`.
"""

from __future__ import annotations

from .classifier import MHAClassifier
from .optimizers import GradientDescent, StochasticGradientDescent
from .problem import TrainingProblem
from .result import TrainResult

__all__ = ["TrainResult", "train"]


def train(model: MHAClassifier, X, y, *, steps: int = 100, lr: float | str = "safe",
          batch_size: int | None = None, X_test=None, y_test=None, record_every: int = 1,
          gtol: float = 0.0, loss_tol: float = 0.0, rng=None) -> TrainResult:
    r"""Train ``model`` from its current parameters :math:`\omega_0` by GD or SGD.

    Equivalent to ``GradientDescent(...).run(TrainingProblem(model, X, y, X_test, y_test))``
    (``StochasticGradientDescent`` when ``batch_size`` is given).

    Parameters
    ----------
    model : MHAClassifier
        Architecture and initial parameters (use ``MHAClassifier(..., rng=seed)`` for a random
        start, ``symmetric=True`` or ``init_scale=0`` for a symmetric one). Not modified.
    X, y : arrays ``(n, T, d)`` and ``(n,)`` with labels in {-1, +1}.
    steps : int
        Number of parameter updates.
    lr : float or "safe"
        Fixed step size, or at every step the step of
        :func:`~provable_mha.gd.bounds.safe_step` on the current batch (docs/gd.md §4).
    batch_size : int, optional
        ``None`` for full-batch GD, else the SGD mini-batch size.
    X_test, y_test : arrays, optional
        Held-out data for ``test_loss``/``test_error`` in the history.
    record_every : int
        Record the history every this many steps (and at the last step).
    gtol, loss_tol : float
        Stop when the full-batch gradient norm or loss falls to these values (0 disables).
    rng : int, Generator or None
        Mini-batch order (unused by full-batch GD).

    Returns
    -------
    TrainResult
    """
    problem = TrainingProblem(model, X, y, X_test=X_test, y_test=y_test)
    settings = dict(record_every=record_every, gtol=gtol, loss_tol=loss_tol)
    if batch_size is None:
        optimizer = GradientDescent(steps, lr, **settings)
    else:
        optimizer = StochasticGradientDescent(batch_size, steps, lr, rng=rng, **settings)
    return optimizer.run(problem)
