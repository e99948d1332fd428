r"""The ``sculpt`` route of the structured strategy (:math:`mk\le d`): span, g-polytope, Θ-bodies.

Rounds (notation of :mod:`.gpolytope`; the soundness argument is ``docs/structured.md`` §4):

1. **span** — :math:`\mathrm{span}\{W_i\}` by :func:`.span.w_span` (variable-projection LM from
   degree-3 moment starts), accepted by its residual.
2. **g-polytope** — :math:`\hat\beta` and the polytope :math:`P\ni g_1..g_m`
   (:func:`.gpolytope.g_polytope`); its vertices when it is a simplex.
3. **heads** — candidates for the rows of :math:`G=C^{-1}`: the vertices of :math:`P`, otherwise a
   net of :math:`P` with covering radius :math:`h`. A net point is **rejected** when the Θ-step LP
   with intervals :math:`\alpha_{ab}\in[g^\top\hat\beta_{ab}\pm e_{ab}]` is infeasible: the net
   point within :math:`h` of a true :math:`g_i` is never rejected (those intervals contain the true
   weights). The heads decouple, so the net is over the (m−1)-dimensional :math:`P`
   (:math:`O(h^{-(m-1)})` points), not over the :math:`m\times m` matrix :math:`C`. Each survivor
   is polished by variable projection on its centred log-ratios (:func:`polish_g`).
4. **theta-bodies** — :math:`\alpha=G\hat\beta`, one log-ratio body per head
   (:func:`.sculpt.theta_body`), :math:`\Theta_i` its least-squares centre; then the W-step and
   the **W-step LP** :math:`t^*=\min_W\max|D(\Theta)W-Y|`, which must be within the per-entry
   tolerance of :mod:`..policy` or the candidate is rejected.

The net is where exponential cost in :math:`m` lives; it is capped by ``max_candidates``.
"""

from __future__ import annotations

import itertools
import math
import time

import cvxpy as cp
import numpy as np

from ...errors import LearnError
from ...solvers import solve
from .. import policy
from ..design import design_matrix, solve_w
from ..lsq import DenseJacobian, levenberg_marquardt
from ..problem import Problem
from ..result import timed_phase
from .constraints import residual_block
from .gpolytope import GPolytope, g_polytope, polytope_vertices
from .sculpt import body_widths, simplex_intervals, theta_body
from .span import w_span

__all__ = ["sculpt_route", "polish_g", "w_step_lp"]


class _Head:
    """Centred log-ratio system of one head on the rows where the start g gives weights > floor."""

    def __init__(self, X, beta, valid, g_start, floor):
        n, m, k, _ = beta.shape
        Xv, Bv = X[valid], beta[valid]  # (n', k, d), (n', m, k, k)
        a0 = np.einsum("j,njab->nab", g_start, Bv)
        rows = a0.min(-1) > floor  # (n', k)
        self.B = Bv.transpose(0, 2, 3, 1)[rows]  # (r, k, m)
        xa = Xv[:, :, None, :].repeat(k, 2)[rows]  # (r, k, d) query token repeated over b
        xb = Xv[:, None, :, :].repeat(k, 1)[rows]  # (r, k, d)
        xc = xb - xb.mean(1, keepdims=True)
        d = X.shape[2]
        self.F = np.einsum("rbp,rbq->rbpq", xa, xc).reshape(-1, d * d)
        self.Q = np.linalg.qr(self.F)[0] if self.F.shape[0] else np.zeros((0, 0))
        self.d = d

    def L(self, g):
        with np.errstate(invalid="ignore", divide="ignore"):
            la = np.log(np.einsum("rbj,j->rb", self.B, g))
        return (la - la.mean(1, keepdims=True)).reshape(-1)

    def dL(self, g):
        a = np.einsum("rbj,j->rb", self.B, g)
        q = self.B / a[..., None]
        return (q - q.mean(1, keepdims=True)).reshape(-1, self.B.shape[2])

    def project(self, v):
        return v - self.Q @ (self.Q.T @ v)

    def theta(self, g):
        return np.linalg.lstsq(self.F, self.L(g), rcond=None)[0].reshape(self.d, self.d)


