r"""Strategy ``"structured"``: learning as constraint generation, certified by a convex body.

The rounds of one loop (``docs/structured.md``; what is Chen & Li's and what is ours is labelled
there):

1. **moments** — crude :math:`\sum_iW_i` from input–label correlations (:mod:`..moments`);
2. **generation** — constraint generation over examples (:mod:`.generation`): fit the active
   examples, separate the violated ones from the pool, add them, until none is violated;
   *or*, with ``route="sculpt"`` and :math:`mk\le d`, the sculpting route of :mod:`.net`
   (span of the :math:`W_i`, the g-polytope, log-ratio Θ-bodies);
3. **body** — after the shared refinement, the body of :mod:`.body` on the active examples
   around the refined layer: a CVXPY model containing every layer that fits those examples
   within a trust region, whose radius is the certificate's ``param_radius``.

Options (``pm.learn(..., method="structured", **options)``): ``route`` (``"generation"``
default, or ``"sculpt"``), ``init_factor``, ``grow``, ``max_rounds``, ``round_widths`` (compute
the body width every round; default when :math:`2md^2\le` 1200), ``cvxpy_widths`` (solve the
exact body's widths along each head's least-determined direction with CVXPY; default when
:math:`2md^2\le` 128), ``max_body_params`` (largest :math:`2md^2` for the dense body, default 4096)
and ``truth`` (a planted layer whose containment is recorded every round; never used to decide).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ...model import MultiHeadAttention
from ..moments import crude_sum_w
from ..problem import Problem
from ..result import Candidate, PhaseRecord, timed_phase
from .body import LinearizedBody
from .generation import generate

__all__ = ["structured", "BodyCertifier", "OPTIONS"]

#: The options ``learn(..., method="structured", **options)`` accepts.
OPTIONS = frozenset({"route", "init_factor", "grow", "max_rounds", "round_widths", "cvxpy_widths", "max_body_params",
                     "truth"})


class BodyCertifier:
    """Builds the final body around the refined layer and states what it certifies.

    Called by the shared certify step (:func:`..api._certify`) as ``certify(layer, problem)``;
    appends a ``"body"`` round to ``rounds``.
    """

    def __init__(self, active: np.ndarray, rounds: list, options: dict) -> None:
        self.active, self.rounds, self.options = active, rounds, options

    def certify(self, layer: MultiHeadAttention, problem: Problem) -> dict:
        t0 = time.perf_counter()
        Xa, Ya = problem.X[self.active], problem.Y[self.active]
        P = problem.n_params
        limit = int(self.options.get("max_body_params", 4096))
        if P > limit:
            msg = f"no parameter radius: 2md^2 = {P} > max_body_params = {limit} (the dense body is skipped)"
            self._record(t0, Xa, math.nan, None, msg)
            return {"radius": None, "statement": msg, "assumption": ""}
        body = LinearizedBody(Xa, Ya, layer.thetas, layer.ws, noise=problem.noise, delta=problem.delta)
        rad = body.radius()
        out = _statement(rad, body, len(self.active), problem.noise)
        if rad.radius is not None and self.options.get("cvxpy_widths", P <= 128):
            out["checks"], out["programs"] = _cvxpy_check(body, rad, problem.solver)
        self._record(t0, Xa, math.inf if rad.radius is None else rad.radius, rad, out["statement"], body)
        return out

    def _record(self, t0, Xa, width, rad, note, body=None):
        k, d = Xa.shape[1], Xa.shape[2]
        rec = {"round": len(self.rounds), "phase": "body", "n_examples": len(Xa),
               "n_constraints": len(Xa) * k * d, "width": width, "note": note}
        if rad is not None:
            rec.update(trust_region=rad.trust_region, sigma_min=rad.sigma_min, curvature=rad.curvature,
                       block_radii=rad.block_radii)
        truth = self.options.get("truth")
        if truth is not None and body is not None:
            rec["truth"] = body.contains(truth.thetas, truth.ws)
        rec["seconds"] = time.perf_counter() - t0
        self.rounds.append(rec)


def _statement(rad, body: LinearizedBody, n_active: int, noise: float) -> dict:
    if rad.radius is None:
        return {"radius": None, "statement": f"no parameter radius: {rad.reason}", "assumption": ""}
    fit = "exactly" if noise == 0 else f"within the {1 - body.delta:g} noise quantile"
    assumption = (f"the true layer lies within the trust region {rad.trust_region:.3g} of the fit (all 2md^2 "
                  f"parameters, l2, heads matched): a local statement that does not exclude a distant "
                  f"second fit; round-off of the extended-precision residual below {rad.slack:.2g} per "
                  f"entry (first-order estimate)")
    statement = (f"every layer that fits the {n_active} body examples {fit} and lies within "
                 f"{rad.trust_region:.3g} of the fit has max_i max(||dTheta_i||_F, ||dW_i||_F) <= "
                 f"{rad.radius:.3g}")
    return {"radius": float(rad.radius), "statement": statement, "assumption": assumption}


def _cvxpy_check(body: LinearizedBody, rad, solver):
    """Exact widths of the CVXPY body along each block's least-determined direction.

    Each must be within the closed-form block bound (twice the radius of the block): the check
    that the model and the formula describe the same body.
    """
    d2 = body.d * body.d
    dirs = []
    for b in range(2 * body.m):
        Vb = body.V[b * d2:(b + 1) * d2]
        w, U = np.linalg.eigh((Vb / np.maximum(body.eig, body.lam_min)) @ Vb.T)
        u = np.zeros(body.P)
        u[b * d2:(b + 1) * d2] = U[:, -1]
        dirs.append(u)
    widths, infos = body.widths(rad.ball, np.array(dirs), solver=solver)
    excess = [float(w / 2 - rb) for w, rb in zip(widths, rad.block_radii, strict=True)]
    ok = max(excess) <= 1e-6 * (1 + max(rad.block_radii))
    return {"body_model_consistent": {"ok": ok, "max_excess": max(excess),
                                      "widths": [float(w) for w in widths]}}, infos


def _moments_round(problem: Problem, rounds: list, phases: list[PhaseRecord]) -> None:
    with timed_phase(phases, "moments", solver="numpy-lstsq") as rec:
        mom = crude_sum_w(problem.X, problem.Y)
        rec.info = {"relative_residual_uniform_attention": mom.relative_residual}
    rounds.append({"round": 0, "phase": "moments", "n_examples": problem.X.shape[0], "n_constraints": 0,
                   "width": math.inf, "seconds": rec.seconds,
                   "relative_residual": mom.relative_residual})


def _monitor(truth):
    if truth is None:
        return None

    def record(rec, thetas, ws, Xa, Ya):
        body = LinearizedBody(Xa, Ya, thetas, ws)
        rec["truth"] = body.contains(truth.thetas, truth.ws)

    return record


def structured(problem: Problem, rng: np.random.Generator) -> Candidate:
    """Run the structured strategy (module docstring) on ``problem``."""
    opts = dict(problem.options or {})  # names checked by learn() against OPTIONS
    rounds: list[dict] = []
    phases: list[PhaseRecord] = []
    _moments_round(problem, rounds, phases)
    route = opts.get("route", "generation")
    if route == "sculpt":
        from .net import sculpt_route

        thetas, ws, active, accepted = sculpt_route(problem, rng, rounds, phases)
    elif route == "generation":
        with timed_phase(phases, "generation", solver="numpy-lm") as rec:
            gen = generate(problem, rng, init_factor=opts.get("init_factor", 2.5), grow=opts.get("grow", 0.5),
                           max_rounds=opts.get("max_rounds", 40),
                           widths=opts.get("round_widths", problem.n_params <= 1200),
                           monitor=_monitor(opts.get("truth")))
            rounds.extend(gen.rounds)
            rec.status = "accepted" if gen.accepted else "no fit of the active examples"
            rec.sizes = {"rounds": len(gen.rounds), "examples_used": len(gen.active),
                         "examples": problem.X.shape[0]}
        thetas, ws, active, accepted = gen.run.thetas, gen.run.ws, gen.active, gen.accepted
    else:
        raise ValueError(f"route must be 'generation' or 'sculpt', got {route!r}")
    return Candidate(thetas, ws, accepted, problem.threshold, phases=phases, rounds=rounds,
                     body=BodyCertifier(active, rounds, opts))
