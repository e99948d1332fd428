"""Result objects of the learner: per-phase records, the certificate and :class:`LearnResult`."""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..io import register_kind
from ..model import MultiHeadAttention

__all__ = ["PhaseRecord", "Certificate", "LearnResult", "timed_phase"]


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
class Certificate:
    r"""What the held-out split certifies about the learned layer.

    Two statements are made from ``n_holdout`` fresh examples, independent of training:

    * **Realizable (PAC) bound.** If every held-out example has max-entry residual
      :math:`\le \varepsilon` (``epsilon``), then with probability :math:`\ge 1-\delta`,
      :math:`\Pr_X[\max_{a,e}|\hat F(X)-Y|_{ae} > \varepsilon] \le \ln(1/\delta)/n_h`
      (``failure_rate_bound``), since a failure rate :math:`p` passes :math:`n_h` independent
      draws with probability :math:`(1-p)^{n_h}\le e^{-pn_h}`.
    * **Hoeffding bound.** For the per-example mean squared error :math:`\ell\in[0, L]`,
      with :math:`L = (B_{\hat F}+B_Y)^2` where :math:`B_{\hat F}=\sum_i\max_e\|\hat W_i[:,e]\|_1`
      bounds :math:`|\hat F|` on Boolean inputs and :math:`B_Y` is the assumed label bound
      (default: :math:`B_{\hat F}`, i.e. the truth obeys the same norm bound),
      :math:`\mathbb{E}\ell \le \hat\ell + L\sqrt{\ln(1/\delta)/(2n_h)}` (``mse_bound``).
    """

    n_holdout: int
    delta: float
    max_residual: float
    rms_residual: float
    relative_error: float
    epsilon: float
    certified: bool
    failure_rate_bound: float
    mse_bound: float
    loss_range: float
    statement: str
    programs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LearnResult:
    """Output of :func:`provable_mha.learn`.

    Attributes
    ----------
    layer : MultiHeadAttention
        The learned layer.
    certificate : Certificate
        Held-out residual bound and what it certifies.
    phases : list of PhaseRecord
        Per-phase diagnostics (sizes, solver, status, seconds).
    mode : str
    m, d, k, n_train, n_holdout : int
    noise : float
    seed : int or None
    train_relative_error : float
    """

    layer: MultiHeadAttention
    certificate: Certificate
    phases: list[PhaseRecord]
    mode: str
    m: int
    d: int
    k: int
    n_train: int
    n_holdout: int
    noise: float = 0.0
    seed: int | None = None
    train_relative_error: float = float("nan")

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
        lines = [f"learned m={self.m} heads, d={self.d}, k={self.k} ({self.mode} mode) "
                 f"from {self.n_train} training + {self.n_holdout} held-out examples"]
        lines.append(f"  {'phase':12s} {'seconds':>8s}  {'solver':12s} status")
        for p in self.phases:
            lines.append(f"  {p.name:12s} {p.seconds:8.3f}  {str(p.solver or '-'):12s} {p.status}")
        c = self.certificate
        lines.append(f"  train relative error {self.train_relative_error:.3e}; held-out relative error "
                     f"{c.relative_error:.3e}, max residual {c.max_residual:.3e}")
        lines.append(f"  certificate: {c.statement}")
        return "\n".join(lines)

    # -- persistence through pm.save / pm.load -------------------------------------------
    def _to_payload(self):
        meta = {
            "certificate": self.certificate.to_dict(),
            "phases": [asdict(p) for p in self.phases],
            "mode": self.mode, "m": self.m, "d": self.d, "k": self.k,
            "n_train": self.n_train, "n_holdout": self.n_holdout, "noise": self.noise,
            "seed": self.seed, "train_relative_error": self.train_relative_error,
        }
        return "LearnResult", {"thetas": self.layer.thetas, "ws": self.layer.ws}, meta

    @classmethod
    def _from_payload(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> LearnResult:
        cert = dict(meta["certificate"])
        for key in ("max_residual", "rms_residual", "relative_error", "epsilon",
                    "failure_rate_bound", "mse_bound", "loss_range", "delta"):
            cert[key] = float(cert[key])  # 'inf'/'nan' were stored as strings
        return cls(
            layer=MultiHeadAttention(arrays["thetas"], arrays["ws"]),
            certificate=Certificate(**cert),
            phases=[PhaseRecord(**p) for p in meta["phases"]],
            mode=meta["mode"], m=meta["m"], d=meta["d"], k=meta["k"],
            n_train=meta["n_train"], n_holdout=meta["n_holdout"], noise=float(meta["noise"]),
            seed=meta["seed"], train_relative_error=float(meta["train_relative_error"]),
        )


register_kind("LearnResult", LearnResult._from_payload)
