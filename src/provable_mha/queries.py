r"""Learning the layer from queries: the learner chooses inputs :math:`X` and observes :math:`F(X)`.

Value queries to an oracle :math:`X\mapsto F(X)=\sum_i\mathrm{softmax}(X\Theta_iX^\top)XW_i`
(Bhattamishra, Shah, Hahn & Kanade, arXiv 2601.16873, study this access model for a single-head
attention regressor and learn it with :math:`O(d^2)` queries; the algorithm below is this project's
own, for the layer above, and is derived in ``docs/queries.md``):

1. **Sum of values** (every m, :math:`d` queries). With all tokens equal, :math:`X=\mathbf 1x^\top`,
   every attention row is uniform and :math:`F(X)=\mathbf 1x^\top\sum_iW_i`: the queries
   :math:`x=e_1,\dots,e_d` (real) or the rows of an invertible :math:`\pm1` matrix (Boolean) give
   :math:`\sum_iW_i` by one linear solve.
2. **One head, attention by inversion** (m = 1, :math:`\max(2,\lceil(d^2+d)/(j(j-1))\rceil)`
   queries of :math:`j` = :func:`distinct_tokens` :math:`\le\mathrm{rank}\,W+1` distinct tokens).
   A row of the output is :math:`y_a=\sum_bA_{ab}t_b^\top W` with :math:`\sum_bA_{ab}=1`: a linear
   system for the attention row, uniquely solvable when the :math:`t_b^\top W` are affinely
   independent. Its log-ratios are linear in :math:`\Theta`:
   :math:`\log\frac{A_{ab}/n_b}{A_{ac}/n_c}=t_a^\top\Theta(t_b-t_c)` (:math:`n_b` = copies of
   token :math:`b`), and :math:`d^2+d` such equations of full column rank give :math:`\Theta` by
   least squares.
3. **Several heads** (m > 1): the same local search as :func:`provable_mha.learn` (variable
   projection, ``method="practical"``) on designed queries, then joint refinement. This step is
   not guaranteed to succeed; when the result fits, ``docs/identifiability.md`` (Theorem 1) says
   which parameters it pins down.
4. **Verification.** Fresh random queries, never used for fitting, give the held-out certificate of
   :func:`provable_mha.learner.certify.holdout_certificate` on their distribution.

Real queries are the default: their scale can be chosen so that no attention weight is tiny (the
log-ratios stay accurate whatever :math:`\|\Theta\|`), and real inputs identify strictly more than
Boolean ones (:func:`provable_mha.non_identifiable_pair` with ``kind="boolean_d1"``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from ._validation import as_generator, check_positive_int
from .errors import LearnError
from .identifiability import identifiability
from .model import MultiHeadAttention

__all__ = ["QueryOracle", "learn_from_queries", "sum_w_from_queries", "single_head_from_queries",
           "query_bound", "distinct_tokens"]

QUERY_KINDS = ("real", "boolean")
#: Relative residual of an attention-row solve, or RMS residual of the Θ system (log-ratio units), above
#: which the oracle is not a single-head layer: single-head oracles measured <= 1e-14, a two-head
#: oracle 0.67 and 7e-3 (docs/queries.md).
REALIZABLE_REL = 1e-8
#: Target and accepted range of the largest |logit difference| over the pilot's Θ-queries (real
#: queries): large enough that Θ dominates round-off, small enough that no attention weight is tiny.
LOGIT_TARGET, LOGIT_RANGE, PILOT_QUERIES = 2.0, (0.25, 8.0), 4
#: Fewest Θ-queries (docs/queries.md: a single query of d + 1 tokens is ill-conditioned).
MIN_THETA_QUERIES = 2
#: Singular values of the Θ system below this fraction of the largest count as zero (rank deficiency).
THETA_RCOND = 1e-10


class QueryOracle:
    """Wrap any callable ``X (n, k, d) -> F(X) (n, k, d)``, validate its answers and count queries.

    One query is one input sequence (one ``(k, d)`` matrix); a batch of ``n`` counts ``n``.
    """

    def __init__(self, oracle, k: int, d: int) -> None:
        if not callable(oracle):
            raise ValueError(f"oracle must be callable X (n, k, d) -> F(X), got {type(oracle).__name__}")
        self.oracle, self.k, self.d, self.n_queries = oracle, k, d, 0
        self._log: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        Y = np.asarray(self.oracle(X), dtype=np.float64)
        if Y.shape != X.shape:
            raise ValueError(f"the oracle answered shape {Y.shape} to queries of shape {X.shape}")
        if not np.all(np.isfinite(Y)):
            raise ValueError("the oracle answered NaN or inf")
        self.n_queries += X.shape[0]
        self._log.append((X, Y))
        return Y

    def design(self) -> tuple[np.ndarray, np.ndarray]:
        """Every query asked so far and its answer, ``(X, Y)`` each ``(n, k, d)``."""
        return np.concatenate([x for x, _ in self._log]), np.concatenate([y for _, y in self._log])


def query_bound(d: int, k: int, rank: int | None = None) -> int:
    r"""Design queries of the single-head algorithm: :math:`d+\max(2,\lceil(d^2+d)/(j(j-1))\rceil)`.

    :math:`j` = :func:`distinct_tokens` per query (:math:`r=\mathrm{rank}\,W`, default :math:`d`);
    each query yields :math:`j(j-1)` log-ratio equations and :math:`d` spare equations guard the
    conditioning. Exact when the scale pilot accepts its first batch; each rescaling of real queries
    adds up to 4 queries. Excludes the verification queries.
    """
    j = distinct_tokens(k, d if rank is None else rank)
    return d + (math.ceil(_theta_equations_needed(d, j) / (j * (j - 1))) if j >= 2 else 0)


def distinct_tokens(k: int, rank: int) -> int:
    r"""Distinct tokens per Θ-query: :math:`j=\min(k,\max(2,\lceil r/2\rceil+1))`, :math:`r=\mathrm{rank}\,W`.

    The attention row is found from :math:`r+1` independent equations in :math:`j` unknowns, so
    :math:`j\le r+1` is necessary; :math:`j\approx r/2` keeps that system overdetermined (at
    :math:`j=d+1` it is square and the measured Θ error grows to ~1e-10 at d = 32, docs/queries.md).
    """
    return min(k, max(2, -(-rank // 2) + 1))


def _theta_equations_needed(d: int, j: int) -> int:
    """Log-ratio equations the Θ design asks for: d^2 + d, and at least two queries' worth (one query
    with j = d + 1 tokens gives exactly d^2 + d equations, but measured condition numbers ~5e4)."""
    return max(d * d + d, MIN_THETA_QUERIES * j * (j - 1))


def _boolean_basis(d: int) -> np.ndarray:
    """An invertible ±1 matrix: J - 2I (eigenvalues d - 2 and -2) for d != 2, else [[1, 1], [1, -1]]."""
    return np.array([[1.0, 1.0], [1.0, -1.0]]) if d == 2 else np.ones((d, d)) - 2.0 * np.eye(d)


def sum_w_from_queries(oracle: QueryOracle, queries: str = "real") -> tuple[np.ndarray, dict]:
    r"""Step 1: :math:`\sum_iW_i` from the :math:`d` all-tokens-equal queries, and a realizability check.

    Returns ``(S, check)``; ``check["value"]`` is the largest difference between output rows of
    one query relative to the output scale (0 for any layer of this form: all rows are equal).
    """
    k, d = oracle.k, oracle.d
    H = np.eye(d) if queries == "real" else _boolean_basis(d)
    Y = oracle(np.repeat(H[:, None, :], k, axis=1))
    S = np.linalg.solve(H, Y[:, 0, :])
    spread = float(np.abs(Y - Y[:, :1, :]).max() / max(np.abs(Y).max(), 1e-300))
    return S, {"ok": spread <= REALIZABLE_REL, "value": spread, "tol": REALIZABLE_REL}


def _theta_equations(oracle: QueryOracle, W: np.ndarray, T: np.ndarray):
    """Queries with distinct tokens ``T (n, j, d)``: the log-ratio equations and diagnostics.

    Returns ``(rows (N, d*d), rhs (N,), worst attention-solve residual, smallest attention weight,
    largest |log-ratio|, largest condition number of a token system)``; rows and right-hand sides
    are weighted (see the comment below), which does not change the solution of exact equations.
    """
    n, j, d = T.shape
    k = oracle.k
    mult = np.array([k // j + (b < k % j) for b in range(j)])
    first = np.concatenate([[0], np.cumsum(mult)[:-1]])
    Y = oracle(np.repeat(T, mult, axis=1))
    M = np.concatenate([np.swapaxes(T @ W, 1, 2), np.ones((n, 1, j))], axis=1)  # (n, d+1, j): [t_b^T W; 1]
    target = np.concatenate([Y[:, first, :], np.ones((n, j, 1))], axis=2)  # (n, a, d+1): [y_a; 1]
    A = np.einsum("njx,nax->naj", np.linalg.pinv(M), target)  # attention rows A[n, a, b]
    resid = np.linalg.norm(np.einsum("nxj,naj->nax", M, A) - target, axis=2) / np.linalg.norm(target, axis=2)
    ok = A.min(axis=2) > 0
    ref = np.argmax(A, axis=2)  # the largest weight of each row: its log is the most accurate
    Tref = np.take_along_axis(T, ref[:, :, None], axis=1)  # (n, a, d)
    coef = np.einsum("nap,nabq->nabpq", T, T[:, None, :, :] - Tref[:, :, None, :]).reshape(n, j, j, d * d)
    with np.errstate(divide="ignore", invalid="ignore"):
        logw = np.log(A / mult)
        # weight = 1 / (1/A_ab + 1/A_ac): an absolute error e in the attention row moves the log-ratio
        # by at most e (1/A_ab + 1/A_ac), so the weighted equations have equal round-off
        weight = 1.0 / (1.0 / A + 1.0 / np.take_along_axis(A, ref[:, :, None], axis=2))
    rhs = logw - np.take_along_axis(logw, ref[:, :, None], axis=2)
    use = ok[:, :, None] & (np.arange(j)[None, None, :] != ref[:, :, None])
    z, w = rhs[use], weight[use]
    return (coef[use] * w[:, None], z * w, float(resid.max()), float(A.min()),
            float(np.abs(z).max()) if z.size else 0.0, float(np.linalg.cond(M).max()))


def _tokens(n: int, j: int, d: int, s: float, queries: str, gen) -> np.ndarray:
    """``n`` queries of ``j`` distinct tokens: ``s`` times Gaussian (real) or distinct ±1 rows (Boolean)."""
    if queries == "real":
        return s * gen.standard_normal((n, j, d))
    out = np.empty((n, j, d))
    for q in range(n):
        while True:
            T = gen.integers(0, 2, size=(j, d)) * 2.0 - 1.0
            if len({t.tobytes() for t in T}) == j:
                out[q] = T
                break
    return out


def single_head_from_queries(oracle: QueryOracle, W: np.ndarray, *, queries: str = "real", scale: float | None = None,
                             rng=0, max_rounds: int = 12) -> tuple[np.ndarray | None, dict]:
    r"""Step 2: :math:`\Theta` of a single head whose :math:`W` is known (module docstring).

    Returns ``(theta, info)``; ``theta`` is ``None`` when it is not identified (:math:`k=1` or
    :math:`W=0`). ``info`` holds the scale used, the queries spent, the largest relative residual of
    the attention solves (``attention_residual``), the smallest attention weight, the condition
    number of the Θ system and its root-mean-square residual (``theta_residual``: weighted log-ratio
    units, dimensionless, round-off level ~1e-15 when the oracle is a single head).
    """
    k, d = oracle.k, oracle.d
    gen = as_generator(rng)
    sv = np.linalg.svd(W, compute_uv=False)
    rank = int(np.sum(sv > sv[0] * d * 1e-13)) if sv[0] > 0 else 0
    j = distinct_tokens(k, rank) if rank else 1
    info = {"distinct_tokens": j, "rank_w": rank, "queries": 0}
    if j < 2:
        return None, info
    n0 = oracle.n_queries
    s, need = (1.0 if scale is None else float(scale)), _theta_equations_needed(d, j)
    for _ in range(max_rounds):  # scale pilot (real queries, scale=None): a few queries until their logits fit
        T = _tokens(min(PILOT_QUERIES, math.ceil(need / (j * (j - 1)))), j, d, s, queries, gen)
        rows, rhs, worst, min_a, lmax, cond_m = _theta_equations(oracle, W, T)
        if scale is not None or queries != "real" or (min_a > 0 and LOGIT_RANGE[0] <= lmax <= LOGIT_RANGE[1]):
            break
        if min_a > 0 and lmax < LOGIT_RANGE[0] and s >= 1e3:
            break  # Θ ~ 0: attention stays uniform at every scale
        s *= 0.25 if min_a <= 0 else min(10.0, math.sqrt(LOGIT_TARGET / max(lmax, 1e-4)))
    budget = oracle.n_queries - n0 + 4 * math.ceil(need / (j * (j - 1)))
    while True:  # the design, then one more query at a time while the system is rank-deficient
        if len(rows) >= need:
            U, sval, Vt = np.linalg.svd(rows, full_matrices=False)
            if sval[-1] > sval[0] * THETA_RCOND or oracle.n_queries - n0 >= budget:
                break
        more = max(1, math.ceil((need - len(rows)) / (j * (j - 1))))
        r, b, res, ma, _, cm = _theta_equations(oracle, W, _tokens(more, j, d, s, queries, gen))
        rows, rhs = np.concatenate([rows, r]), np.concatenate([rhs, b])
        worst, min_a, cond_m = max(worst, res), min(min_a, ma), max(cond_m, cm)
    C, z = rows, rhs
    keep = sval > sval[0] * THETA_RCOND  # pseudo-inverse: a rank-deficient system is reported, not hidden
    theta = Vt[keep].T @ ((U[:, keep].T @ z) / sval[keep])
    info.update(scale=s, queries=oracle.n_queries - n0, equations=len(rhs), attention_residual=worst,
                min_attention=min_a, token_condition=cond_m, theta_condition=float(sval[0] / max(sval[-1], 1e-300)),
                theta_residual=float(np.linalg.norm(C @ theta - z) / math.sqrt(z.size)))
    return theta.reshape(d, d), info


def _fit_multi(orc: QueryOracle, m: int, S: np.ndarray, queries: str, scale: float | None, restarts: int,
               gen, phases: list) -> tuple[MultiHeadAttention, float, bool]:
    """Step 3 (m > 1, k >= 2): local search on designed queries; appends its phases, returns
    ``(layer, token scale, accepted)``."""
    from .learner.api import information_limit, min_examples
    from .learner.practical import practical
    from .learner.problem import Problem
    from .learner.refine import joint_refine
    from .learner.result import timed_phase

    k, d = orc.k, orc.d
    s = 1.0 if scale is None else float(scale)
    with timed_phase(phases, "design", solver="numpy") as rec:
        n0 = orc.n_queries
        if queries == "real" and scale is None:  # scale pilot: attention visibly, not extremely, non-uniform
            for _ in range(8):
                X = s * gen.standard_normal((PILOT_QUERIES, k, d))
                U = np.einsum("nbd,de->ne", X, S)[:, None, :] / k  # uniform-attention prediction
                rho = float(np.linalg.norm(orc(X) - U) / max(np.linalg.norm(U), 1e-300))
                if 0.05 <= rho <= 1.0:
                    break
                s *= 2.0 if rho < 0.05 else 0.5
        n_fit = max(min_examples(m, d, k), 3 * math.ceil(information_limit(m, d, k)))
        if queries == "real":
            orc(s * gen.standard_normal((n_fit, k, d)))
        else:
            orc(gen.integers(0, 2, (n_fit, k, d)) * 2.0 - 1)
        rec.sizes = {"pilot_queries": orc.n_queries - n0 - n_fit, "fit_queries": n_fit}
        rec.info = {"scale": s}
    Xtr, Ytr = orc.design()
    problem = Problem(Xtr, Ytr, m, restarts=restarts)
    cand = practical(problem, gen)
    phases.extend(cand.phases)
    with timed_phase(phases, "refine", solver="numpy-lm", sizes={"parameters": problem.n_params}) as rec:
        rf = joint_refine(Xtr, Ytr, cand.thetas, cand.ws, threshold=cand.threshold,
                          max_iter=20 if cand.accepted else 5)
        rec.info = {"relative_residual_before": rf.relative_residual_before,
                    "relative_residual": rf.relative_residual, "iterations": rf.iterations}
    return MultiHeadAttention(rf.thetas, rf.ws), s, rf.relative_residual <= cand.threshold


def _fit_single(orc: QueryOracle, S: np.ndarray, queries: str, scale: float | None, gen, phases: list,
                checks: dict) -> tuple[MultiHeadAttention, float, str]:
    """Step 2 with its realizability checks; returns ``(layer, token scale, parameter statement)``."""
    from .learner.result import timed_phase

    d = orc.d
    with timed_phase(phases, "theta", solver="numpy-lstsq") as rec:
        theta, info = single_head_from_queries(orc, S, queries=queries, scale=scale, rng=gen)
        rec.info, rec.sizes = info, {"queries": info["queries"]}
        if theta is not None:  # the formula of docs/queries.md, to print against the queries asked
            info["design_queries_formula"] = query_bound(d, orc.k, info["rank_w"])
    if theta is None:
        stmt = "parameters: W = 0, so Θ is not identified (returned as 0)"
        return MultiHeadAttention(np.zeros((1, d, d)), S[None]), 1.0 if scale is None else float(scale), stmt
    checks["attention_solve"] = {"ok": info["attention_residual"] <= REALIZABLE_REL,
                                 "value": info["attention_residual"], "tol": REALIZABLE_REL}
    ok = info["theta_residual"] <= REALIZABLE_REL and info["theta_condition"] < 1 / THETA_RCOND
    checks["theta_system"] = {"ok": ok,
                              "value": info["theta_residual"], "tol": REALIZABLE_REL,
                              "condition": info["theta_condition"]}
    stmt = ("parameters: if the oracle is a single-head layer, the design's equations (full column rank, "
            f"condition {info['theta_condition']:.2g}) determine its (Θ, W), and the returned ones solve "
            f"them to RMS residual {info['theta_residual']:.1e} (docs/queries.md)")
    return MultiHeadAttention(theta[None], S[None]), info["scale"], stmt


def _verify(orc: QueryOracle, layer: MultiHeadAttention, s: float, queries: str, n_verify: int, delta: float,
            checks: dict, param_statement: str, gen):
    """Step 4: fresh verification queries and the held-out certificate on their distribution."""
    from .learner.certify import holdout_certificate

    k, d = orc.k, orc.d
    Xd, Yd = orc.design()
    if queries == "real":
        Xv, dist = s * gen.standard_normal((n_verify, k, d)), f"tokens with i.i.d. N(0, {s:.3g}^2) entries"
    else:
        Xv, dist = gen.integers(0, 2, (n_verify, k, d)) * 2.0 - 1, "uniform inputs in {±1}^(k×d)"
    Yv = orc(Xv)
    ident = identifiability(layer, k, inputs=queries)
    cert = holdout_certificate(layer, Xd, Xv, Yv, y_scale=float(np.abs(Yd).max()), delta=delta,
                               y_mean=Yd.mean(axis=0), param={"statement": param_statement},
                               identifiable=ident.identifiable, checks=checks)
    extra = (f"the oracle answers every query by one fixed rule; verification queries are {n_verify} fresh draws "
             f"of {dist}, the distribution the statement is about")
    cert = dataclasses.replace(cert, assumptions=[*cert.assumptions, extra],
                               statement=cert.statement.replace("[under: ", f"[under: {extra}; ", 1))
    return cert, ident, Xd, Yd


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _validate(m, d, k, queries, scale, n_verify, delta, restarts):
    """Arguments of :func:`learn_from_queries`, validated at the boundary."""
    m, d, k = check_positive_int(m, "m"), check_positive_int(d, "d"), check_positive_int(k, "k")
    n_verify = check_positive_int(n_verify, "n_verify")
    if queries not in QUERY_KINDS:
        raise ValueError(f"queries must be one of {QUERY_KINDS}, got {queries!r}")
    if scale is not None and not (_is_real(scale) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    if not (_is_real(delta) and 0 < delta < 1):
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    restarts = check_positive_int(restarts, "restarts")
    return m, d, k, n_verify, restarts


def learn_from_queries(oracle, m: int, d: int, k: int, rng=0, *, queries: str = "real", scale: float | None = None,
                       n_verify: int = 64, delta: float = 0.05, restarts: int = 100, strict: bool = True):
    r"""Learn an m-head layer from an oracle :math:`X\mapsto F(X)` by choosing the queries.

    Parameters
    ----------
    oracle : callable
        ``X (n, k, d) -> F(X) (n, k, d)``: a :class:`~provable_mha.MultiHeadAttention`, a wrapped
        torch module, any function. Queried with float64 arrays.
    m, d, k : int
        Heads to learn, token dimension, tokens per query.
    rng : int or Generator
        Seed of the random query designs (reproducible for an int).
    queries : {"real", "boolean"}
        Real queries (default; scale-controlled, see the module docstring) or :math:`\pm1` inputs.
    scale : float, optional
        Token scale of real queries (entries :math:`N(0,s^2)`); default: chosen by pilot queries.
    n_verify : int
        Fresh verification queries behind the certificate.
    delta : float
        Confidence parameter of the certificate.
    restarts : int
        Random starts of the local search (m > 1 only).
    strict : bool
        Raise :class:`~provable_mha.LearnError` when the result is not certified (the result is in
        ``err.diagnosis["result"]``).

    Returns
    -------
    LearnResult
        ``method="queries"``, ``n_queries`` = every query asked, ``n_train`` = design queries,
        ``n_holdout`` = verification queries. For m = 1 the parameters are exact under
        realizability (``docs/queries.md``); for m > 1 see the module docstring, step 3.
    """
    from .learner.result import LearnResult, timed_phase

    m, d, k, n_verify, restarts = _validate(m, d, k, queries, scale, n_verify, delta, restarts)
    seed = int(rng) if isinstance(rng, (int, np.integer)) else None
    gen = as_generator(rng)
    orc, phases, checks = QueryOracle(oracle, k, d), [], {}
    with timed_phase(phases, "sum_w", solver="numpy", sizes={"queries": d}) as rec:
        S, checks["equal_rows"] = sum_w_from_queries(orc, queries)
    s, accepted = (1.0 if scale is None else float(scale)), True
    if k == 1:
        layer = MultiHeadAttention(np.zeros((m, d, d)), np.repeat(S[None] / m, m, axis=0))
        stmt = "parameters: with k = 1 only sum_i W_i is identified (exact, d queries); Θ returned as 0"
    elif m == 1:
        layer, s, stmt = _fit_single(orc, S, queries, scale, gen, phases, checks)
    else:
        layer, s, accepted = _fit_multi(orc, m, S, queries, scale, restarts, gen, phases)
        gap = float(np.linalg.norm(layer.ws.sum(axis=0) - S) / max(np.linalg.norm(S), 1e-300))
        checks["sum_w_consistent"] = {"ok": gap <= REALIZABLE_REL, "value": gap, "tol": REALIZABLE_REL}
        stmt = ("parameters: found by local search (not guaranteed); if the oracle is an m-head layer equal to this "
                "one on all inputs, Theorem 1 of docs/identifiability.md says which heads are determined")
    n_design = orc.n_queries
    with timed_phase(phases, "certify") as rec:
        cert, ident, Xd, Yd = _verify(orc, layer, s, queries, n_verify, delta, checks, stmt, gen)
        rec.status = "certified" if cert.certified else ("vacuous" if cert.vacuous else "not certified")
        rec.info = {"identifiability": ident.summary()}
    train_rel = float(np.linalg.norm(layer(Xd) - Yd) / max(np.linalg.norm(Yd), 1e-300))
    result = LearnResult(layer=layer, certificate=cert, phases=phases, method="queries", m=m, d=d, k=k,
                         n_train=n_design, n_holdout=n_verify, seed=seed, train_relative_error=train_rel,
                         n_queries=orc.n_queries)
    if strict and not (accepted and cert.certified):
        raise LearnError(f"learn_from_queries: the learned layer is not certified ({cert.statement})",
                         {"result": result, "train_relative_error": train_rel})
    return result
