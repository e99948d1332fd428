r"""Phases iii–iv: :math:`\mathrm{span}\{W_i\}` from data and :math:`\mathrm{span}\{\Theta_i\}` from bodies.

**span{W}.** Row :math:`a` of an example is :math:`y_a=\sum_b x_b^\top M_{ab}` with every
:math:`M_{ab}=\sum_j\beta_{jab}U_j` in the m-dimensional span and :math:`\sum_b\beta_{ab}=s` the
same for every row (attention rows sum to 1; without this, square row designs fit any span).
Writing :math:`\beta_{ja\cdot}=s_j/k+H z_{aj}` (``H`` an orthonormal basis of the zero-sum
vectors, contrast tokens :math:`\tilde x_t=\sum_bH_{bt}x_b`), the model
:math:`\hat y_a=\sum_js_jU_j^\top\bar x+A_nz_a`, :math:`A_n=[U_j^\top\tilde x_t]`, is linear in
:math:`(z, s)` for a fixed orthonormal basis ``U``, so both are eliminated (variable projection):
the residual is :math:`r_a=P_n(y_a-O_ns)` with :math:`P_n=I-A_nA_n^+`, :math:`O_n=[U_j^\top\bar x]`
and ``s`` from an m×m system. ``U`` is fitted by Levenberg–Marquardt with Kaufman's Jacobian
(:func:`_vp_normal`; normal equations formed without ``J``), re-orthonormalised after every step
(the gauge :math:`U\to UR`). Starts come from a degree-3 moment (:func:`_moment_starts`): random
starts end in spurious minima far from the span. A basis is *certified* by its relative
residual :math:`\|Y-\hat Y\|_F/\|Y\|_F` (round-off when noiseless and the span is right).
(Release 1's alternating least squares on :math:`(\beta, V)` certified none of the measured
instances and was removed.) The nuclear-norm convex route has :math:`nk^2d^2` variables and is
not used.

**span{Θ}.** The top-m left singular space of the stacked body centres (least-squares /
minimum-norm points of the Θ-bodies); :func:`min_norm_point` gives the minimum-Frobenius-norm
point of a body (an SOCP). Principal angles to a reference span come from
:func:`scipy.linalg.subspace_angles`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
from scipy.linalg import subspace_angles

from ..._einsum import einsum
from ..._validation import as_generator, check_array, check_positive_int
from ..lsq import DenseNormal, levenberg_marquardt
from ..moments import crude_sum_w
from .constraints import box_block, interval_block
from .sculpt import ThetaBody, _check_xy, _degenerate_tokens

__all__ = ["orthonormalize", "SpanFit", "w_span", "principal_angles", "theta_span",
           "min_norm_point"]


def orthonormalize(mats) -> np.ndarray:
    """A Frobenius-orthonormal basis ``(m, d, d)`` of the span of ``mats (m, d, d)`` (QR)."""
    M = check_array(mats, "mats", ndim=3)
    m, d, _ = M.shape
    Q, _ = np.linalg.qr(M.reshape(m, -1).T)
    return Q.T.reshape(m, d, d)


def principal_angles(a, b) -> np.ndarray:
    """Principal angles (radians, descending) between the spans of ``a (p, d, d)`` and ``b (q, d, d)``."""
    A = check_array(a, "a", ndim=3)
    B = check_array(b, "b", ndim=3)
    return subspace_angles(A.reshape(A.shape[0], -1).T, B.reshape(B.shape[0], -1).T)


def _contrasts(k: int) -> np.ndarray:
    """Orthonormal basis ``(k, k-1)`` of the token-weight vectors that sum to 0."""
    return np.linalg.svd(np.ones((1, k)))[2][1:].T


def _vp_state(X, Y, U, Hc):
    r"""Variable-projection state of the span ``U (m, d, d)`` (β and the sum vector s eliminated).

    Returns the residual ``R (n, k, d)``, the β-weighted tokens ``Phi (n, k, m, d)`` (the model
    is :math:`\hat y_a=\sum_j V_j^\top\Phi_{aj}`), the per-example projectors ``P (n, d, d)``,
    ``PO (n, d, m)`` (:math:`P_nO_n`), the Gram matrix of the s-columns and ``s``.
    """
    n, k, d = X.shape
    m = U.shape[0]
    Xt = np.einsum("bt,nbp->ntp", Hc, X)  # contrast tokens (n, k-1, d)
    xbar = X.mean(1)
    A = einsum("ntp,jpe->nejt", Xt, U).reshape(n, d, m * (k - 1))
    Ua, S, Wt = np.linalg.svd(A, full_matrices=False)
    keep = S > S[:, :1] * 1e-12
    Uk = Ua * keep[:, None, :]
    O = einsum("np,jpe->nej", xbar, U)  # offset columns U_j^T xbar
    PO = O - einsum("nei,nfi,nfc->nec", Uk, Uk, O)
    gram = k * np.einsum("nec,nef->cf", PO, PO)
    s = np.linalg.lstsq(gram, np.einsum("nec,ne->c", PO, Y.sum(1)), rcond=None)[0]
    Z0 = Y - (O @ s)[:, None, :]
    R = Z0 - einsum("nei,nfi,naf->nae", Uk, Uk, Z0)
    Sinv = np.where(keep, 1.0 / np.where(keep, S, 1.0), 0.0)
    z = einsum("nij,ni,nei,nae->naj", Wt, Sinv, Ua, Z0).reshape(n, k, m, k - 1)
    Phi = einsum("najt,ntp->najp", z, Xt) + s[None, None, :, None] * xbar[:, None, None, :]
    P = np.eye(d)[None] - np.einsum("nei,nfi->nef", Uk, Uk)
    return R, Phi, P, PO, gram, s


def _vp_normal(X, Y, U, Hc):
    r"""Kaufman normal equations :math:`(J^\top J, J^\top r)` of the span residual, and ``R``.

    :math:`J=-(I-QQ^\top)\,\mathrm{blkdiag}(P_n)\,\partial_V\hat y`; row :math:`(n,a,e)`,
    column :math:`(j,p,f)` of the middle factor is :math:`-P_n[e,f]\Phi_{najp}`, so
    :math:`J^\top J=\sum_n(\Phi_n^\top\Phi_n)\otimes P_n-K^\top K` with :math:`K=Q^\top J` the
    m rows of the s-columns (``Q`` their orthonormalisation), and :math:`J^\top r=-\Phi^\top R`.
    """
    n, k, d = X.shape
    m = U.shape[0]
    R, Phi, P, PO, gram, _ = _vp_state(X, Y, U, Hc)
    Pf = Phi.reshape(n, k, m * d)
    G = einsum("nai,naj->nij", Pf, Pf)
    H = einsum("nij,nef->iejf", G, P).reshape(m * d * d, m * d * d)
    K = einsum("nfc,ni->cif", PO, Pf.sum(1)).reshape(m, -1)
    H -= K.T @ np.linalg.pinv(gram, hermitian=True) @ K
    g = -einsum("nai,nae->ie", Pf, R).ravel()
    return H, g, R


def _vp_lm(X, Y, U0, *, max_iter: int, tol: float, window: int = 25):
    r"""Levenberg–Marquardt on the Grassmannian, on the shared core (:mod:`..lsq`).

    ``U`` is re-orthonormalised after every step (the core's ``retract``). A start stops when the
    residual fell by less than a factor 2 (the cost by 4) over ``window`` iterations: a spurious
    minimum, since near a zero-residual solution Gauss–Newton converges quadratically. The
    :math:`m^2` gauge directions :math:`\delta V_j = U_l` (``J`` vanishes on them) get the mean
    curvature added, so the damped system is nonsingular and steps stay orthogonal to them.
    Returns ``(U, relative residual, iterations)``.
    """
    n, k, d = X.shape
    m = U0.shape[0]
    Hc = _contrasts(k)
    yn = float(np.linalg.norm(Y))

    def residual(u):
        return _vp_state(X, Y, u.reshape(m, d, d), Hc)[0].ravel()

    def linearize(u, r):
        U = u.reshape(m, d, d)
        H, g, _ = _vp_normal(X, Y, U, Hc)
        gauge = np.zeros((m, m, m, d * d))
        for j in range(m):
            gauge[j, :, j] = U.reshape(m, -1)
        gauge = gauge.reshape(m * m, -1).T  # orthonormal columns (U is)
        return DenseNormal(H + np.trace(H) / H.shape[0] * (gauge @ gauge.T), g)

    res = levenberg_marquardt(residual, linearize, orthonormalize(U0).ravel(),
                              retract=lambda u, step: orthonormalize((u + step).reshape(m, d, d)).ravel(),
                              max_iter=max_iter, ftol=0.5 * (tol * yn) ** 2, stall_window=window, stall_ratio=4.0)
    return res.x.reshape(m, d, d), float(np.linalg.norm(res.r)) / yn, res.iterations


def _moment_starts(X, Y, m: int, count: int, candidates: int, gen):
    r"""Starts ``[S_0, random combinations of the top-2m right singular vectors of T]``.

    ``S_0`` is the uniform-attention estimate of :math:`\sum_iW_i`. To first order in Θ, the
    centred degree-3 moment :math:`T_{(p,q),(r,e)}=\mathrm{mean}_{n,a}\sum_b x_{ap}\tilde x_{bq}
    \tilde x_{br}E_{ae}` (:math:`\tilde x_b=x_b-\bar x`, :math:`E` the residual of ``S_0``,
    :math:`q\ne r`) is :math:`\propto\sum_i\Theta_i\otimes W_i` up to symmetrisation in
    :math:`(q,r)`, so its row space leans towards :math:`\mathrm{span}\{W_i\}`. Of
    ``candidates`` random starts the ``count`` with the smallest residual are returned.
    """
    n, k, d = X.shape
    xbar = X.mean(1)
    S0 = crude_sum_w(X, Y).sum_w  # phase (i): the uniform-attention estimate
    if m == 1:
        return [S0[None]]
    E = Y - (xbar @ S0)[:, None, :]
    Xc = X - xbar[:, None, :]
    T = einsum("nap,nbq,nbr,nae->pqre", X, Xc, Xc, E)
    T[:, np.arange(d), np.arange(d)] = 0.0
    top = np.linalg.svd(T.reshape(d * d, d * d))[2][: min(2 * m, d * d)].reshape(-1, d, d)
    Hc = _contrasts(k)
    cands = []
    for _ in range(max(candidates, count)):
        U = np.concatenate([S0[None], np.einsum("rj,jpe->rpe", gen.standard_normal((m - 1, len(top))), top)])
        cands.append((float(np.linalg.norm(_vp_state(X, Y, orthonormalize(U), Hc)[0])), U))
    cands.sort(key=lambda c: c[0])
    return [c[1] for c in cands[:count]]


@dataclass
class SpanFit:
    r"""A basis of :math:`\mathrm{span}\{W_i\}` fitted from data.

    Attributes
    ----------
    basis : ndarray, shape (m, d, d)
        Frobenius-orthonormal.
    residual : float
        Relative residual :math:`\|Y-\hat Y\|_F/\|Y\|_F` of the best start (the certificate).
    iterations : int
    restarts : list of dict
        ``{"residual", "iterations"}`` per start.
    sum_w : ndarray (d, d) or None
        The fitted :math:`\sum_iW_i` (the common row sum of the coefficients).
    dropped : int
        Examples with equal or opposite tokens, not used.
    """

    basis: np.ndarray
    residual: float
    iterations: int
    restarts: list = field(default_factory=list)
    sum_w: np.ndarray | None = None
    dropped: int = 0


def w_span(X, Y, m: int, *, restarts: int = 6, max_iter: int = 200, tol: float = 1e-13, rng=None,
           init=None) -> SpanFit:
    r"""Fit an m-dimensional :math:`\mathrm{span}\{W_i\}` (module docstring).

    Parameters
    ----------
    X, Y : array_like, shape (n, k, d)
    m : int
        Number of heads; :math:`mk\le d` is required.
    restarts : int
        Starts (the first uses ``init`` when given): the best of ``10 * restarts`` moment starts by
        residual; stops early once a start reaches ``tol``.
    max_iter : int
        Levenberg–Marquardt iterations per start.
    tol : float
        Target relative residual.
    init : array_like (m, d, d), optional
        A starting basis (e.g. from a crude moment estimate).
    """
    Xb, Yb = _check_xy(X, Y)
    n, k, d = Xb.shape
    m = check_positive_int(m, "m")
    restarts = check_positive_int(restarts, "restarts")
    max_iter = check_positive_int(max_iter, "max_iter")
    if m * k > d:
        raise ValueError(f"w_span needs m*k <= d (got m={m}, k={k}, d={d})")
    if n * k < m * d:
        raise ValueError(f"w_span needs n*k >= m*d examples rows (got n={n}, k={k}, m*d={m * d})")
    gen = as_generator(rng)
    keep = ~_degenerate_tokens(Xb)
    if keep.sum() * k < m * d:
        raise ValueError(f"too few non-degenerate examples ({int(keep.sum())}) for m*d = {m * d}")
    Xb, Yb = Xb[keep], Yb[keep]
    starts = _moment_starts(Xb, Yb, m, restarts, 10 * restarts, gen)
    if init is not None:
        V = check_array(init, "init", ndim=3).copy()
        if V.shape != (m, d, d):
            raise ValueError(f"init must have shape {(m, d, d)}, got {V.shape}")
        starts = [V] + starts[: restarts - 1]
    best: SpanFit | None = None
    history = []
    for V in starts:
        U, res, it = _vp_lm(Xb, Yb, V, max_iter=max_iter, tol=tol)
        s = _vp_state(Xb, Yb, U, _contrasts(k))[5]
        sum_w = np.einsum("j,jpe->pe", s, U)
        history.append({"residual": res, "iterations": it})
        if best is None or res < best.residual:
            best = SpanFit(orthonormalize(U), res, it, sum_w=sum_w)
        if best.residual <= tol:
            break
    assert best is not None
    best.restarts = history
    best.dropped = int((~keep).sum())
    return best


def theta_span(thetas, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``m`` singular span of stacked Θ estimates ``(p, d, d)``: (orthonormal basis (m, d, d), singular values)."""
    T = check_array(thetas, "thetas", ndim=3)
    m = check_positive_int(m, "m")
    p, d, _ = T.shape
    if m > p:
        raise ValueError(f"need at least m={m} estimates, got {p}")
    U, S, _ = np.linalg.svd(T.reshape(p, -1).T, full_matrices=False)
    return U[:, :m].T.reshape(m, d, d), S


def min_norm_point(body: ThetaBody, *, solver: str | None = None) -> np.ndarray:
    r"""The minimum-Frobenius-norm point :math:`\arg\min\{\|\Theta\|_F:\Theta\in K\}` of a Θ-body (SOCP).

    It removes components the examples do not determine (the minimum-norm refinement of
    phase iii). Raises :class:`~provable_mha.LearnError` if the body is empty.
    """
    from ...solvers import solve

    d = body.d
    th = cp.Variable(d * d)
    cons = box_block(th, body.radius)
    if body.rows.n_rows:
        cons += interval_block(body.rows.F, th, body.rows.lo, body.rows.hi)
    solve(cp.Problem(cp.Minimize(cp.norm(th, 2)), cons), "socp", solver)
    return np.asarray(th.value).reshape(d, d)
