r"""The structured strategy's convex body around a fit, and the parameter radius it certifies.

Notation (``docs/structured.md`` §2 has the proofs). Parameters
:math:`\theta=(\mathrm{vec}\,\Theta_1..\Theta_m,\mathrm{vec}\,W_1..W_m)\in\mathbb{R}^P`,
:math:`P=2md^2`; the body's rows :math:`j=(n,a,e)` are the output entries of the examples it
holds, :math:`N` of them; :math:`f_j(\theta)=F_\theta(X_n)_{ae}`, :math:`r=y-f(\hat\theta)`,
:math:`J=\partial f/\partial\theta` at the fit :math:`\hat\theta`.

**Remainder bound** (Theorem 1 there). For :math:`\|\delta\|_2\le\rho`,
:math:`|f_j(\hat\theta+\delta)-f_j(\hat\theta)-J_j\delta|\le\tfrac{L(\rho)}{2}\|\delta\|^2` with

.. math::

    L(\rho)=\max_i\tfrac12\Big(c_1\omega_i+\sqrt{c_1^2\omega_i^2+c_2^2}\Big),\quad
    c_1=\tfrac{R^2D^3}{4},\ c_2=\tfrac{RD^2}{2},\ \omega_i=\max_e\|\hat W_i[:,e]\|_2+\rho,

:math:`R` the largest token norm and :math:`D` the largest distance between two tokens of one
example (:math:`R=\sqrt d`, :math:`D\le2\sqrt d` on Boolean inputs).

**The body.** Every :math:`\theta` with :math:`\|\theta-\hat\theta\|\le\rho` that fits the rows
(exactly, or within the noise quantile :math:`\tau=\sigma\chi_N(1-\delta)`) lies in

.. math::

    K(\rho)=\{\hat\theta+\delta:\ \|\delta\|\le\rho,\ |J_j\delta-r_j|\le\tfrac{L}{2}\rho^2+\varepsilon
    \ \forall j\}\quad(\text{exact}),\qquad
    \|J\delta-r\|_2\le\eta(\rho)=\sqrt N(\tfrac L2\rho^2+\varepsilon)+\tau\quad(\text{noise}),

a CVXPY model (:meth:`LinearizedBody.model`) whose width along any direction is one SOCP.

**Radius** (Theorem 2). With :math:`c=J^+r`, :math:`r_\perp=r-Jc`, :math:`\sigma_{\min}` the
smallest singular value of :math:`J`: every point of :math:`K(\rho)` satisfies
:math:`\|\delta-c\|\le s(\rho)/\sigma_{\min}`, :math:`s=\sqrt{\eta^2-\|r_\perp\|^2}`, so
:math:`\|\delta\|\le g(\rho)=\|c\|+s(\rho)/\sigma_{\min}`. If :math:`g(\rho_2)\le\rho_2`, every
consistent :math:`\theta` within :math:`\rho_2` of the fit is within :math:`\rho^*` (the smallest
fixed point), and block by block within :math:`\|c_b\|+s\,\|(J^+)_b\|_2` (one head's Θ or W).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np

from ...model import MultiHeadAttention, match_heads
from ...solvers import solve
from .. import policy
from ..design import joint_jacobian, joint_normal_equations
from .curvature import _U, curvature_bound, float_slack, residual_extended

__all__ = ["LinearizedBody", "Radius"]



@dataclass
class Radius:
    """The parameter statement of a body (module docstring, Theorem 2).

    ``radius`` bounds max over heads of max(||dΘ_i||_F, ||dW_i||_F) for every consistent layer within
    ``trust_region`` of the fit; ``None`` when no fixed point exists (the reason says why).
    """

    radius: float | None
    ball: float | None
    trust_region: float | None
    sigma_min: float
    centre_norm: float
    residual_perp: float
    curvature: float
    slack: float
    block_radii: list[float] = field(default_factory=list)
    reason: str = ""


class LinearizedBody:
    """The body of the module docstring around the layer ``(thetas, ws)`` on rows of ``(X, Y)``.

    Parameters
    ----------
    X, Y : ndarray (n, k, d)
        The examples whose output entries are the body's rows.
    thetas, ws : ndarray (m, d, d)
        The fit :math:`\\hat\\theta`.
    noise, delta : float
        Declared noise level and confidence (noise only).
    """

    def __init__(self, X, Y, thetas, ws, *, noise: float = 0.0, delta: float = 0.05) -> None:
        self.X, self.Y = X, Y
        self.thetas, self.ws = np.asarray(thetas, float), np.asarray(ws, float)
        self.noise, self.delta = float(noise), float(delta)
        n, k, d = X.shape
        self.m, self.d, self.N = self.thetas.shape[0], d, n * k * d
        self.P = 2 * self.m * d * d
        self.r = residual_extended(X, Y, self.thetas, self.ws)  # y - f(theta_hat), extended precision
        H, g = joint_normal_equations(self.thetas, self.ws, X, -self.r.reshape(n * k, d))
        self.H, self.Jt_r = H, -g
        lam, V = np.linalg.eigh(H)
        self.eig, self.V = lam, V
        margin = 4.0 * (self.N + self.P) * _U * max(float(lam[-1]), 0.0)  # rounding of H and of eigh
        self.lam_min = float(lam[0]) - margin
        self.eps0 = float_slack(X, self.thetas, self.ws, float(np.finfo(np.longdouble).eps))
        self.tau = self.noise * policy.chi2_norm_quantile(self.N, self.delta) if self.noise > 0 else 0.0

    # -- geometry -------------------------------------------------------------------------
    def eta(self, rho: float) -> float:
        r""":math:`\eta(\rho)`: the bound on :math:`\|J\delta-r\|_2` over the trust region."""
        L = curvature_bound(self.X, self.ws, rho)
        eps = self.eps0 + 64 * _U * math.sqrt(self.P * max(self.eig[-1], 0.0)) * rho
        return math.sqrt(self.N) * (0.5 * L * rho * rho + eps) + self.tau

    def _centre(self):
        lam = np.where(self.eig > 0, self.eig, np.inf)
        c = self.V @ ((self.V.T @ self.Jt_r) / lam)
        r_par2 = float(self.Jt_r @ c)  # ||J c||^2 = r^T J H^-1 J^T r
        rperp = math.sqrt(max(0.0, float(self.r @ self.r) - r_par2) * (1 - 1e-6))
        return c, rperp

    def radius(self) -> Radius:
        """Solve for the fixed points of the radius map (module docstring, Theorem 2)."""
        c, rperp = self._centre()
        cn = float(np.linalg.norm(c))
        L0 = curvature_bound(self.X, self.ws, 0.0)
        base = Radius(None, None, None, math.sqrt(max(self.lam_min, 0.0)), cn, rperp, L0, self.eps0)
        if self.lam_min <= 0:
            base.reason = ("the Jacobian is rank-deficient on these rows (some parameter directions are "
                           "not determined): the body is unbounded")
            return base
        smin = math.sqrt(self.lam_min)

        def gap(rho):
            s2 = self.eta(rho) ** 2 - rperp ** 2
            return cn + math.sqrt(max(s2, 0.0)) / smin - rho, s2

        scale = 1.0 + float(np.linalg.norm(np.concatenate([self.thetas.ravel(), self.ws.ravel()])))
        grid = scale * np.logspace(-16, 3, 400)
        vals = np.array([gap(r)[0] for r in grid])
        inside = np.flatnonzero(vals <= 0)
        if not inside.size:
            base.reason = (f"no trust region certifies: the residual ({float(np.linalg.norm(self.r)):.1e}) "
                           "or the noise is too large for the curvature bound")
            return base
        first = int(inside[0])
        fixed = _bisect(lambda r: gap(r)[0], grid[first - 1] if first else 0.0, grid[first])
        lo = fixed * _CHAIN  # just above the smallest fixed point: g(lo) < lo with room
        if gap(lo)[1] < 0:
            base.reason = (f"the body is empty: no layer within {lo:.3g} of the fit fits these examples "
                           f"(residual {float(np.linalg.norm(self.r)):.2e} orthogonal to the Jacobian's range)")
            return base
        hi = _trust_region(lambda r: gap(r)[0] + r, lo, grid[-1])
        s = math.sqrt(max(gap(lo)[1], 0.0))
        blocks = self.block_bounds(c, s)
        return Radius(min(lo, max(blocks)), lo, hi, smin, cn, rperp, curvature_bound(self.X, self.ws, lo),
                      self.eps0, blocks)

    def block_bounds(self, c: np.ndarray, s: float) -> list[float]:
        r"""Per block (each :math:`\Theta_i`, then each :math:`W_i`): :math:`\|c_b\|+s\|(J^+)_b\|_2`.

        :math:`\|(J^+)_b\|_2^2=\lambda_{\max}((H^{-1})_{bb})`, with the rounding margin of
        :math:`\lambda_{\min}` applied to every eigenvalue.
        """
        d2 = self.d * self.d
        inv = 1.0 / np.maximum(self.eig - (self.eig[0] - self.lam_min), self.lam_min)
        out = []
        for b in range(2 * self.m):
            Vb = self.V[b * d2:(b + 1) * d2]
            top = float(np.linalg.eigvalsh((Vb * inv) @ Vb.T)[-1])
            out.append(float(np.linalg.norm(c[b * d2:(b + 1) * d2])) + s * math.sqrt(max(top, 0.0)))
        return out

    # -- the CVXPY model ---------------------------------------------------------------------
    def jacobian(self) -> np.ndarray:
        """The explicit ``(N, P)`` Jacobian (for the CVXPY model; small problems only)."""
        return joint_jacobian(self.thetas, self.ws, self.X)

    def model(self, rho: float):
        """The body :math:`K(\\rho)` as a CVXPY problem ``max u^T z``, :math:`\\delta=\\rho z`, ``u`` a parameter.

        Scaled for the solver: the variable is :math:`z=\\delta/\\rho` (the unit ball) and each row is
        divided by its slack, so every constraint has unit right-hand side whatever the size of the
        residuals. Returns ``(problem, z, u)``; the problem is DPP, so re-solving for another
        direction reuses its compilation.
        """
        J = self.jacobian()
        z = cp.Variable(self.P)
        u = cp.Parameter(self.P)
        cons = [cp.norm(z, 2) <= 1.0]
        if self.noise > 0:
            eta = self.eta(rho)
            cons.append(cp.norm((rho / eta) * J @ z - self.r / eta, 2) <= 1.0)
        else:
            slack = (self.eta(rho) - self.tau) / math.sqrt(self.N)
            A = (rho / slack) * J
            b = self.r / slack
            cons += [A @ z - b <= 1.0, A @ z - b >= -1.0]
        return cp.Problem(cp.Maximize(u @ z), cons), z, u

    def widths(self, rho: float, directions: np.ndarray, solver: str | None = None):
        """Exact widths of :math:`K(\\rho)` along unit ``directions (r, P)``; returns ``(widths, infos)``."""
        prob, z, u = self.model(rho)
        out, infos = [], []
        for v in directions:
            vals = []
            for sign in (1.0, -1.0):
                u.value = sign * v
                infos.append(solve(prob, "socp", solver).as_dict())
                vals.append(rho * float(v @ z.value))
            out.append(vals[0] - vals[1])
        return np.array(out), infos

    def contains(self, thetas, ws) -> dict:
        """Does the layer ``(thetas, ws)`` (heads matched to the fit) satisfy the body's constraints?

        Returns ``{"distance", "violation", "inside_trust_region"}`` where ``violation`` is the
        largest excess of :math:`|J_j\\delta-r_j|` over its bound at :math:`\\rho=\\|\\delta\\|`
        (``<= 0``: inside; noise: of :math:`\\|J\\delta-r\\|_2` over :math:`\\eta`).
        """
        other = MultiHeadAttention(thetas, ws)
        perm = match_heads(MultiHeadAttention(self.thetas, self.ws), other).perm
        th, w = np.asarray(thetas)[perm], np.asarray(ws)[perm]
        dlt = np.concatenate([(th - self.thetas).ravel(), (w - self.ws).ravel()])
        rho = float(np.linalg.norm(dlt))
        lin = self.jacobian() @ dlt - self.r
        if self.noise > 0:
            viol = float(np.linalg.norm(lin)) - self.eta(rho)
        else:
            bound = (self.eta(rho) - self.tau) / math.sqrt(self.N)
            viol = float(np.abs(lin).max()) - bound
        return {"distance": rho, "violation": viol}


_CHAIN = 1.02  # ratio of the geometric chain that certifies the trust region


def _trust_region(g, lo: float, top: float) -> float:
    r"""The largest :math:`t_J=lo\,q^J\le` ``top`` with :math:`g(t_{j+1})\le t_j` for all :math:`j<J`.

    ``g`` (the radius map) is increasing, so for :math:`s\in(t_j,t_{j+1}]`,
    :math:`g(s)\le g(t_{j+1})\le t_j<s`: no consistent point lies at a distance in
    :math:`(lo, t_J]` (``docs/structured.md``, Corollary 3). Returns ``lo`` when the first link fails.
    """
    t = lo
    while t * _CHAIN <= top and g(t * _CHAIN) <= t:
        t *= _CHAIN
    return t


def _bisect(fun, a: float, b: float, upper: bool = True, iters: int = 80) -> float:
    """The root of ``fun`` in ``[a, b]`` (``fun(a) > 0 >= fun(b)``), returned on the safe side."""
    for _ in range(iters):
        mid = 0.5 * (a + b)
        if fun(mid) > 0:
            a = mid
        else:
            b = mid
    return b if upper else a


