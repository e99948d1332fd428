"""The learning problem every strategy receives: validated training data and the call's options.

:func:`provable_mha.learn` validates its arguments once and builds a :class:`Problem`; strategies
(``practical``, ``structured``) and the shared refine/certify steps trust it and validate nothing
again (scikit-learn's "validate at the boundary").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import policy

__all__ = ["Problem"]


@dataclass(frozen=True)
class Problem:
    """Training split and options of one :func:`provable_mha.learn` call.

    Attributes
    ----------
    X, Y : ndarray, shape (n, k, d)
        Training inputs and labels (float64, finite, validated).
    m : int
        Heads to fit.
    noise : float
        Declared label-noise level σ (0: exact labels).
    delta : float
        Confidence level of every probabilistic threshold and bound.
    solver : str or None
        CVXPY solver preference for the convex programs.
    restarts : int
        Random starts a local search may use after its structured starts.
    progress : object or None
        A tqdm-like bar (``update``, ``set_postfix_str``) or ``None``.
    options : dict
        Strategy-specific options passed through ``learn(**options)``.
    """

    X: np.ndarray
    Y: np.ndarray
    m: int
    noise: float = 0.0
    delta: float = 0.05
    solver: str | None = None
    restarts: int = 100
    progress: Any = None
    options: dict[str, Any] | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(n, k, d)`` of the training inputs."""
        n, k, d = self.X.shape
        return n, k, d

    @property
    def n_params(self) -> int:
        """:math:`2md^2`, all parameters of the layer."""
        return 2 * self.m * self.X.shape[2] ** 2

    @property
    def threshold(self) -> float:
        """Acceptance threshold on the relative training residual (:mod:`.policy`)."""
        return policy.acceptance_threshold(self.Y, self.noise, self.n_params, self.delta)

    def tick(self, text: str | None = None, steps: int = 1) -> None:
        """Advance the progress bar, if any, with an optional status text."""
        if self.progress is not None:
            if text is not None:
                self.progress.set_postfix_str(text)
            self.progress.update(steps)
