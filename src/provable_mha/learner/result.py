"""What the learner returns: the candidate of a strategy, phase records, the certificate, the result.

Every strategy of :func:`provable_mha.learn` returns a :class:`Candidate`; the shared
refine → certify path turns it into a :class:`LearnResult` holding a :class:`Certificate`.
Nothing here computes a bound: :mod:`.certify` does, this module only records.
Persistence goes through :func:`provable_mha.save` / :func:`provable_mha.load`, which call
:meth:`LearnResult.to_payload` and :meth:`LearnResult.from_payload` (this module does not import
:mod:`provable_mha.io`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from ..model import MultiHeadAttention

__all__ = ["PhaseRecord", "Candidate", "Certificate", "LearnResult", "timed_phase"]


@dataclass
class PhaseRecord:
    """Diagnostics of one phase: sizes, solver, status and wall time.

    Attributes
    ----------
    name : str
        Phase name, e.g. ``"moments"``, ``"search"``, ``"refine"``, ``"certify"``.
    seconds : float
    status : str
        ``"ok"``, a solver status string, or a short failure reason.
    solver : str or None
        The solver used (``"CLARABEL"``, ``"HIGHS"``, ``"numpy-lm"``, ...).
    sizes : dict
        Problem sizes (examples, variables, constraints, candidates).
    info : dict
        Phase-specific measurements (residuals, widths, restarts, ...).
    """

    name: str
    seconds: float = 0.0
    status: str = "ok"
    solver: str | None = None
    sizes: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def timed_phase(records: list, name: str, **kwargs):
    """Context manager appending a :class:`PhaseRecord` whose ``seconds`` is the block's wall time."""
    rec = PhaseRecord(name=name, **kwargs)
    t0 = time.perf_counter()
    try:
        yield rec
    finally:
        rec.seconds = time.perf_counter() - t0
        records.append(rec)


@dataclass
class Candidate:
    """What every strategy returns: parameters, whether they fit, and how they were found.

    Attributes
    ----------
    thetas, ws : ndarray, shape (m, d, d)
    accepted : bool
        The training residual is within the acceptance threshold of :mod:`.policy`.
    threshold : float
        That threshold (relative residual).
    phases : list of PhaseRecord
    rounds : list of dict
        Constraint-generation rounds (structured strategy); each has at least
        ``"n_constraints"``, ``"width"`` and ``"seconds"``.
    body : object or None
        The strategy's final convex body, if it builds one; :mod:`.certify` asks it for the
        parameter radius at the refined point.
    """

    thetas: np.ndarray
    ws: np.ndarray
    accepted: bool
    threshold: float
    phases: list[PhaseRecord] = field(default_factory=list)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    body: Any = None


