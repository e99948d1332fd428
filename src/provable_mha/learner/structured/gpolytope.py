r"""The g-polytope of the ``sculpt`` route (:math:`mk\le d`): the heads as vertices of a polytope.

With a basis :math:`V_1..V_m` of :math:`\mathrm{span}\{W_i\}` and :math:`W_i=\sum_j C_{ji}V_j`,
row :math:`a` of an example is :math:`y_a=\sum_b x_b^\top M_{ab}` with
:math:`M_{ab}=\sum_i\alpha_{iab}W_i=\sum_j\beta_{jab}V_j`, so :math:`\beta_{ab}=C\alpha_{ab}`
for one :math:`m\times m` matrix :math:`C`. Each row :math:`g_i` of :math:`G=C^{-1}` obeys
:math:`g_i^\top\beta_{ab}=\alpha_{iab}\in[0,1]` and :math:`g_i^\top s=1`,
:math:`s=\sum_b\beta_{ab}=C\mathbf 1`. Hence every :math:`g_i` lies in

.. math::

    P=\{g:\ -\epsilon_{ab}\le g^\top\hat\beta_{ab}\le 1+\epsilon_{ab},\ g^\top\hat s=1,\
    \|g\|_\infty\le R_g\},\qquad \epsilon_{ab}=R_g\,\|\hat\beta_{ab}-\beta_{ab}\|_2^{\rm bound}.

**The bound** :math:`R_g`. Take the basis orthonormal in the Frobenius inner product; then
:math:`C` holds the coordinates of :math:`\mathrm{vec}W_i`, :math:`\|g_i\|_2\le\|C^{-1}\|_2
=1/\sigma_{\min}([\mathrm{vec}W_i])`, and the required condition ``w_independence``
(:math:`\sigma_{\min}\ge\tau\max_i\|W_i\|_F`, :math:`\tau=0.1`) with
:math:`\max_i\|W_i\|_F\ge\|\sum_iW_i\|_F/m=\|s\|_2/m` gives
:math:`\|g_i\|_2\le R_g=m/(\tau\|s\|_2)`. The slack :math:`\epsilon_{ab}` then follows from
Cauchy–Schwarz and the per-row least-squares bound of :func:`.sculpt.row_coefficients`;
degenerate examples are dropped there. :math:`\hat s` is the mean of :math:`\sum_b\hat\beta_{ab}`
over valid rows; containment in the hyperplane holds up to :math:`R_g\|\hat s-s\|`
(round-off when noiseless), reported as ``s_tolerance``.

**Vertices.** :math:`P\supseteq\mathrm{conv}\{g_i\}` always; it approaches that simplex when
some weights of every head come close to 0 ("sufficiently scattered" rows, as in NMF). The
vertices are computed exactly on the hyperplane, :math:`g=g_0+Nz`, :math:`z\in\mathbb{R}^{m-1}`:
an interval for :math:`m=2`, :class:`scipy.spatial.HalfspaceIntersection` from the Chebyshev
centre (one LP) for :math:`m\ge3`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
from scipy.linalg import null_space
from scipy.spatial import HalfspaceIntersection

from ...errors import LearnError
from ...solvers import solve
from ..policy import COND_MAX, NOISE_Z, W_INDEPENDENCE
from .sculpt import RowCoefficients, row_coefficients

__all__ = ["GPolytope", "g_polytope", "polytope_vertices", "PolytopeVertices"]


@dataclass
class GPolytope:
    r"""The polytope :math:`P` on the hyperplane :math:`g^\top\hat s=1` (module docstring).

    Attributes
    ----------
    betas : ndarray, shape (r, m)
        Rows :math:`\hat\beta_{ab}` of valid examples.
    slack : ndarray, shape (r,)
    s : ndarray, shape (m,)
    radius : float
        :math:`R_g`.
    s_tolerance : float
        :math:`R_g\|\hat s - s\|` bound: how far from the hyperplane a true :math:`g_i` may be.
    coefficients : RowCoefficients
    """

    betas: np.ndarray
    slack: np.ndarray
    s: np.ndarray
    radius: float
    s_tolerance: float
    coefficients: RowCoefficients

    @property
    def m(self) -> int:
        return int(self.s.shape[0])

    def halfspaces(self) -> tuple[np.ndarray, np.ndarray]:
        """``(A, b)`` with :math:`P=\\{g: Ag\\le b,\\ g^\\top s=1\\}`."""
        m = self.m
        eye = np.eye(m)
        A = np.vstack([-self.betas, self.betas, eye, -eye])
        b = np.concatenate([self.slack, 1.0 + self.slack, np.full(2 * m, self.radius)])
        return A, b

    def violation(self, g) -> float:
        """Largest violation of the inequalities at ``g`` (hyperplane residual not included)."""
        A, b = self.halfspaces()
        return float(max(0.0, np.max(A @ np.asarray(g, float) - b)))


def g_polytope(X, Y, basis, *, noise: float = 0.0, z: float = NOISE_Z, cond_max: float = COND_MAX,
               w_independence: float | None = None) -> GPolytope:
    r"""Build :math:`P` from data and an orthonormal basis ``(m, d, d)`` of :math:`\mathrm{span}\{W_i\}`.

    Raises
    ------
    ValueError
        On bad shapes or a non-orthonormal basis.
    LearnError
        If every example is degenerate.
    """
    V = np.asarray(basis, dtype=float)
    m = V.shape[0]
    gram = np.einsum("ipq,jpq->ij", V, V)
    if not np.allclose(gram, np.eye(m), atol=1e-8):
        raise ValueError("basis must be orthonormal in the Frobenius inner product (see span.orthonormalize)")
    rc = row_coefficients(X, Y, V, noise=noise, z=z, cond_max=cond_max)
    if not rc.valid.any():
        raise LearnError("g-polytope: every example has a degenerate row design",
                         {"phase": "g-polytope", "dropped": rc.n_dropped})
    ok = rc.valid
    beta = rc.coef[ok].transpose(0, 2, 3, 1).reshape(-1, m)  # rows (n, a, b), columns j
    err = np.linalg.norm(rc.bound[ok], axis=1).reshape(-1)  # ||delta beta_ab||_2 bound
    srow = rc.coef[ok].sum(axis=-1).transpose(0, 2, 1).reshape(-1, m)  # (n*k, m)
    s = srow.mean(axis=0)
    serr = np.sqrt((np.linalg.norm(rc.bound[ok], axis=(1, 3)) ** 2).mean()) / np.sqrt(len(srow))
    tau = W_INDEPENDENCE if w_independence is None else float(w_independence)
    Rg = m / (tau * float(np.linalg.norm(s)))
    return GPolytope(beta, Rg * err, s, Rg, Rg * float(serr), rc)


@dataclass
class PolytopeVertices:
    """Vertices of :math:`P`: ``points (p, m)``; ``clean`` iff ``p == m`` (P is a simplex)."""

    points: np.ndarray
    clean: bool
    interior: np.ndarray
    basis: np.ndarray  # N (m, m-1): g = g0 + N z
    origin: np.ndarray  # g0


def _reduced(P: GPolytope):
    s = P.s
    g0 = s / float(s @ s)
    N = null_space(s[None, :])  # (m, m-1)
    A, b = P.halfspaces()
    return g0, N, A @ N, b - A @ g0


def polytope_vertices(P: GPolytope, *, merge_tol: float = 1e-9, solver: str | None = None) -> PolytopeVertices:
    """Enumerate the vertices of ``P`` (module docstring); near-duplicates are merged.

    Raises
    ------
    LearnError
        If ``P`` is empty (no g satisfies the constraints: data not realizable by m heads).
    """
    m = P.m
    g0, N, An, bn = _reduced(P)
    if m == 1:
        return PolytopeVertices(g0[None, :], True, g0, N, g0)
    if m == 2:
        a = An[:, 0]
        pos, neg = a > 1e-15, a < -1e-15
        hi = np.min(bn[pos] / a[pos]) if pos.any() else np.inf
        lo = np.max(bn[neg] / a[neg]) if neg.any() else -np.inf
        if np.any(bn[~(pos | neg)] < 0) or lo > hi + 1e-12:
            raise LearnError("g-polytope is empty: the data are not realizable by m heads with "
                             "this span basis", {"phase": "g-polytope", "lo": float(lo), "hi": float(hi)})
        pts = np.array([g0 + N[:, 0] * lo, g0 + N[:, 0] * hi])
        return PolytopeVertices(pts, bool(hi - lo > merge_tol), g0 + N[:, 0] * 0.5 * (lo + hi), N, g0)
    zc = cp.Variable(m - 1)
    rho = cp.Variable()
    nrm = np.linalg.norm(An, axis=1)
    prob = cp.Problem(cp.Maximize(rho), [An @ zc + cp.multiply(nrm, rho) <= bn, rho <= 1.0])
    solve(prob, "lp", solver, allow_infeasible=True)
    if prob.status != cp.OPTIMAL or rho.value is None or rho.value <= 0:
        raise LearnError("g-polytope is empty or flat: the data are not realizable by m heads "
                         "with this span basis", {"phase": "g-polytope", "status": prob.status})
    hs = HalfspaceIntersection(np.hstack([An, -bn[:, None]]), np.asarray(zc.value))
    Z = hs.intersections
    keep: list[np.ndarray] = []
    for zpt in Z:
        if all(np.linalg.norm(zpt - q) > merge_tol * (1 + np.linalg.norm(q)) for q in keep):
            keep.append(zpt)
    pts = np.array([g0 + N @ zpt for zpt in keep])
    return PolytopeVertices(pts, len(pts) == m, g0 + N @ np.asarray(zc.value), N, g0)