def polish_g(X, beta, valid, g0, s, *, floor: float = 1e-3, max_iter: int = 60):
    r"""Refine one row :math:`g` of :math:`G` by variable projection (module docstring, step 4).

    Returns ``(g, relative_residual, head_system)``; the residual is
    :math:`\|(I-QQ^\top)L(g)\|/\|L(g)\|` (0 at a true :math:`g_i` on noiseless data).
    """
    m = beta.shape[1]
    g0 = np.asarray(g0, float)
    h = _Head(X, beta, valid, g0, floor)
    if h.F.shape[0] == 0:
        return g0, np.inf, h
    if m == 1:
        L = h.L(g0)
        return g0, float(np.linalg.norm(h.project(L)) / max(np.linalg.norm(L), 1e-300)), h
    N = np.linalg.svd(s[None, :])[2][1:].T  # (m, m-1), orthogonal to s

    def fun(z):
        g = g0 + N @ z
        if np.any(np.einsum("rbj,j->rb", h.B, g) <= 0):
            return np.full(h.F.shape[0], 1e6)
        return h.project(h.L(g))

    def jac(z):
        return h.project(h.dL(g0 + N @ z) @ N)

    res = levenberg_marquardt(fun, lambda z, r: DenseJacobian(jac(z), r), np.zeros(m - 1), max_iter=max_iter)
    g = g0 + N @ res.x
    L = h.L(g)
    return g, float(np.sqrt(2 * res.cost) / max(np.linalg.norm(L), 1e-300)), h


def w_step_lp(thetas, X, Y, *, solver: str | None = None):
    r"""The W-step LP :math:`t^*=\min_W\max|D(\Theta)W-Y|` (vectorised, HiGHS): the best uniform fit with these Θ.

    Returns ``(t*, W, SolveInfo)``.
    """
    n, k, d = X.shape
    m = thetas.shape[0]
    D = design_matrix(thetas, X)
    W = cp.Variable((m * d, d))
    t = cp.Variable()
    prob = cp.Problem(cp.Minimize(t), residual_block(D, Y.reshape(n * k, d), W, t))
    info = solve(prob, "lp", solver)
    return float(t.value), np.asarray(W.value).reshape(m, d, d), info


def _net_points(P: GPolytope, verts: np.ndarray, h: float) -> np.ndarray:
    """Grid of covering radius ``h`` over the bounding box of ``verts`` on the hyperplane, kept if within ``h`` of P."""
    m = P.m
    s = P.s
    N = np.linalg.svd(s[None, :])[2][1:].T
    g0 = s / float(s @ s)
    Z = (verts - g0) @ N
    lo, hi = Z.min(0), Z.max(0)
    step = 2 * h / math.sqrt(m - 1)
    axes = [np.arange(lo[i], hi[i] + step, step) for i in range(m - 1)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, m - 1)
    G = g0 + grid @ N.T
    A, b = P.halfspaces()
    slackmax = np.max((G @ A.T - b) / np.linalg.norm(A, axis=1), axis=1)
    return G[slackmax <= h]


def _reject(X, P: GPolytope, g, h, n_feas, solver):
    """True if the Θ-step LP for the candidate row ``g`` (net radius ``h``) is infeasible."""
    rc = P.coefficients
    ok = np.flatnonzero(rc.valid)[:n_feas]
    beta = rc.coef[ok]  # (n', m, k, k)
    est = np.einsum("j,njab->nab", g, beta)
    err = (np.linalg.norm(g) + h + P.radius) * np.linalg.norm(rc.bound[ok], axis=1) \
        + h * np.linalg.norm(beta, axis=1)
    lo, up = simplex_intervals(est, err)
    body = theta_body(X[ok], lo, up)
    th = cp.Variable(body.d * body.d)
    R = body.rows
    cons = [th <= body.radius, th >= -body.radius]
    if R.n_rows:
        cons += [R.F @ th >= R.lo, R.F @ th <= R.hi]
    prob = cp.Problem(cp.Minimize(0), cons)
    solve(prob, "lp", solver, allow_infeasible=True)
    return prob.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)




