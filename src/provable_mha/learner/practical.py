r"""Strategy ``"practical"``: multi-start local search over :math:`\Theta`, with :math:`W` eliminated.

Variable projection (Golub–Pereyra): for fixed :math:`\Theta` the optimal
:math:`W^*(\Theta) = D(\Theta)^+ Y` (the W-step of :mod:`.design`), leaving the reduced residual

.. math::

    r(\Theta) = \big(I - D(\Theta)D(\Theta)^+\big)\, Y ,

minimised by the Levenberg–Marquardt core of :mod:`.lsq` with Kaufman's Jacobian
:math:`J \approx -P^\perp_{D}\,\partial_\Theta\big(D(\Theta)W\big)|_{W=W^*}`, whose normal equations
are formed from the attention covariances without materialising :math:`J`
(:func:`.design.theta_normal_equations`). A start whose cost stalls is abandoned; on small layers
failed starts open monotone basin-hopping chains that share the budget with the fresh starts
(:mod:`.hopping`); on large ones every second start is a span start (:mod:`.span`). The
search stops at the first run below the acceptance threshold of :mod:`.policy`. Nothing here is a
guarantee: the answer is judged by the shared certificate (``docs/learner.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._einsum import einsum
from . import policy
from .design import WStep, theta_block_scaling, theta_covariances, theta_jvp, theta_normal_equations, theta_vjp, w_step
from .hopping import Kick, dovetail, hop_patience
from .lsq import DenseNormal, MatrixFree, levenberg_marquardt, ridged
from .problem import Problem
from .result import Candidate, PhaseRecord

__all__ = ["LocalRun", "varpro_residual", "varpro_normal", "varpro_operator", "local_search", "uses_matrix_free",
           "start_points", "practical", "DENSE_MAX_PARAMS", "LSMR_RTOL", "PATH_LSMR_RTOL",
           "PATH_ACCURATE_MIN", "START_SCALES", "RIDGE_PATH",
           "PATH_STARTS", "RIDGE_ITERS", "RIDGE_STALL", "PRODUCT_DTYPE"]


@dataclass
class LocalRun:
    """One local-search run from one start."""

    thetas: np.ndarray
    ws: np.ndarray
    relative_residual: float
    iterations: int
    evaluations: int
    reason: str
    start: str


def varpro_residual(theta_flat: np.ndarray, X: np.ndarray, Y: np.ndarray, m: int):
    r"""Reduced residual :math:`P^\perp_{D(\Theta)}Y` (flattened) and :math:`W^*(\Theta)` ``(m, d, d)``."""
    d = X.shape[2]
    ws = w_step(theta_flat.reshape(m, d, d), X, Y)
    return ws.residual.ravel(), ws.W.reshape(m, d, d)


def varpro_normal(theta_flat: np.ndarray, r: np.ndarray, X: np.ndarray, Y: np.ndarray, m: int,
                  ws: WStep | None = None) -> DenseNormal:
    r"""Kaufman's normal equations :math:`(J^\top J, J^\top r)` of the reduced residual.

    :math:`J_{vp} = -P^\perp J_\Theta`, so :math:`J_{vp}^\top J_{vp} = J_\Theta^\top P^\perp J_\Theta`
    and, as :math:`r = P^\perp Y` already lies in the range of :math:`P^\perp`,
    :math:`J_{vp}^\top r = -J_\Theta^\top r`. ``ws``: the W-step at ``theta_flat`` if already computed.
    """
    n, k, d = X.shape
    thetas = theta_flat.reshape(m, d, d)
    ws = w_step(thetas, X, Y) if ws is None else ws
    C = theta_covariances(thetas, ws.W.reshape(m, d, d), X, ws.A)
    H, g = theta_normal_equations(X, C, r.reshape(n * k, d), ws.Q)
    return DenseNormal(H, -g)


def varpro_operator(theta_flat: np.ndarray, r: np.ndarray, X: np.ndarray, Y: np.ndarray, m: int,
                    rtol: float = 1e-8, dtype: type = np.float64, ws: WStep | None = None) -> MatrixFree:
    r"""Kaufman's Jacobian :math:`-P^\perp J_\Theta` as products (:func:`.design.theta_jvp`,
    :func:`.design.theta_vjp`): no :math:`md^2\times md^2` matrix, memory :math:`O(nk(md+d^2))`.

    Scaling and preconditioner: per head, the inverse square root of the diagonal block of
    :math:`J_\Theta^\top J_\Theta` (:func:`.design.theta_block_scaling`; the projection is ignored there).

    The adjoint omits the projection: :math:`(P^\perp J_\Theta)^\top u = J_\Theta^\top u` for
    :math:`u \in \operatorname{range}P^\perp`, and LSMR applies the adjoint only to combinations of its
    right-hand side :math:`-r = -P^\perp Y` and of products :math:`P^\perp J_\Theta v`, all in that range
    (up to rounding). It saves half the projections, a third of a product pair's cost at (4,64,16).
    ``dtype``: the precision of the products (the LSMR vectors stay float64); :data:`PRODUCT_DTYPE`.
    ``ws``: the W-step at ``theta_flat`` if already computed.
    """
    n, k, d = X.shape
    thetas = theta_flat.reshape(m, d, d)
    ws = w_step(thetas, X, Y) if ws is None else ws
    S = theta_block_scaling(ws.A, einsum("nbd,mde->nmbe", X, ws.W.reshape(m, d, d)), X)

    def cast(a):  # contiguous: a strided operand is copied inside every product otherwise
        return np.ascontiguousarray(a, dtype=dtype)

    A, Xc, Q = cast(ws.A), cast(X), cast(ws.Q)
    # the values again, in the products' precision (S above is built from float64 ones: an eigh); one
    # O(nkmd^2) product per linearisation against thousands of products inside LSMR
    XW = cast(einsum("nbd,mde->nmbe", Xc, ws.W.reshape(m, d, d).astype(dtype)))

    def matvec(v):
        F = theta_jvp(A, XW, Xc, v.reshape(m, d, d).astype(dtype, copy=False)).reshape(n * k, d)
        return np.asarray(Q @ (Q.T @ F) - F, dtype=np.float64).ravel()

    def rmatvec(u):
        return -np.asarray(theta_vjp(A, XW, Xc, u.reshape(n, k, d).astype(dtype, copy=False)), dtype=np.float64).ravel()

    def scaling(z):
        return np.matmul(z.reshape(m, d, d), S).ravel()

    return MatrixFree(matvec, rmatvec, (n * k * d, m * d * d), r, scaling=scaling, rtol=rtol)


#: Above this many attention parameters (m d^2) the search uses :func:`varpro_operator` instead of
#: the dense normal equations: their (m d^2)^3 solve and (nk) x (m d^3) intermediate dominate there
#: (crossover measured in docs/learner.md, "Scale").
DENSE_MAX_PARAMS = 512


def uses_matrix_free(m: int, d: int, linear_algebra: str = "auto") -> bool:
    """Whether :func:`local_search` takes matrix-free steps: ``"matrix-free"``, or ``"auto"`` above
    :data:`DENSE_MAX_PARAMS` attention parameters (m d^2)."""
    return linear_algebra == "matrix-free" or (linear_algebra == "auto" and m * d * d > DENSE_MAX_PARAMS)

#: Relative tolerance of the matrix-free search's inner LSMR solves: inexact Gauss–Newton steps
#: (Dembo, Eisenstat & Steihaug 1982). Measured (docs/learner.md, "Precision"): against 1e-8,
#: 1.9x faster at (4,32,8) and 2.0x at (4,64,16) (3 n*, 3 seeds), a few more LM iterations, the
#: same layers to 1e-14. The dense path solves exactly.
LSMR_RTOL = 1e-3
#: The same tolerance during the Tikhonov path (:data:`RIDGE_PATH`), at its weights from
#: :data:`PATH_ACCURATE_MIN` up. Why: with 1e-3 steps the
#: path lets the heads drift together (at (4,64,16), 1.5 n*, the four Theta_i end it at pairwise
#: cosine 0.82-0.87 and no start succeeds); path-only tolerance sweep there (docs/learner.md,
#: "Precision"): 1e-3 0/2 starts, 1e-4 1/2, 1e-5 2/2 at ~3x the time per path start; pm.learn at
#: (4,64,16), 1.5 n*, 120 s: 1/10 seeds -> 7/10. Cost: the matrix-free cells' medians at the
#: frontier's found sizes rose 1.3-2.3x (docs/frontier.md, section 6).
PATH_LSMR_RTOL = 1e-5
#: The path weights that get :data:`PATH_LSMR_RTOL`: :math:`\lambda \ge` this; lighter weights use
#: :data:`LSMR_RTOL`. Why: the heavy weights decide which basin a start ends in (where the heads
#: separate), the light ones only approach the unpenalised fit, which the plain search finishes at
#: :data:`LSMR_RTOL` anyway. Probe at (4,64,16), 1.5 n*, 120 s (docs/learner.md, "Precision"):
#: 9/10 seeds against 7/10 with 1e-5 for every weight.
PATH_ACCURATE_MIN = 1e-3
#: Precision of the matrix-free search's Jacobian products (:func:`varpro_operator`); the residual,
#: the W-step, the LSMR vectors and the fit that is judged stay float64. Why float32 is enough: the
#: products' relative error (2-3e-7, ``results/precision_float32.csv``) is far below the inner
#: solves' tolerances (:data:`LSMR_RTOL`, :data:`PATH_LSMR_RTOL`), and the outer iteration corrects
#: an inexact step with float64 residuals, so an exact fit is still reached to float64 round-off
#: (``docs/learner.md``, "Precision"). Measured there: 2x faster per product pair at (4,64,16).
PRODUCT_DTYPE = np.float32


#: Tikhonov continuation of a start (relative weights :math:`\lambda`, from strong to weak): for each
#: weight LM runs on :math:`\|r(\Theta)\|^2+\lambda\|Y\|^2\|\Theta\|_F^2` until the penalised cost
#: falls by less than :data:`RIDGE_STALL` (at most :data:`RIDGE_ITERS` iterations), then the plain
#: search starts where the path ended. Why: near n* the starts that fail run off to large or stay
#: at small :math:`\|\Theta\|` (hard attention that almost fits a few examples, or near-uniform
#: attention whose heads have not separated); the path tracks the minimiser of the penalised cost
#: as the penalty is lifted. Every start but the first follows it, from a weight of
#: :data:`PATH_STARTS` (the first runs plain: with enough examples it succeeds, and the path would
#: add to its cost). Measured in
#: ``docs/learner.md`` ("Continuation"): per-start success at 1.5 n* 0/90 -> 30/90 at (4,16,8) and
#: 0/90 -> 63/90 at (4,32,8) against the release-2 path (1e-3 .. 1e-5, 5 iterations each).
RIDGE_PATH = (1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6)
#: The weight the path of each start after the first begins at, cycled: start 1 follows
#: :data:`RIDGE_PATH` from 1e-2, start 2 from 1e-3, start 3 from 1e-2, ... Why: no single first
#: weight is best. Accepted starts at 1.5 n* (3 seeds x 30 starts, ``docs/learner.md``,
#: "Continuation"), from 1e-2 vs from 1e-3: (4,16,8) 30 vs 11, (4,32,8) 63 vs 46, (8,8,4) 0 vs 17,
#: (2,8,4) at scale 4: 2 vs 7. Cycling gives every cell about the mean of the two rates.
PATH_STARTS = (1e-2, 1e-3)
RIDGE_ITERS = 20
#: (window, ratio): leave a weight of the path when its cost fell by less than ``ratio`` over
#: ``window`` iterations (the minimiser at that weight is reached to about 2%).
RIDGE_STALL = (2, 1.02)


def local_search(X, Y, m: int, theta0: np.ndarray, *, max_iter: int = 150, threshold: float = policy.EXACT_FIT_REL,
                 start: str = "given", deadline: float | None = None, linear_algebra: str = "auto",
                 ridge_path: tuple[float, ...] = (), lsmr_rtol: float = LSMR_RTOL,
                 path_lsmr_rtol: float = PATH_LSMR_RTOL, path_accurate_min: float = PATH_ACCURATE_MIN,
                 product_dtype: type = PRODUCT_DTYPE) -> LocalRun:
    r"""Variable-projection Levenberg–Marquardt from ``theta0 (m, d, d)``.

    ``linear_algebra``: ``"dense"`` (structured normal equations), ``"matrix-free"`` (LSMR on
    products) or ``"auto"`` (matrix-free above :data:`DENSE_MAX_PARAMS` attention parameters).
    ``ridge_path``: weights :math:`\lambda_1 > \lambda_2 > \dots`; first, for each in turn,
    up to :data:`RIDGE_ITERS` iterations (:data:`RIDGE_STALL`) on
    :math:`\|r(\Theta)\|^2 + \lambda\|Y\|^2\|\Theta\|_F^2`
    (a homotopy from a penalised to the exact fit; :func:`.lsq.ridged`), then the plain search.
    Only the final, unregularised fit is returned and judged. ``lsmr_rtol``: relative tolerance of
    the matrix-free inner solves of the plain search (``benchmarks/precision.py`` measures looser
    ones), ``path_lsmr_rtol`` the same for the path weights :math:`\lambda \ge` ``path_accurate_min``
    (:data:`PATH_LSMR_RTOL`, :data:`PATH_ACCURATE_MIN`; lighter weights use ``lsmr_rtol``).
    ``product_dtype``: precision of the matrix-free products (:data:`PRODUCT_DTYPE`).
    """
    d = X.shape[2]
    norm = float(np.linalg.norm(Y))
    free = uses_matrix_free(m, d, linear_algebra)

    last: list = [None, None]  # the latest residual's (Theta, W-step): LM linearises where it last evaluated

    def residual(t):
        last[:] = [t.copy(), w_step(t.reshape(m, d, d), X, Y)]
        return last[1].residual.ravel()

    def linearize(rtol):
        def lin(t, r):
            ws = last[1] if np.array_equal(last[0], t) else None
            if free:
                return varpro_operator(t, r, X, Y, m, rtol=rtol, dtype=product_dtype, ws=ws)
            return varpro_normal(t, r, X, Y, m, ws=ws)
        return lin

    lin, path_lin = linearize(lsmr_rtol), linearize(path_lsmr_rtol)

    theta = theta0.ravel()
    iterations = evaluations = 0
    for lam in ridge_path:
        step = path_lin if lam >= path_accurate_min else lin
        path = levenberg_marquardt(*ridged(residual, step, np.sqrt(lam) * norm), theta, max_iter=RIDGE_ITERS,
                                   stall_window=RIDGE_STALL[0], stall_ratio=RIDGE_STALL[1], deadline=deadline)
        theta, iterations, evaluations = path.x, iterations + path.iterations, evaluations + path.evaluations
    res = levenberg_marquardt(residual, lin, theta,
                              max_iter=max_iter, ftol=0.5 * (policy.LM_POLISH * threshold * norm) ** 2,
                              stall_window=policy.LM_STALL_WINDOW, stall_ratio=policy.LM_STALL_RATIO,
                              deadline=deadline)
    W = varpro_residual(res.x, X, Y, m)[1]
    return LocalRun(res.x.reshape(m, d, d), W, float(np.linalg.norm(res.r) / norm), iterations + res.iterations,
                    evaluations + res.evaluations, res.reason, start)


#: Logit scales of the random starts, cycled: for Boolean x, the logit :math:`x_a^\top\Theta_i x_b`
#: of a start has standard deviation s. With the continuation path the scale matters little on
#: small cells; at (4,16,8) and (4,32,8), 1.5 n*, cycling (1, 0.25) accepted about half as many
#: starts as scale 1 alone (probe in ``docs/learner.md``, "Continuation").
START_SCALES = (1.0,)


def start_points(m: int, d: int, rng: np.random.Generator, count: int, scales=START_SCALES):
    """Random starts :math:`\\Theta_i = s\\,G_i/d` (G standard Gaussian) cycling through ``scales``."""
    for j in range(count):
        s = scales[j % len(scales)]
        yield f"random(scale={s})", s * rng.standard_normal((m, d, d)) / d


def start_path(j: int, path: tuple[float, ...], firsts: tuple[float, ...] = PATH_STARTS) -> tuple[float, ...]:
    """The continuation start ``j`` follows: none for the first start (``j = 0``), else the weights
    of ``path`` at most ``firsts[(j - 1) % len(firsts)]`` (:data:`PATH_STARTS`)."""
    if j == 0 or not firsts:
        return ()
    first = firsts[(j - 1) % len(firsts)]
    return tuple(w for w in path if w <= first)


def practical(problem: Problem, rng: np.random.Generator) -> Candidate:
    """Run the practical strategy on ``problem`` (module docstring); returns the best run."""
    import time

    from .span import span_fits, span_starts  # span builds on local_search

    X, Y, m = problem.X, problem.Y, problem.m
    d = X.shape[2]
    thr = problem.threshold
    t0 = time.perf_counter()
    options = problem.options or {}
    scales, path = options.get("start_scales", START_SCALES), options.get("ridge_path", RIDGE_PATH)
    firsts = options.get("path_starts", PATH_STARTS)
    patience = hop_patience(m, d, options.get("hops"))

    fits = span_fits(m, d, options.get("span_fits"))

    def fresh():
        points = start_points(m, d, rng, problem.restarts, scales)
        spans = span_starts(X, Y, m, rng, fits, scales[0]) if fits else None
        j = 0  # random starts so far
        for count in range(problem.restarts):
            if spans is not None and count % 2 == 1:  # on large layers every second start is a span start
                yield local_search(X, Y, m, next(spans), threshold=thr, start="span")
                continue
            name, th0 = next(points)
            # the first start runs plain: on well-sampled data it succeeds and the path would only cost
            yield local_search(X, Y, m, th0, threshold=thr, start=name, ridge_path=start_path(j, path, firsts))
            j += 1

    def hop(th0):
        return local_search(X, Y, m, th0, threshold=thr, start="hop")

    runs: list[LocalRun] = []  # every start, and every hop that lowered its chain's cost
    counts = {"start": 0, "hop": 0}
    for kind, run, chain_best in dovetail(fresh(), hop, Kick(rng), thr, patience):
        counts[kind] += 1
        if kind == "start" or run is chain_best:
            runs.append(run)
        problem.tick(f"{kind} {counts[kind]}: residual {run.relative_residual:.1e}", steps=int(kind == "start"))
    best = min(runs, key=lambda r: r.relative_residual)
    accepted = best.relative_residual <= thr
    rec = PhaseRecord("search", time.perf_counter() - t0,
                      "accepted" if accepted else "no start reached the threshold", "numpy-lm",
                      sizes={"parameters": m * d * d, "residuals": Y.size, "starts": counts["start"],
                             "hops": counts["hop"]},
                      info={"threshold": thr, "hop_patience": patience, "runs": [
                          {"start": r.start, "relative_residual": r.relative_residual,
                           "iterations": r.iterations, "reason": r.reason} for r in runs]})
    return Candidate(best.thetas, best.ws, accepted, thr, phases=[rec])
