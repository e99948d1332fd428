r"""Phase v, provable mode: span → β → g-polytope → α → Θ-step → W-step → W-step LP certificate.

Pipeline of :func:`provable_fit` (notation of :mod:`.gpolytope`):

1. :math:`\mathrm{span}\{W_i\}` by :func:`.span.w_span` (variable-projection
   Levenberg–Marquardt from moment starts, or a given basis), certified by its residual.
2. :math:`\hat\beta` and the polytope :math:`P\ni g_1..g_m` (:func:`.gpolytope.g_polytope`).
3. Candidates for the rows of :math:`G=C^{-1}`: the vertices of :math:`P` when it is a
   simplex; otherwise a net of :math:`P` with covering radius :math:`h`. A net point
   :math:`g` is **rejected** when the Θ-step LP with intervals
   :math:`\alpha_{ab}\in[g^\top\hat\beta_{ab}-e_{ab}, g^\top\hat\beta_{ab}+e_{ab}]`,
   :math:`e_{ab}=(R_g+\ldots)\,\|\delta\beta_{ab}\|+h\|\hat\beta_{ab}\|_2`, is infeasible: the
   net point within :math:`h` of a true :math:`g_i` is never rejected (those intervals contain
   the true weights, so the true :math:`\Theta_i` is feasible). The heads decouple — the
   constraints of head :math:`i` involve only :math:`g_i` — so the search is over a net of the
   (m−1)-dimensional :math:`P`, :math:`O(h^{-(m-1)})` points, instead of a net over the
   :math:`m\times m` matrix :math:`C` (:math:`|\text{net}|^m/m!` candidates after the
   head-permutation symmetry, reported as ``joint_net_size``).
4. **Polish** each surviving candidate by variable projection: the centred log-ratios
   :math:`L_{ab}(g)=\log g^\top\hat\beta_{ab}-\tfrac1k\sum_c\log g^\top\hat\beta_{ac}` must equal
   :math:`x_a^\top\Theta(x_b-\bar x_a)` for one Θ, so :math:`\min_g\|(I-QQ^\top)L(g)\|` over the
   hyperplane :math:`g^\top\hat s=1` (:math:`Q` an orthonormal basis of the feature columns)
   is 0 exactly at the true :math:`g_i` (noiseless), solved by Levenberg–Marquardt in
   :math:`m-1` variables.
5. :math:`\alpha=G\hat\beta`, :math:`\Theta_i=\arg\min\|F\,\mathrm{vec}\Theta-L(g_i)\|`, then the
   W-step least squares and the **certificate**: the LP
   :math:`\min t\ \text{s.t.}\ |D(\Theta)W-Y|\le t` (HiGHS), whose optimum bounds the best
   max-entry training residual achievable with these :math:`\Theta`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np

from .._validation import as_generator, check_positive_int
from ..errors import LearnError
from .constraints import residual_block
from .design import design_matrix, solve_w
from .gpolytope import GPolytope, g_polytope, polytope_vertices
from .lm import levenberg_marquardt
from .result import PhaseRecord, timed_phase
from .sculpt import _check_noise, _check_xy, simplex_intervals, theta_body
from .solvers import solve
from .span import orthonormalize, w_span

__all__ = ["ProvableFit", "provable_fit", "polish_g", "certify_w_lp"]


@dataclass
class ProvableFit:
    """Result of :func:`provable_fit`: parameters, per-phase records and the search size."""

    thetas: np.ndarray
    ws: np.ndarray
    phases: list[PhaseRecord]
    search_size: int
    info: dict = field(default_factory=dict)


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

    res = levenberg_marquardt(fun, jac, np.zeros(m - 1), max_iter=max_iter)
    g = g0 + N @ res.x
    L = h.L(g)
    return g, float(np.sqrt(2 * res.cost) / max(np.linalg.norm(L), 1e-300)), h


def certify_w_lp(thetas, X, Y, *, solver: str | None = None):
    r"""W-step LP certificate :math:`t^*=\min_W\max|D(\Theta)W-Y|` (vectorised, HiGHS).

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


