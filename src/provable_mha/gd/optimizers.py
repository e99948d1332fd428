r"""Optimisers for a :class:`~provable_mha.gd.problem.TrainingProblem`: full-batch GD and SGD.

Mirrors pymanopt's ``optimizers/optimizer.py``: an optimiser holds only its settings (number
of steps, step-size rule, stopping tolerances, batch size) and ``run(problem)`` returns a
:class:`~provable_mha.gd.result.TrainResult`. The iteration is

.. math::

    \omega_{t+1} = \omega_t - \eta_t\,\nabla\hat L_{B_t}(\omega_t),

with :math:`B_t` the whole training set (:class:`GradientDescent`) or a mini-batch drawn without
replacement within each epoch (:class:`StochasticGradientDescent`). Step-size rules:
:class:`FixedStep` (a constant :math:`\eta`) and :class:`SafeStep`, at every step the step of
:func:`~provable_mha.gd.bounds.safe_step`, proved in docs/gd.md §4 to satisfy
:math:`\eta\le1/\rho` on the whole segment of the step, so that full-batch GD decreases
:math:`\hat L` monotonically by at least :math:`\frac\eta2\|\nabla\hat L\|^2` (descent lemma).
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

from .._validation import as_generator, check_positive_int
from .bounds import safe_step
from .problem import TrainingProblem
from .result import HISTORY_KEYS, TrainResult

__all__ = ["FixedStep", "SafeStep", "as_step_size", "GradientDescent", "StochasticGradientDescent"]


class FixedStep:
    r"""The constant step size :math:`\eta_t = \eta > 0`."""

    def __init__(self, eta: float) -> None:
        eta = float(eta)
        if not math.isfinite(eta) or eta <= 0:
            raise ValueError(f"lr must be a positive finite float or 'safe', got {eta}")
        self.eta = eta

    def __call__(self, model, X, loss: float, params: np.ndarray) -> float:
        return self.eta

    def __repr__(self) -> str:
        return f"FixedStep({self.eta!r})"


class SafeStep:
    r"""At every step :math:`\eta_t` = :func:`~provable_mha.gd.bounds.safe_step` on the current batch.

    docs/gd.md §4: :math:`\eta_t = 1/\rho(B')` with :math:`B' = \max_h\|U_h\| + 4\hat L/(c_HHR)`
    bounds the smoothness on the whole segment of the step, so the descent lemma applies.
    """

    def __call__(self, model, X, loss: float, params: np.ndarray) -> float:
        return safe_step(model, X, loss, params)

    def __repr__(self) -> str:
        return "SafeStep()"


def as_step_size(lr) -> FixedStep | SafeStep:
    """A step-size rule from ``lr``: a positive float, ``"safe"``, or a rule object (returned as is)."""
    if isinstance(lr, (FixedStep, SafeStep)):
        return lr
    if isinstance(lr, str):
        if lr != "safe":
            raise ValueError(f"lr must be a positive float or 'safe', got {lr!r}")
        return SafeStep()
    return FixedStep(lr)


class _History:
    """Per-step records of a run; ``arrays()`` gives the ``history`` dict of :class:`TrainResult`."""

    def __init__(self) -> None:
        self._rows: dict[str, list] = {k: [] for k in HISTORY_KEYS}

    def record(self, **values) -> None:
        for k in HISTORY_KEYS:
            self._rows[k].append(values[k])

    def arrays(self) -> dict[str, np.ndarray]:
        out = {k: np.asarray(v, dtype=float) for k, v in self._rows.items()}
        out["step"] = out["step"].astype(int)
        return out


class GradientDescent:
    r"""Full-batch gradient descent :math:`\omega_{t+1} = \omega_t - \eta_t\nabla\hat L(\omega_t)`.

    Parameters
    ----------
    steps : int
        Maximum number of parameter updates (``>= 0``).
    step_size : float, "safe", FixedStep or SafeStep
        The step-size rule (see :func:`as_step_size`).
    record_every : int
        Record the history every this many steps (and at the last step).
    gtol, loss_tol : float
        Stop when the full-batch gradient norm or loss falls to these values (0 disables).
    """

    def __init__(self, steps: int = 100, step_size="safe", *, record_every: int = 1,
                 gtol: float = 0.0, loss_tol: float = 0.0) -> None:
        self.steps = check_positive_int(steps, "steps", minimum=0)
        self.step_size = as_step_size(step_size)
        self.record_every = check_positive_int(record_every, "record_every")
        self.gtol, self.loss_tol = float(gtol), float(loss_tol)

    def _batches(self, problem: TrainingProblem):
        """Iterator over the row indices of every step's batch; ``None`` is the whole training set."""
        return itertools.repeat(None)

    def _stop_reason(self, t: int, grad_norm: float, loss: float) -> str | None:
        if t >= self.steps:
            return f"max steps ({self.steps}) reached"
        if self.gtol > 0 and grad_norm <= self.gtol:
            return "gradient norm below gtol"
        if self.loss_tol > 0 and loss <= self.loss_tol:
            return "loss below loss_tol"
        return None

    def run(self, problem: TrainingProblem) -> TrainResult:
        """Iterate from ``problem.model.params`` until a stopping rule fires; see the class docstring."""
        t_start = time.perf_counter()
        model = problem.model
        params0 = model.params.copy()
        params = params0.copy()
        first = problem.finite_cost_and_gradient(params)
        if first is None:
            raise ValueError("loss or gradient is not finite at the initial point (token norms too "
                             "large for float64?)")
        L, grad = first
        batches, log = self._batches(problem), _History()
        eta, t = math.nan, 0
        while True:
            gn = float(np.linalg.norm(grad))
            reason = self._stop_reason(t, gn, L)
            if t % self.record_every == 0 or reason is not None:
                test_loss, test_error = problem.test_metrics(params)
                log.record(step=t, loss=L, grad_norm=gn, dist=float(np.linalg.norm(params - params0)),
                           lr=eta, test_loss=test_loss, test_error=test_error)
            if reason is not None:
                break
            idx = next(batches)
            batch = problem.batch(idx)
            bL, bgrad = (L, grad) if idx is None else problem.cost_and_gradient(params, batch)
            eta = self.step_size(model, batch[0], bL, params)
            params = params - eta * bgrad
            nxt = problem.finite_cost_and_gradient(params)
            if nxt is None:
                raise ValueError(f"training diverged at step {t + 1} (non-finite parameters, loss "
                                 "or gradient); lower lr")
            L, grad = nxt
            t += 1
        return TrainResult(model.copy(params), params, params0, L, float(np.linalg.norm(grad)), t,
                           reason, time.perf_counter() - t_start, log.arrays())


