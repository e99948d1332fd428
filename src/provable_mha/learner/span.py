r"""Phases iii–iv: :math:`\mathrm{span}\{W_i\}` from data and :math:`\mathrm{span}\{\Theta_i\}` from bodies.

**span{W}.** Row :math:`a` of an example is :math:`y_a=\sum_b x_b^\top M_{ab}` with every
:math:`M_{ab}=\sum_j\beta_{jab}V_j` in the m-dimensional span. Alternating least squares on
:math:`(\beta, V)`:

* β-step: for fixed :math:`V`, :math:`\beta_a=B_n^+y_a` per example (batched SVD; needs
  :math:`mk\le d`), i.e. β is eliminated exactly — the variable-projection function of V;
* V-step: for fixed β, :math:`Y=\Phi V` with :math:`\Phi_{(n,a),(j,p)}=\sum_b\beta_{jab}x_{bp}`
  is the W-step design with attention replaced by β (:func:`.design.solve_w`).

Each step cannot increase :math:`\|Y-\hat Y\|_F`; the gauge :math:`V\to VR`,
:math:`\beta\to R^{-1}\beta` is fixed by orthonormalising :math:`V` (Frobenius) after every
V-step. Multi-start; a basis is *certified* by its relative residual
:math:`\|Y-\hat Y\|_F/\|Y\|_F` (round-off when noiseless and the span is right, since then
:math:`\beta=C\alpha` fits exactly). The nuclear-norm convex route has :math:`nk^2d^2`
variables and is only practical for tiny instances, so it is not used.

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

from .._validation import as_generator, check_array, check_positive_int
from .constraints import box_block, interval_block
from .design import solve_w
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


def _beta_step(X, Y, V, s=None):
    r"""β for fixed V: per-row least squares, optionally with :math:`\sum_b\beta_{ab}=s`.

    With :math:`H=(B^\top B)^{-1}` and :math:`E` summing over tokens, the constrained solution is
    :math:`\beta=\beta_{ls}-HE^\top(EHE^\top)^{-1}(E\beta_{ls}-s)` (KKT), batched over examples.
    """
    n, k, d = X.shape
    m = V.shape[0]
    B = np.einsum("nbp,jpe->nejb", X, V, optimize=True).reshape(n, d, m * k)
    U, S, Vt = np.linalg.svd(B, full_matrices=False)
    tol = S[:, :1] * 1e-12
    Sinv = np.where(S > tol, 1.0 / np.where(S > 0, S, 1.0), 0.0)
    C = np.einsum("nij,ni,nei,nae->nja", Vt, Sinv, U, Y, optimize=True)  # (n, mk, k)
    if s is not None:
        H = np.einsum("nij,ni,nil->njl", Vt, Sinv**2, Vt, optimize=True)  # (n, mk, mk)
        HE = H.reshape(n, m * k, m, k).sum(-1)  # H E^T: (n, mk, m)
        K = HE.reshape(n, m, k, m).sum(2)  # E H E^T: (n, m, m)
        viol = C.reshape(n, m, k, k).sum(2) - s[None, :, None]  # (n, m, a)
        C = C - HE @ np.linalg.solve(K, viol)
    fit = np.einsum("nej,nja->nae", B, C, optimize=True)
    beta = C.reshape(n, m, k, k).transpose(0, 1, 3, 2)  # [n, j, a, b]
    return beta, fit


def _gauge(V):
    """Keep V_0 (= sum_i W_i in the gauge s = e_0); make V_1.. orthonormal and orthogonal to V_0."""
    m, d, _ = V.shape
    if m == 1:
        return V
    M = V.reshape(m, -1).T
    q0 = M[:, :1] / np.linalg.norm(M[:, 0])
    rest = M[:, 1:] - q0 @ (q0.T @ M[:, 1:])
    Q, _ = np.linalg.qr(rest)
    return np.concatenate([M[:, :1], Q], axis=1).T.reshape(m, d, d)


@dataclass
class SpanFit:
    r"""A basis of :math:`\mathrm{span}\{W_i\}` fitted by alternating least squares.

    Attributes
    ----------
    basis : ndarray, shape (m, d, d)
        Frobenius-orthonormal.
    residual : float
        Relative residual :math:`\|Y-\hat Y\|_F/\|Y\|_F` of the best start (the certificate).
    iterations : int
    restarts : list of dict
        ``{"residual", "iterations"}`` per start.
    """

    basis: np.ndarray
    residual: float
    iterations: int
    restarts: list = field(default_factory=list)
    sum_w: np.ndarray | None = None
    dropped: int = 0


def w_span(X, Y, m: int, *, restarts: int = 4, max_iter: int = 400, tol: float = 1e-13, stall: float = 1e-6,
           rng=None, init=None) -> SpanFit:
    r"""Fit an m-dimensional :math:`\mathrm{span}\{W_i\}` by ALS / variable projection (module docstring).

    Parameters
    ----------
    X, Y : array_like, shape (n, k, d)
    m : int
        Number of heads; :math:`mk\le d` is required.
    restarts : int
        Random starts (the first uses ``init`` when given). Stops early once a start reaches
        ``tol``.
    max_iter : int
        ALS sweeps per start.
    tol : float
        Target relative residual.
    init : array_like (m, d, d), optional
        A starting basis (e.g. from a crude moment estimate).
    """
    Xb, Yb = _check_xy(X, Y)
    n, k, d = Xb.shape
    m = check_positive_int(m, "m")
    restarts = check_positive_int(restarts, "restarts")
    if m * k > d:
        raise ValueError(f"w_span needs m*k <= d (got m={m}, k={k}, d={d})")
    if n * k < m * d:
        raise ValueError(f"w_span needs n*k >= m*d examples rows (got n={n}, k={k}, m*d={m * d})")
    gen = as_generator(rng)
    keep = ~_degenerate_tokens(Xb)
    if keep.sum() * k < m * d:
        raise ValueError(f"too few non-degenerate examples ({int(keep.sum())}) for m*d = {m * d}")
    Xb, Yb = Xb[keep], Yb[keep]
    n = Xb.shape[0]
    ynorm = float(np.linalg.norm(Yb))
    Yf = Yb.reshape(n * k, d)
    e0 = np.eye(m)[0]
    # crude sum_i W_i (uniform attention): y_a ~ mean_b x_b^T S
    S0 = np.linalg.lstsq(np.repeat(Xb.mean(1), k, axis=0), Yf, rcond=None)[0]
    best: SpanFit | None = None
    history = []
    for r in range(restarts):
        if r == 0 and init is not None:
            V = check_array(init, "init", ndim=3).copy()
            if V.shape != (m, d, d):
                raise ValueError(f"init must have shape {(m, d, d)}, got {V.shape}")
        else:
            V = np.concatenate([S0[None], gen.standard_normal((m - 1, d, d)) / np.sqrt(d)])
        V = _gauge(V)
        res_prev, res, it, omega = np.inf, np.inf, 0, 1.0
        for it in range(1, max_iter + 1):  # noqa: B007 (it is reported)
            beta, fit = _beta_step(Xb, Yb, V, e0)
            res = float(np.linalg.norm(fit - Yb)) / ynorm
            if res <= tol or res > res_prev * (1 - stall):
                break
            res_prev = res
            AX = np.einsum("njab,nbp->najp", beta, Xb, optimize=True).reshape(n * k, m * d)
            Vn = _gauge(solve_w(AX, Yf).reshape(m, d, d))
            # line-search extrapolation (Bro's accelerated ALS): try V + omega (Vn - V)
            Vt = _gauge(Vn + omega * (Vn - V))
            rt = float(np.linalg.norm(_beta_step(Xb, Yb, Vt, e0)[1] - Yb)) / ynorm
            rn = float(np.linalg.norm(_beta_step(Xb, Yb, Vn, e0)[1] - Yb)) / ynorm
            if rt < rn:
                V, omega = Vt, min(omega * 1.5, 64.0)
            else:
                V, omega = Vn, 1.0
        history.append({"residual": res, "iterations": it})
        if best is None or res < best.residual:
            best = SpanFit(orthonormalize(V), res, it, sum_w=V[0].copy())
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
    from .solvers import solve

    d = body.d
    th = cp.Variable(d * d)
    cons = box_block(th, body.radius)
    if body.rows.n_rows:
        cons += interval_block(body.rows.F, th, body.rows.lo, body.rows.hi)
    solve(cp.Problem(cp.Minimize(cp.norm(th, 2)), cons), "socp", solver)
    return np.asarray(th.value).reshape(d, d)
