r"""The attention gadget behind the lower-bound families (this project's reconstruction).

Not taken from Chen & Li (arXiv 2402.04084), whose constructions this project has not seen; the
derivation is in ``docs/hardness.md`` §1. Two tokens (``k = 2``) and a non-negative integer
weight vector :math:`w` supported on the coordinates :math:`1..d-1` (0-based). Head :math:`i` has
:math:`\Theta_i = (a_i/2)\,\mathrm{diag}(w)` and :math:`W_i = c_i e_0 e_0^\top`. For Boolean
tokens :math:`x_a^\top\Theta_i x_a = (a_i/2)\sum_b w_b`
while :math:`x_a^\top\Theta_i x_{a'} = (a_i/2)\sum_b w_b z_b` with :math:`z = x_0\odot x_1`, so the
logit gap is :math:`-a_i T` with the *weighted count*

.. math::

    T = \sum_b w_b\,[z_b = -1] \in \{0, \dots, R\}, \qquad R = \textstyle\sum_b w_b ,

and row :math:`a` of head :math:`i` puts weight :math:`\sigma(a_i T)` on itself (:math:`\sigma` the
logistic function). Output coordinate 0 of row :math:`a` (other token :math:`a'`) is therefore

.. math::

    F_{a0}(X) = x_{a'0}\sum_i c_i + (x_{a0} - x_{a'0}) \sum_i c_i\,\sigma(a_i T).

Choosing temperatures :math:`0 = a_0 < a_1 < \dots < a_R` and solving the square system
:math:`\sum_i c_i\sigma(a_i T) = g(T)`, :math:`T = 0..R`, realizes **any** :math:`g` with
:math:`R+1` heads; the row :math:`T = 0` forces :math:`\sum_i c_i = 2 g(0)`. Parity of
:math:`|S|-` many bits is :math:`w = 1_S`, :math:`g(T) = (-1)^T`, :math:`R = m - 1`.

**Statement** (exact arithmetic): if :math:`c` solves the square system, the layer of
:func:`~provable_mha.hardness.parity.weighted_count_instance` equals
:math:`g(0)A(X) + B(X)g(T)` on every :math:`X\in\{\pm1\}^{2\times d}` with :math:`T \le R`.
In float64 it is checked by the solve's residual (rejected above ``RESIDUAL_TOL``) and by
comparing layer and closed form on all :math:`2^{2d}` inputs in ``tests/hardness``
(``test_hardness_parity.py``: parity, m = 2..5, d = m..7; ``test_hardness_gf2_lwr.py``: LWR).

The system matrix :math:`M_{Ti} = \sigma(a_i T)` is non-singular for :math:`R \le 2` and
:math:`0 = a_0 < a_1 < a_2` (its determinant is a multiple of
:math:`\tanh(a_1/2)\tanh(a_2) - \tanh(a_2/2)\tanh(a_1)`, and :math:`\tanh(2x)/\tanh(x) =
2/(1+\tanh^2 x)` is strictly decreasing on :math:`x > 0`); for larger :math:`R` this is
*not proved here*, only observed (the solver raises when the system is numerically singular).
Its condition grows quickly with :math:`R`. The temperatures are chosen by a deterministic
multi-start Nelder–Mead search minimising :math:`\max_i |c_i|` with :math:`a_R \le a_{\max}`.
*Measured* (parity, :math:`a_{\max} = 40`): :math:`\max_i|c_i|` = 6.0, 13.3, 45.4, 160.5,
614.0, 2538, 11214 for m = 2..8 (1.4e6 at m = 11), i.e. 2.2–5.5x per head. Whether other temperatures give
polynomially bounded coefficients is not known here; the consequence (the family's
parameter norm grows with m) is discussed in ``docs/hardness.md`` §2.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from .._validation import check_array, check_positive_int

__all__ = [
    "Gadget", "solve_gadget", "solve_general_gadget", "gadget_matrix",
    "WeightRepresentation", "min_weight_representation",
]

_RESTARTS = 12  # multi-start Nelder-Mead restarts for the temperature search
_SEED = 20240206  # fixed seed: the chosen temperatures are a deterministic function of (g, a_max)
MAX_HEADS = 12  # beyond this the system is numerically singular in float64 (cond > 1e16)
RESIDUAL_TOL = 1e-8  # relative residual above which a solved gadget is rejected


@dataclass(frozen=True)
class Gadget:
    r"""Solution of :math:`\sum_i c_i\sigma(a_i T) = g(T)` for :math:`T = 0..R`.

    Attributes
    ----------
    temperatures : ndarray, shape (R+1,)
        :math:`0 = a_0 < a_1 < \dots < a_R \le a_{\max}`.
    coefficients : ndarray, shape (R+1,)
        :math:`c_i` (the value maps are :math:`W_i = c_i e_0e_0^\top`).
    targets : ndarray, shape (R+1,)
        :math:`g(0), \dots, g(R)`.
    residual : float
        :math:`\max_T |\sum_i c_i\sigma(a_iT) - g(T)|`, evaluated in float64.
    condition : float
        2-norm condition number of :math:`M_{Ti} = \sigma(a_i T)`.
    """

    temperatures: np.ndarray
    coefficients: np.ndarray
    targets: np.ndarray
    residual: float
    condition: float

    @property
    def heads(self) -> int:
        """Number of heads :math:`m = R + 1`."""
        return int(self.coefficients.size)

    @property
    def R(self) -> int:
        """Largest weighted count the gadget is exact on."""
        return self.heads - 1

    @property
    def max_abs_coefficient(self) -> float:
        r""":math:`\max_i |c_i|` (grows about 4–5x per head for parity)."""
        return float(np.abs(self.coefficients).max())

    def evaluate(self, T) -> np.ndarray:
        r""":math:`\sum_i c_i\,\sigma(a_i T)` for integer counts ``T`` (any shape)."""
        T = np.asarray(T, dtype=np.float64)
        return expit(T[..., None] * self.temperatures) @ self.coefficients


def gadget_matrix(temperatures, R: int) -> np.ndarray:
    r"""The system matrix :math:`M_{Ti} = \sigma(a_i T)`, shape ``(R+1, len(temperatures))``."""
    a = np.asarray(temperatures, dtype=np.float64)
    return expit(np.arange(R + 1, dtype=np.float64)[:, None] * a[None, :])


def _check_temperatures(a, heads: int) -> np.ndarray:
    a = check_array(a, "temperatures", ndim=1)
    if a.size != heads:
        raise ValueError(f"temperatures must have {heads} entries (one per head), got {a.size}")
    if a[0] != 0.0:
        raise ValueError(f"temperatures[0] must be 0 (the uniform head), got {a[0]}")
    if np.any(np.diff(a) <= 0):
        raise ValueError(f"temperatures must be strictly increasing, got {a.tolist()}")
    return a


def _solve(a: np.ndarray, g: np.ndarray) -> Gadget:
    M = gadget_matrix(a, g.size - 1)
    try:
        c = np.linalg.solve(M, g)
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"the gadget system is numerically singular for temperatures "
                         f"{a.tolist()}: {exc}") from exc
    residual = float(np.abs(M @ c - g).max())
    return Gadget(a.copy(), c, g.copy(), residual, float(np.linalg.cond(M)))


def _temps_from(u: np.ndarray, a_max: float) -> np.ndarray:
    # unconstrained u -> sorted temperatures in (0, a_max), a_0 = 0
    return np.concatenate([[0.0], np.sort(a_max * expit(u))])


@functools.lru_cache(maxsize=128)
def _optimise(g_key: tuple[float, ...], a_max: float) -> tuple[float, ...]:
    g = np.array(g_key)
    R = g.size - 1
    if R == 0:
        return (0.0,)

    def objective(u):
        a = _temps_from(u, a_max)
        if np.any(np.diff(a) < 1e-9):
            return 1e30
        M = gadget_matrix(a, R)
        try:
            c = np.linalg.solve(M, g)
        except np.linalg.LinAlgError:
            return 1e30
        return float(np.log(np.abs(c).max() + 1e-300))

    rng = np.random.default_rng(_SEED)
    # deterministic starts: the shape of the measured optima (geometric small temperatures and
    # one saturated head), a plain geometric ladder, then seeded random restarts
    ladder = np.append(np.geomspace(0.1, 3.0, R - 1), 0.5 * a_max) if R > 1 else np.array([36.0])
    geo = np.geomspace(0.2, 0.9 * a_max, R)
    starts = [np.log(v / (a_max - v)) for v in (np.minimum(ladder, 0.95 * a_max), geo)]
    starts += [2.0 * rng.standard_normal(R) for _ in range(_RESTARTS)]
    best = None
    for u0 in starts:
        r = minimize(objective, u0, method="Nelder-Mead",
                     options={"maxiter": 400 * R, "xatol": 1e-9, "fatol": 1e-12})
        if best is None or r.fun < best.fun:
            best = r
    return tuple(_temps_from(best.x, a_max).tolist())


def solve_general_gadget(g_values, a_max: float = 40.0, temperatures=None) -> Gadget:
    r"""Realize :math:`g : \{0..R\}\to\mathbb{R}` with :math:`R+1` heads.

    Solves :math:`\sum_{i=0}^{R} c_i\,\sigma(a_i T) = g(T)` for :math:`T = 0..R` with
    :func:`numpy.linalg.solve`. Unless ``temperatures`` is given, :math:`a_1..a_R` are chosen in
    :math:`(0, a_{\max})` to minimise :math:`\max_i|c_i|` (deterministic multi-start search).

    Parameters
    ----------
    g_values : array_like, shape (R+1,)
        :math:`g(0), \dots, g(R)`.
    a_max : float
        Cap on the temperatures (the logit scale of the sharpest head).
    temperatures : array_like, shape (R+1,), optional
        Fixed temperatures, ``0 = a_0 < a_1 < ...``.

    Returns
    -------
    Gadget
        With the float64 residual of the solved system.
    """
    g = check_array(g_values, "g_values", ndim=1)
    if g.size < 1:
        raise ValueError("g_values must hold at least g(0)")
    if g.size > MAX_HEADS:
        raise ValueError(f"a gadget with {g.size} heads (R = {g.size - 1}) is beyond float64: "
                         f"the condition exceeds 1e16 past {MAX_HEADS} heads; use the closed form")
    if not np.isfinite(a_max) or a_max <= 0:
        raise ValueError(f"a_max must be finite and > 0, got {a_max}")
    if temperatures is None:
        a = np.array(_optimise(tuple(g.tolist()), float(a_max)))
    else:
        a = _check_temperatures(temperatures, g.size)
        if a[-1] > a_max:
            raise ValueError(f"temperatures exceed a_max = {a_max}: max is {a[-1]}")
    gadget = _solve(a, g)
    if not gadget.residual <= RESIDUAL_TOL * max(1.0, float(np.abs(g).max())):
        raise ValueError(f"the gadget system is numerically singular: residual "
                         f"{gadget.residual:.2e}, "
                         f"condition {gadget.condition:.2e} with {g.size} heads")
    return gadget


def solve_gadget(m: int, a_max: float = 40.0, temperatures=None) -> Gadget:
    r"""The parity gadget: :math:`\sum_{i=0}^{m-1} c_i\,\sigma(a_i N) = (-1)^N`, :math:`N = 0..m-1`.

    With :math:`\Theta_i = (a_i/2)\mathrm{diag}(1_S)`, :math:`|S| = m-1`, the layer computes
    :math:`A(X) + B(X)\chi_S(x_0\odot x_1)` exactly (see :mod:`provable_mha.hardness.parity`).
    ``m = 1`` gives the single uniform head :math:`c_0 = 2`.
    """
    m = check_positive_int(m, "m")
    return solve_general_gadget((-1.0) ** np.arange(m), a_max=a_max, temperatures=temperatures)


# --------------------------------------------------------------------------------------------
# CP-SAT: the fewest heads a weighted count needs to express a Boolean target
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeightRepresentation:
    r"""Integer weights :math:`w` and a table :math:`g` with :math:`f(u) = g(\langle w, u\rangle)`.

    Attributes
    ----------
    weights : ndarray of int, shape (r,)
    g_values : ndarray, shape (R+1,)
        :math:`g(T)` for :math:`T = 0..R`, ``R = weights.sum()``; counts that no input attains
        are filled with the value of the nearest attained count below (any value would do).
    heads : int
        :math:`R + 1`, the heads the general gadget uses.
    status : str
        CP-SAT status (``OPTIMAL`` or ``FEASIBLE`` when the time limit stopped the proof).
    """

    weights: np.ndarray
    g_values: np.ndarray
    heads: int
    status: str


def min_weight_representation(f_values, r: int, w_max: int = 8, time_limit: float = 10.0,
                              seed: int = 0) -> WeightRepresentation:
    r"""Fewest-heads weighted-count representation of a Boolean-input target, by CP-SAT.

    Finds non-negative integers :math:`w_b \le w_{\max}` minimising :math:`R = \sum_b w_b`
    subject to :math:`\langle w, u\rangle \ne \langle w, u'\rangle` whenever
    :math:`f(u) \ne f(u')` (:math:`u, u' \in \{0,1\}^r`). Then :math:`f = g(\langle w,u\rangle)`
    for a table :math:`g` on :math:`\{0..R\}` and the general gadget realizes :math:`f` with
    :math:`R + 1` heads (here :math:`u_b = [z_b = -1]`).

    Parameters
    ----------
    f_values : array_like, shape (2**r,)
        :math:`f(u)` with :math:`u_b` the bit ``b`` of the index (``u_b = (idx >> b) & 1``).
    r : int
        Number of input bits (at most 10: the model has one constraint per differing pair).
    w_max : int
        Upper bound on each weight.
    time_limit : float
        CP-SAT wall-clock limit in seconds (one worker, fixed ``seed``: deterministic).

    Raises
    ------
    ValueError
        Bad arguments, or no representation with weights ``<= w_max`` exists.
    """
    from ortools.sat.python import cp_model

    r = check_positive_int(r, "r")
    if r > 10:
        raise ValueError(f"r must be <= 10 (2^r inputs, pairwise constraints), got {r}")
    w_max = check_positive_int(w_max, "w_max")
    f = check_array(f_values, "f_values", ndim=1)
    if f.size != 2**r:
        raise ValueError(f"f_values must have 2**r = {2**r} entries, got {f.size}")
    if not np.isfinite(time_limit) or time_limit <= 0:
        raise ValueError(f"time_limit must be > 0, got {time_limit}")
    U = (np.arange(2**r)[:, None] >> np.arange(r)[None, :]) & 1
    model = cp_model.CpModel()
    w = [model.NewIntVar(0, w_max, f"w{b}") for b in range(r)]
    for i, j in itertools.combinations(range(2**r), 2):
        if f[i] != f[j]:
            diff = U[i] - U[j]
            model.Add(sum(int(diff[b]) * w[b] for b in range(r) if diff[b]) != 0)
    model.Minimize(sum(w))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.random_seed = int(seed)
    solver.parameters.num_workers = 1
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise ValueError(f"no weighted-count representation with weights <= {w_max} "
                         f"(CP-SAT status {solver.StatusName(status)})")
    weights = np.array([solver.Value(v) for v in w], dtype=np.int64)
    T = U @ weights
    R = int(weights.sum())
    g = np.full(R + 1, np.nan)
    g[T] = f
    for t in range(R + 1):  # unattained counts: copy the last attained value
        if np.isnan(g[t]):
            g[t] = g[t - 1]
    return WeightRepresentation(weights, g, R + 1, solver.StatusName(status))