class StochasticGradientDescent(GradientDescent):
    r"""Mini-batch SGD :math:`\omega_{t+1} = \omega_t - \eta_t\nabla\hat L_{B_t}(\omega_t)`.

    Batches of ``batch_size`` rows are consecutive slices of a random permutation, redrawn when
    fewer than ``batch_size`` rows remain (sampling without replacement within an epoch).
    Stopping rules and the history use the full-batch loss and gradient. Other parameters as
    :class:`GradientDescent`; ``rng`` (int, Generator or None) fixes the batch order: an int
    seed gives the same order at every :meth:`run`, a Generator is advanced.
    """

    def __init__(self, batch_size: int, steps: int = 100, step_size="safe", *, record_every: int = 1,
                 gtol: float = 0.0, loss_tol: float = 0.0, rng=None) -> None:
        super().__init__(steps, step_size, record_every=record_every, gtol=gtol, loss_tol=loss_tol)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        as_generator(rng)  # validate now
        self.rng = rng

    def _batches(self, problem: TrainingProblem):
        n, b = problem.n, self.batch_size
        if b > n:
            raise ValueError(f"batch_size must be <= n = {n}, got {b}")
        return self._slices(n, b, as_generator(self.rng))

    @staticmethod
    def _slices(n: int, b: int, g: np.random.Generator):
        perm, pos = g.permutation(n), 0
        while True:
            if pos + b > n:
                perm, pos = g.permutation(n), 0
            yield perm[pos:pos + b]
            pos += b
