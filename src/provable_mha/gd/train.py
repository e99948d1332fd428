r"""Full-batch gradient descent and mini-batch SGD on the logistic loss, with history.

.. math::

    \theta_{t+1} = \theta_t - \eta_t\,\nabla\hat L_{B_t}(\theta_t),

where :math:`B_t` is the whole training set (GD, ``batch_size=None``) or a mini-batch drawn
without replacement each epoch (SGD). ``lr="safe"`` takes at every step the step size of
:func:`~provable_mha.gd.bounds.safe_step`, which satisfies the step-size condition
:math:`\eta\le1/\rho` on the whole segment of the step, so full-batch GD then decreases
:math:`\hat L` monotonically (descent lemma).

The result mirrors pymanopt's ``OptimizerResult``: ``point``/``theta``, ``cost``,
``iterations``, ``stopping_criterion``, ``time``, ``gradient_norm`` and a ``log`` (here
``history``) of per-step records.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .._validation import as_generator, check_inputs, check_positive_int
from .bounds import safe_step
from .classifier import MHAClassifier, _check_labels

__all__ = ["TrainResult", "train"]

_HISTORY_KEYS = ("step", "loss", "grad_norm", "dist", "lr", "test_loss", "test_error")


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Attributes
    ----------
    model : MHAClassifier
        A new classifier holding the final parameters (the input model is not modified).
    theta, theta0 : ndarray
        Final and initial parameter vectors.
    cost : float
        Final training loss :math:`\\hat L(\\theta_T)` (full batch).
    gradient_norm : float
        :math:`\\|\\nabla\\hat L(\\theta_T)\\|` (full batch).
    iterations : int
        Steps taken.
    stopping_criterion : str
        Why the run stopped.
    time : float
        Wall-clock seconds.
    history : dict of ndarray
        Keys ``step, loss, grad_norm, dist`` (:math:`\\|\\theta_t-\\theta_0\\|`), ``lr``, and
        ``test_loss, test_error`` (NaN without a test set); one entry per recorded step, the
        first at step 0.
    """

    model: MHAClassifier
    theta: np.ndarray
    theta0: np.ndarray
    cost: float
    gradient_norm: float
    iterations: int
    stopping_criterion: str
    time: float
    history: dict = field(default_factory=dict)

    @property
    def point(self) -> np.ndarray:
        """Alias of :attr:`theta` (pymanopt naming)."""
        return self.theta


def _lr(lr) -> float | str:
    if isinstance(lr, str):
        if lr != "safe":
            raise ValueError(f"lr must be a positive float or 'safe', got {lr!r}")
        return lr
    lr = float(lr)
    if not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite float or 'safe', got {lr}")
    return lr


def train(model: MHAClassifier, X, y, *, steps: int = 100, lr: float | str = "safe",
          batch_size: int | None = None, X_test=None, y_test=None, record_every: int = 1,
          gtol: float = 0.0, loss_tol: float = 0.0, rng=None) -> TrainResult:
    r"""Train ``model`` from its current parameters :math:`\theta_0` by GD or SGD.

    Parameters
    ----------
    model : MHAClassifier
        Architecture and initial parameters (use ``MHAClassifier(..., rng=seed)`` for a random
        start, ``symmetric=True`` or ``init_scale=0`` for a symmetric one).
    X, y : arrays ``(n, T, d)`` and ``(n,)`` with labels in {-1, +1}.
    steps : int
        Number of parameter updates.
    lr : float or "safe"
        Fixed step size, or the per-step certified step of
        :func:`~provable_mha.gd.bounds.safe_step` (computed on the current batch).
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
    """
    if not isinstance(model, MHAClassifier):
        raise ValueError("model must be an MHAClassifier")
    Xb, _ = check_inputs(X, d=model.d)
    yy = _check_labels(y, Xb.shape[0])
    n = Xb.shape[0]
    steps = check_positive_int(steps, "steps", minimum=0)
    record_every = check_positive_int(record_every, "record_every")
    lr = _lr(lr)
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
        if batch_size > n:
            raise ValueError(f"batch_size must be <= n = {n}, got {batch_size}")
    has_test = X_test is not None or y_test is not None
    if has_test:
        if X_test is None or y_test is None:
            raise ValueError("give both X_test and y_test, or neither")
        Xt, _ = check_inputs(X_test, "X_test", d=model.d)
        yt = _check_labels(y_test, Xt.shape[0])
    g = as_generator(rng)
    theta0 = model.theta.copy()
    theta = theta0.copy()
    hist: dict[str, list] = {k: [] for k in _HISTORY_KEYS}
    t_start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        L, grad = model._loss_and_grad(Xb, yy, theta)
    if not (math.isfinite(L) and np.all(np.isfinite(grad))):
        raise ValueError("loss or gradient is not finite at the initial point (token norms too "
                         "large for float64?)")
    perm, pos = g.permutation(n) if batch_size else None, 0
    reason = f"max steps ({steps}) reached"
    eta = math.nan
    t = 0
    while True:
        gn = float(np.linalg.norm(grad))
        stop = (t >= steps) or (gtol > 0 and gn <= gtol) or (loss_tol > 0 and L <= loss_tol)
        if t % record_every == 0 or stop:
            hist["step"].append(t)
            hist["loss"].append(L)
            hist["grad_norm"].append(gn)
            hist["dist"].append(float(np.linalg.norm(theta - theta0)))
            hist["lr"].append(eta)
            if has_test:
                phi = model.decision_function(Xt, theta)
                hist["test_loss"].append(float(np.mean(np.logaddexp(0.0, -yt * phi))))
                hist["test_error"].append(float(np.mean(np.where(phi >= 0, 1.0, -1.0) != yt)))
            else:
                hist["test_loss"].append(math.nan)
                hist["test_error"].append(math.nan)
        if stop:
            if t < steps:
                reason = ("gradient norm below gtol" if gtol > 0 and gn <= gtol
                          else "loss below loss_tol")
            break
        if batch_size is None:
            bL, bgrad, bX = L, grad, Xb
        else:
            if pos + batch_size > n:
                perm, pos = g.permutation(n), 0
            idx = perm[pos:pos + batch_size]
            pos += batch_size
            bX = Xb[idx]
            bL, bgrad = model._loss_and_grad(bX, yy[idx], theta)
        eta = safe_step(model, bX, bL, theta) if lr == "safe" else lr
        theta = theta - eta * bgrad
        with np.errstate(over="ignore", invalid="ignore"):
            ok = np.all(np.isfinite(theta))
            if ok:
                L, grad = model._loss_and_grad(Xb, yy, theta)
                ok = math.isfinite(L) and np.all(np.isfinite(grad))
        if not ok:
            raise ValueError(f"training diverged at step {t + 1} (non-finite parameters, loss "
                             "or gradient); lower lr")
        t += 1
    history = {k: np.asarray(v, dtype=float) for k, v in hist.items()}
    history["step"] = history["step"].astype(int)
    return TrainResult(model.copy(theta), theta, theta0, L, float(np.linalg.norm(grad)), t,
                       reason, time.perf_counter() - t_start, history)