def _round(rounds: list, phase: str, t0: float, n_examples: int, n_constraints: int, width: float, **info) -> None:
    rounds.append({"round": len(rounds), "phase": phase, "n_examples": n_examples,
                   "n_constraints": int(n_constraints), "width": float(width),
                   "seconds": time.perf_counter() - t0, **info})


def _span_round(problem: Problem, rng, rounds: list, phases: list):
    X, Y, m = problem.X, problem.Y, problem.m
    n, k, d = X.shape
    ynorm = float(np.linalg.norm(Y))
    tol = policy.SPAN_TOL if problem.noise == 0 else policy.acceptance_threshold(Y, problem.noise, m * d * d,
                                                                              problem.delta)
    t0 = time.perf_counter()
    with timed_phase(phases, "span", solver="numpy-lm", sizes={"examples": n, "parameters": m * d * d}) as rec:
        sf = w_span(X, Y, m, restarts=6, rng=rng, tol=tol)
        rec.info.update(residual=sf.residual, restarts=sf.restarts, dropped=sf.dropped)
        rec.status = "ok" if sf.residual <= tol else "failed"
    _round(rounds, "span", t0, n - sf.dropped, (n - sf.dropped) * k * d, math.inf, relative_residual=sf.residual)
    if sf.residual > tol:
        raise LearnError(f"span{{W_i}} not found: best residual {sf.residual:.2e} > {tol:.1e} (ynorm {ynorm:.2g})",
                         {"phase": "span", "residual": sf.residual})
    return sf.basis


def _polytope_round(problem: Problem, basis, rounds: list, phases: list):
    t0 = time.perf_counter()
    with timed_phase(phases, "g-polytope") as rec:
        P = g_polytope(problem.X, problem.Y, basis, noise=problem.noise)
        V = polytope_vertices(P, solver=problem.solver)
        rec.sizes.update(rows=int(P.betas.shape[0]), vertices=len(V.points), dropped_examples=P.coefficients.n_dropped)
        rec.info.update(clean=V.clean, radius=P.radius)
    diam = float(np.max(np.linalg.norm(V.points[:, None] - V.points[None], axis=-1)))
    _round(rounds, "g-polytope", t0, int(P.coefficients.valid.sum()), 2 * P.betas.shape[0], diam,
           vertices=len(V.points), clean=bool(V.clean))
    return P, V