def provable_fit(X, Y, m: int, *, noise: float = 0.0, solver: str | None = None, rng=None,
                 progress: bool = False, net_resolution: float = 0.05, max_candidates: int = 200,
                 w_basis=None, span_restarts: int = 6, span_iter: int | None = None) -> ProvableFit:
    r"""The provable mode (module docstring). Needs :math:`mk\le d`.

    Parameters
    ----------
    X, Y : array_like, shape (n, k, d)
    m : int
    noise : float
        Label-noise standard deviation σ (margins of every interval scale with it).
    solver : str, optional
        CVXPY solver for the LPs (default HiGHS).
    rng : int or Generator, optional
        Seeds the span restarts.
    progress : bool
        Print one line per phase.
    net_resolution : float
        Net covering radius relative to the diameter of P (fallback search only).
    max_candidates : int
        Largest net enumerated; a larger one raises :class:`LearnError` (its size is reported).
    w_basis : array_like (m, d, d), optional
        A basis of :math:`\mathrm{span}\{W_i\}` from elsewhere (skips phase iii).
    span_restarts, span_iter : int, optional
        Starts and iterations per start of :func:`.span.w_span` (``span_iter`` defaults to its
        default).

    Raises
    ------
    LearnError
        ``m*k > d``; too few examples; span not found; empty polytope or body (data not
        realizable by m heads); fewer than m distinct heads; solver failure.
    """
    Xb, Yb = _check_xy(X, Y)
    n, k, d = Xb.shape
    m = check_positive_int(m, "m")
    noise = _check_noise(noise)
    gen = as_generator(rng)
    if m * k > d:
        raise LearnError(f"the provable mode needs m*k <= d (got m={m}, k={k}, d={d}): the row "
                         "designs are then square or tall; use mode='practical'",
                         {"phase": "provable", "m": m, "k": k, "d": d})
    if n * k < m * d:
        raise LearnError(f"too few examples: n*k = {n * k} < m*d = {m * d}", {"n": n})
    phases: list[PhaseRecord] = []
    say = print if progress else (lambda *a, **kw: None)
    ynorm = float(np.linalg.norm(Yb))
    res_tol = 1e-8 if noise == 0 else 4 * noise * math.sqrt(Yb.size) / ynorm

    with timed_phase(phases, "span", solver="numpy-lm") as rec:
        if w_basis is not None:
            basis, span_res = orthonormalize(w_basis), float("nan")
        else:
            sf = w_span(Xb, Yb, m, restarts=span_restarts, max_iter=span_iter, rng=gen,
                        tol=1e-13 if noise == 0 else res_tol / 10)
            basis, span_res = sf.basis, sf.residual
            rec.info.update(residual=span_res, restarts=sf.restarts, dropped=sf.dropped)
        rec.sizes.update(examples=n, parameters=m * d * d)
    say(f"[provable] span residual {span_res:.2e}")
    if not (span_res <= res_tol) and w_basis is None:
        rec.status = "failed"
        raise LearnError(f"span{{W_i}} not found: best residual {span_res:.2e} > {res_tol:.1e} "
                         f"after {span_restarts} restarts", {"phase": "span", "residual": span_res})

    with timed_phase(phases, "g-polytope", solver=None) as rec:
        P = g_polytope(Xb, Yb, basis, noise=noise)
        V = polytope_vertices(P, solver=solver)
        rec.sizes.update(rows=int(P.betas.shape[0]), vertices=len(V.points),
                         dropped_examples=P.coefficients.n_dropped)
        rec.info.update(clean=V.clean, radius=P.radius)
    say(f"[provable] polytope: {len(V.points)} vertices, clean={V.clean}")

    rc = P.coefficients
    diam = max(float(np.max(np.linalg.norm(V.points[:, None] - V.points[None], axis=-1))), 1e-12)
    h = net_resolution * diam
    # noiseless: a true g_i makes the log-ratio system consistent to round-off; with noise the
    # candidates are ranked by residual and the W-step certificate decides
    polish_tol = 1e-6 if noise == 0 else np.inf
    found: list[tuple] = []
    search_size, net_count, rejected = 0, 0, 0
    with timed_phase(phases, "search", solver="numpy-lm") as rec:
        routes = [("vertices", V.points)] if V.clean else []
        if m > 1:
            routes.append(("net", None))
        for route, cands in routes:
            if route == "net":
                cands = _net_points(P, V.points, h)
                net_count = len(cands)
                if net_count > max_candidates:
                    rec.status = "net too large"
                    raise LearnError(f"net over P has {net_count} points > max_candidates="
                                     f"{max_candidates}", {"phase": "search", "net_size": net_count})
            found = []
            for g in cands:
                search_size += 1
                if route == "net":
                    if _reject(Xb, P, g, h, max(4, (8 * d * d) // (k * k * (k - 1))), solver):
                        rejected += 1
                        continue
                gp, r, hs = polish_g(Xb, rc.coef, rc.valid, g, P.s)
                if r <= polish_tol and all(np.linalg.norm(gp - q[0]) > 1e-6 * np.linalg.norm(q[0]) for q in found):
                    found.append((gp, r, hs))
            found.sort(key=lambda f: f[1])
            if len(found) >= m:
                rec.info["route"] = route
                break
        rec.sizes.update(candidates=search_size, net_size=net_count, rejected=rejected)
        rec.info.update(joint_net_size=math.comb(net_count + m - 1, m) if net_count else 0,
                        polish_residuals=[f[1] for f in found])
    say(f"[provable] search: {search_size} candidates, {len(found)} heads")
    if len(found) < m:
        raise LearnError(f"found {len(found)} < m={m} consistent heads (polytope not clean and "
                         "net search failed); data may not be realizable by m heads",
                         {"phase": "search", "found": len(found), "candidates": search_size})

    best = None
    with timed_phase(phases, "certify", solver=None) as rec:
        for combo in itertools.combinations(range(len(found)), m):
            thetas = np.array([found[i][2].theta(found[i][0]) for i in combo])
            D = design_matrix(thetas, Xb)
            wflat = solve_w(D, Yb)
            rel = float(np.linalg.norm(D @ wflat - Yb.reshape(n * k, d))) / ynorm
            ws = wflat.reshape(m, d, d)
            if best is None or rel < best[0]:
                best = (rel, thetas, ws)
        rel, thetas, ws = best
        t_star, _, info = certify_w_lp(thetas, Xb, Yb, solver=solver)
        t_star = max(t_star, 0.0)  # HiGHS may return -1e-10 (its feasibility tolerance)
        rec.solver, rec.status = info.solver, info.status
        rec.info.update(lp_max_residual=t_star, ls_relative_residual=rel)
    say(f"[provable] certificate: max residual {t_star:.2e}")
    return ProvableFit(thetas, ws, phases, search_size,
                       info={"certificate_max_residual": t_star, "relative_residual": rel,
                             "span_residual": span_res, "net_size": net_count,
                             "joint_net_size": math.comb(net_count + m - 1, m) if net_count else 0,
                             "polytope_vertices": len(V.points), "clean": bool(V.clean)})