@dataclass
class Certificate:
    r"""What the held-out split (and, for the structured method, the body) certifies.

    The statements and their proofs are in ``docs/certificates.md``; in short:

    * **Realizable PAC bound.** Let :math:`n_h` be the number of *distinct* held-out inputs that
      do not occur in the training split. If every one fits to max-entry residual
      :math:`\le\varepsilon`, then with probability :math:`\ge 1-\delta` over the held-out draw,
      :math:`\Pr_X[\max_{a,e}|\hat F(X)-Y|_{ae}>\varepsilon]\le\ln(1/\delta)/n_h`
      (``failure_rate_bound``).
    * **Mean squared error** (``mse_bound``), only under a declared label bound (an assumption
      listed in ``assumptions``); ``None`` when no bound was declared.
    * **Parameter radius** (``param_radius``), structured method only: every layer that fits the
      training data and lies in the stated trust region is within this distance of the learned
      parameters, head by head after the best permutation.

    Attributes
    ----------
    certified : bool
        True only for a sound, non-vacuous statement.
    vacuous : bool
        ``epsilon`` is no better than the zero layer or the mean predictor on the same held-out
        inputs, or there are fewer distinct held-out inputs than the policy's minimum.
    statement : str
        The certificate in words, with its assumptions.
    assumptions : list of str
        Every assumption a stated bound rests on (empty: none).
    n_holdout, n_distinct_holdout : int
        Held-out examples, and distinct held-out inputs not seen in training.
    delta : float
        Confidence parameter.
    epsilon : float
        Per-entry tolerance of the PAC statement.
    max_residual, rms_residual, relative_error : float
        On the counted held-out inputs.
    failure_rate_bound : float
        1.0 when not certified.
    mse_bound : float or None
    param_radius : float or None
    identifiable : bool
        False when the learned layer has heads the data cannot tell apart; then only the
        function is certified.
    reference : dict
        Max residuals of the zero layer and the mean predictor on the same inputs (vacuity).
    checks : dict
        Invariants checked on the way (containment, consistency), each with its value.
    programs : list of dict
        Convex programs solved for the certificate (solver, status, sizes, seconds).
    """

    certified: bool
    vacuous: bool
    statement: str
    assumptions: list[str]
    n_holdout: int
    n_distinct_holdout: int
    delta: float
    epsilon: float
    max_residual: float
    rms_residual: float
    relative_error: float
    failure_rate_bound: float
    mse_bound: float | None = None
    param_radius: float | None = None
    identifiable: bool = True
    reference: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    programs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def verify(self) -> list[str]:
        """Inconsistencies between the stated fields and the rules of :mod:`.certify` (empty: consistent).

        :func:`provable_mha.load` refuses a file whose certificate has any; the rules are
        :func:`.certify.inconsistencies`, next to the code that makes the statements.
        """
        from .certify import inconsistencies  # lazy: certify imports this module

        return inconsistencies(self)

    @classmethod
    def from_dict(cls, data: dict) -> Certificate:
        """Rebuild from :meth:`to_dict` output (non-finite floats may arrive as strings)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown certificate fields {sorted(unknown)}")
        out = dict(data)
        for key in ("delta", "epsilon", "max_residual", "rms_residual", "relative_error",
                    "failure_rate_bound"):
            out[key] = float(out[key])
        for key in ("mse_bound", "param_radius"):
            if out.get(key) is not None:
                out[key] = float(out[key])
        return cls(**out)


@dataclass
class LearnResult:
    """Output of :func:`provable_mha.learn`.

    Attributes
    ----------
    layer : MultiHeadAttention
        The learned layer.
    certificate : Certificate
    phases : list of PhaseRecord
        Per-phase diagnostics (sizes, solver, status, seconds).
    rounds : list of dict
        Constraint-generation rounds of the structured method (empty for the others).
    method : str
    m, d, k, n_train, n_holdout : int
    noise : float
    seed : int or None
    train_relative_error : float
    n_queries : int or None
        Oracle queries asked, verification included (:func:`provable_mha.learn_from_queries`);
        ``None`` for learners that receive examples.
    """

    layer: MultiHeadAttention
    certificate: Certificate
    phases: list[PhaseRecord]
    method: str
    m: int
    d: int
    k: int
    n_train: int
    n_holdout: int
    noise: float = 0.0
    seed: int | None = None
    train_relative_error: float = float("nan")
    rounds: list[dict[str, Any]] = field(default_factory=list)
    n_queries: int | None = None

    @property
    def mode(self) -> str:
        """Deprecated alias of :attr:`method`."""
        return self.method

    @property
    def seconds(self) -> float:
        """Total wall time over all phases."""
        return float(sum(p.seconds for p in self.phases))

    def phase(self, name: str) -> PhaseRecord:
        for p in self.phases:
            if p.name == name:
                return p
        raise KeyError(name)

    def summary(self) -> str:
        """A printable table of phases and the certificate."""
        lines = [f"learned m={self.m} heads, d={self.d}, k={self.k} (method {self.method}) "
                 f"from {self.n_train} training + {self.n_holdout} held-out examples"]
        if self.n_queries is not None:
            lines[0] += f" ({self.n_queries} oracle queries in all)"
        lines.append(f"  {'phase':12s} {'seconds':>8s}  {'solver':12s} status")
        for p in self.phases:
            lines.append(f"  {p.name:12s} {p.seconds:8.3f}  {str(p.solver or '-'):12s} {p.status}")
        c = self.certificate
        lines.append(f"  train relative error {self.train_relative_error:.3e}; held-out relative error "
                     f"{c.relative_error:.3e}, max residual {c.max_residual:.3e}")
        lines.append(f"  certificate: {c.statement}")
        return "\n".join(lines)

    # -- persistence through pm.save / pm.load -------------------------------------------
    def to_payload(self):
        """``(kind, arrays, meta)`` for :func:`provable_mha.save`."""
        meta = {
            "certificate": self.certificate.to_dict(),
            "phases": [asdict(p) for p in self.phases],
            "rounds": list(self.rounds),
            "method": self.method, "m": self.m, "d": self.d, "k": self.k,
            "n_train": self.n_train, "n_holdout": self.n_holdout, "noise": self.noise,
            "seed": self.seed, "train_relative_error": self.train_relative_error,
            "n_queries": self.n_queries,
        }
        return "LearnResult", {"thetas": self.layer.thetas, "ws": self.layer.ws}, meta

    @classmethod
    def from_payload(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> LearnResult:
        """Inverse of :meth:`to_payload` (called by :func:`provable_mha.load`)."""
        return cls(
            layer=MultiHeadAttention(arrays["thetas"], arrays["ws"]),
            certificate=Certificate.from_dict(meta["certificate"]),
            phases=[PhaseRecord(**p) for p in meta["phases"]],
            rounds=list(meta.get("rounds", [])),
            method=meta["method"], m=meta["m"], d=meta["d"], k=meta["k"],
            n_train=meta["n_train"], n_holdout=meta["n_holdout"], noise=float(meta["noise"]),
            seed=meta["seed"], train_relative_error=float(meta["train_relative_error"]),
            n_queries=None if meta.get("n_queries") is None else int(meta["n_queries"]),  # absent in old files
        )