def _candidates(problem: Problem, P: GPolytope, V, route: str, h: float, max_candidates: int):
    """Vertices, or net points of P that survive the Θ-step LP (module docstring, step 3)."""
    if route == "vertices":
        return V.points, 0
    X, (_, k, d) = problem.X, problem.X.shape
    cands = _net_points(P, V.points, h)
    if len(cands) > max_candidates:
        raise LearnError(f"net over P has {len(cands)} points > max_candidates={max_candidates}",
                         {"phase": "heads", "net_size": len(cands)})
    n_feas = max(4, (8 * d * d) // (k * k * (k - 1)))
    keep = [g for g in cands if not _reject(X, P, g, h, n_feas, problem.solver)]
    return np.array(keep).reshape(-1, P.m), len(cands)


def _heads_round(problem: Problem, P: GPolytope, V, rounds: list, phases: list, *, net_resolution: float = 0.05,
                 max_candidates: int = 200):
    m, rc = problem.m, P.coefficients
    diam = max(float(np.max(np.linalg.norm(V.points[:, None] - V.points[None], axis=-1))), 1e-12)
    polish_tol = policy.POLISH_TOL if problem.noise == 0 else np.inf  # noise: the W-step LP decides
    t0 = time.perf_counter()
    found: list[tuple] = []
    with timed_phase(phases, "heads", solver="numpy-lm") as rec:
        for route in (["vertices"] if V.clean else []) + (["net"] if m > 1 else []):
            cands, net_size = _candidates(problem, P, V, route, net_resolution * diam, max_candidates)
            found = []
            for g in cands:
                gp, r, hs = polish_g(problem.X, rc.coef, rc.valid, g, P.s)
                if r <= polish_tol and all(np.linalg.norm(gp - q[0]) > 1e-6 * np.linalg.norm(q[0]) for q in found):
                    found.append((gp, r, hs))
            found.sort(key=lambda f: f[1])
            rec.info.update(route=route, net_size=net_size, polish_residuals=[f[1] for f in found])
            if len(found) >= m:
                break
    _round(rounds, "heads", t0, int(rc.valid.sum()), 0, diam, found=len(found))
    if len(found) < m:
        raise LearnError(f"found {len(found)} < m={m} consistent heads (polytope not clean and the net search "
                         "failed); the data may not be realizable by m heads", {"phase": "heads", "found": len(found)})
    return found


def _theta_round(problem: Problem, found: list, rounds: list, phases: list):
    """Best m-subset of heads by the W-step; the W-step LP gates it; Θ-body widths recorded."""
    X, Y, m = problem.X, problem.Y, problem.m
    n, k, d = X.shape
    t0 = time.perf_counter()
    with timed_phase(phases, "theta-bodies") as rec:
        best = None
        for combo in itertools.combinations(range(len(found)), m):
            thetas = np.array([found[i][2].theta(found[i][0]) for i in combo])
            D = design_matrix(thetas, X)
            wflat = solve_w(D, Y)
            rel = float(np.linalg.norm(D @ wflat - Y.reshape(n * k, d)) / np.linalg.norm(Y))
            if best is None or rel < best[0]:
                best = (rel, thetas, wflat.reshape(m, d, d), combo)
        rel, thetas, ws, combo = best
        t_star, _, info = w_step_lp(thetas, X, Y, solver=problem.solver)
        tol = policy.holdout_epsilon(float(np.abs(Y).max()), problem.noise, 0.0, Y.size, problem.delta)
        rec.solver, rec.status = info.solver, "accepted" if t_star <= tol else "rejected by the W-step LP"
        rec.info.update(lp_max_residual=t_star, tolerance=tol, ls_relative_residual=rel)
        widths = [_head_width(X, found[i], problem) for i in combo]
    _round(rounds, "theta-bodies", t0, n, sum(f[2].F.shape[0] for f in found), max(widths), lp_max_residual=t_star)
    return thetas, ws, t_star <= tol


def _head_width(X, head, problem: Problem) -> float:
    """Width of one head's log-ratio Θ-body along its two least-determined data directions."""
    g, _, hs = head
    if hs.F.shape[0] == 0:
        return math.inf
    _, _, Vt = np.linalg.svd(hs.F, full_matrices=False)
    from .sculpt import LogRatioRows, ThetaBody

    L = hs.L(g)
    slack = 1e-9 * (1 + np.abs(L))
    body = ThetaBody(LogRatioRows(hs.F, L - slack, L + slack, np.zeros(len(L), int)), hs.d)
    return float(np.max(body_widths(body, Vt[-2:], solver=problem.solver)))


def sculpt_route(problem: Problem, rng, rounds: list, phases: list):
    """Run the route of the module docstring; returns ``(thetas, ws, active, accepted)``.

    Raises :class:`~provable_mha.LearnError` when :math:`mk>d` or a round fails.
    """
    n, k, d = problem.X.shape
    if problem.m * k > d:
        raise LearnError(f"route='sculpt' needs m*k <= d (got m={problem.m}, k={k}, d={d}); use "
                         "route='generation'", {"phase": "span"})
    basis = _span_round(problem, rng, rounds, phases)
    P, V = _polytope_round(problem, basis, rounds, phases)
    found = _heads_round(problem, P, V, rounds, phases)
    thetas, ws, ok = _theta_round(problem, found, rounds, phases)
    return thetas, ws, np.arange(n), ok
