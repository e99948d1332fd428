"""Exceptions raised by :mod:`provable_mha`.

Bad input raises :class:`ValueError` naming the offending argument (scikit-learn style);
failures of the learner (too few examples, an infeasible body, a solver failure) raise
:class:`LearnError`, which carries a diagnosis instead of returning a silently wrong layer.
"""

from __future__ import annotations

__all__ = ["LearnError", "FormatError"]


class LearnError(RuntimeError):
    """The learner could not produce a certified layer.

    Parameters
    ----------
    message : str
        What went wrong, in words a user can act on.
    diagnosis : dict, optional
        Machine-readable details (phase, solver, status, sizes).
    """

    def __init__(self, message: str, diagnosis: dict | None = None) -> None:
        super().__init__(message)
        self.diagnosis = dict(diagnosis or {})


class FormatError(ValueError):
    """A file given to :func:`provable_mha.load` is corrupt or was not written by this package."""
