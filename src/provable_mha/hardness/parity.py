r"""The parity family: m-head layers on k = 2 tokens that compute a sparse parity.

This family is **this project's reconstruction**, not taken from Chen & Li (arXiv 2402.04084),
whose lower-bound constructions this project has not seen (``docs/hardness.md``).

0-based indices: coordinate 0 is the gadget's output coordinate and a secret is
:math:`S \subseteq \{1, \dots, d-1\}` with :math:`|S| = m - 1`. With the parity gadget
(:func:`~provable_mha.hardness.gadget.solve_gadget`),
:math:`\Theta_i = (a_i/2)\,\mathrm{diag}(1_S)` and :math:`W_i = c_i e_0e_0^\top`, the layer
computes, for :math:`X = [x_0; x_1] \in \{\pm1\}^{2\times d}` and :math:`z = x_0 \odot x_1`,

.. math::

    F_S(X) = A(X) + B(X)\,\chi_S(z), \qquad \chi_S(z) = \prod_{b\in S} z_b,

    A_{00} = 2x_{10},\quad A_{10} = 2x_{00},\quad B_{00} = x_{00} - x_{10},\quad B_{10} = -B_{00},

all other entries 0. :math:`A` and :math:`B` do not depend on :math:`S`. The general form
(weighted count :math:`T`, any :math:`g`) is :func:`weighted_count_instance` /
:func:`weighted_closed_form`: :math:`A_{00} = 2g(0)x_{10}`, :math:`A_{10} = 2g(0)x_{00}` and
:math:`B\,g(T)` in place of :math:`B\chi_S`.

**Exact statement.** For every :math:`m \ge 1`, :math:`d \ge m`, every secret :math:`S` and every
:math:`X\in\{\pm1\}^{2\times d}`, the layer :func:`parity_instance` equals :math:`F_S(X)` above,
given coefficients that solve the gadget system exactly (``docs/hardness.md`` §1). In float64 it
is checked on **all** :math:`2^{2d}` inputs for every member of every family with m = 2..5 and
m <= d <= 7 (``tests/hardness/test_hardness_parity.py::
test_layer_equals_closed_form_on_the_whole_cube``, tolerance 1e-12; worst measured 7e-14), and
on random inputs for m <= 6, d <= 12 (Hypothesis).
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from .._validation import check_array, check_boolean, check_inputs, check_positive_int
from ..model import MultiHeadAttention
from .gadget import Gadget, solve_gadget

__all__ = [
    "check_secret", "parity_instance", "parity_family", "parity_secrets", "closed_form_parts",
    "parity_closed_form", "weighted_count_instance", "weighted_closed_form", "weighted_count",
    "chi",
]


def check_secret(S, m: int, d: int) -> tuple[int, ...]:
    """Validate a parity secret: distinct integers in ``1..d-1``, exactly ``m - 1`` of them."""
    m = check_positive_int(m, "m")
    d = check_positive_int(d, "d")
    try:
        items = list(S)
    except TypeError as exc:
        raise ValueError(f"S must be an iterable of coordinates, got {S!r}") from exc
    for b in items:
        if isinstance(b, (bool, np.bool_)) or not isinstance(b, numbers.Integral):
            raise ValueError(f"S must hold integer coordinates, got {b!r}")
    out = tuple(sorted(int(b) for b in items))
    if len(set(out)) != len(out):
        raise ValueError(f"S has repeated coordinates: {list(items)}")
    if len(out) != m - 1:
        raise ValueError(f"|S| must be m - 1 = {m - 1}, got {len(out)}")
    if out and (out[0] < 1 or out[-1] > d - 1):
        raise ValueError(f"S must be a subset of {{1..d-1}} = {{1..{d - 1}}} (coordinate 0 is the "
                         f"output coordinate), got {list(out)}")
    return out


def _check_dims(m: int, d: int) -> tuple[int, int]:
    m = check_positive_int(m, "m")
    d = check_positive_int(d, "d")
    if d < m:
        raise ValueError(f"the parity family needs d >= m (|S| = m-1 coordinates in 1..d-1), "
                         f"got m = {m}, d = {d}")
    return m, d


def weighted_count_instance(weights, gadget: Gadget) -> MultiHeadAttention:
    r"""Layer with :math:`\Theta_i = (a_i/2)\mathrm{diag}(w)` and :math:`W_i = c_i e_0e_0^\top`.

    It computes :math:`A(X) + B(X)\,g(T)` on :math:`k = 2` Boolean tokens, :math:`T = \sum_b
    w_b[z_b=-1]` (see :mod:`~provable_mha.hardness.gadget`), exactly when :math:`T \le R`.

    Parameters
    ----------
    weights : array_like of int, shape (d,)
        Non-negative integers with ``weights[0] == 0`` and ``sum(weights) <= gadget.R``.
    gadget : Gadget
    """
    w = check_array(weights, "weights", ndim=1)
    if w.size < 1 or np.any(w != np.round(w)) or np.any(w < 0):
        raise ValueError(f"weights must be non-negative integers, got {w.tolist()}")
    if w[0] != 0:
        raise ValueError("weights[0] must be 0: coordinate 0 is the output coordinate")
    if w.sum() > gadget.R:
        raise ValueError(f"sum(weights) = {int(w.sum())} exceeds the gadget's range R = {gadget.R}")
    d = w.size
    thetas = 0.5 * gadget.temperatures[:, None, None] * np.diag(w)[None]
    ws = np.zeros((gadget.heads, d, d))
    ws[:, 0, 0] = gadget.coefficients
    return MultiHeadAttention(thetas, ws)


def parity_instance(S, m: int, d: int, a_max: float = 40.0) -> MultiHeadAttention:
    r"""The m-head layer computing :math:`A(X) + B(X)\chi_S(x_0\odot x_1)` (module docstring).

    Parameters
    ----------
    S : iterable of int
        Secret, ``m - 1`` distinct coordinates in ``1..d-1``.
    m, d : int
        Heads and token dimension (``d >= m``).
    a_max : float
        Temperature cap passed to :func:`~provable_mha.hardness.gadget.solve_gadget`.
    """
    m, d = _check_dims(m, d)
    S = check_secret(S, m, d)
    w = np.zeros(d)
    w[list(S)] = 1.0
    return weighted_count_instance(w, solve_gadget(m, a_max=a_max))


def parity_secrets(m: int, d: int) -> list[tuple[int, ...]]:
    """All secrets ``S ⊆ {1..d-1}``, ``|S| = m-1``, in lexicographic order (C(d-1, m-1) of them)."""
    m, d = _check_dims(m, d)
    return list(itertools.combinations(range(1, d), m - 1))


def parity_family(m: int, d: int,
                  a_max: float = 40.0) -> list[tuple[tuple[int, ...], MultiHeadAttention]]:
    r"""The family :math:`\{(S, F_S)\}` over all :math:`\binom{d-1}{m-1}` secrets, ``k = 2``.

    Members share the gadget (temperatures and coefficients) and differ only in the support of
    :math:`\Theta_i`. Their S-dependent parts :math:`B\chi_S` are pairwise orthogonal, and any
    two members are at squared distance :math:`E\|F_S - F_{S'}\|_F^2 = 8`. What follows
    (proved in ``docs/hardness.md`` §2): an SQ algorithm with tolerance :math:`\tau` that
    identifies the secret, or learns to squared error below 2, needs more than
    :math:`(D-1)\tau^2` queries, :math:`D = \binom{d-1}{m-1} \ge ((d-1)/(m-1))^{m-1}`. The
    family is *not* norm-bounded uniformly in m: :math:`\max_i\|W_i\|_F = \max_i|c_i|` grows
    about 4–5x per head (measured, :mod:`~provable_mha.hardness.gadget`).
    """
    m, d = _check_dims(m, d)
    gadget = solve_gadget(m, a_max=a_max)
    out = []
    for S in parity_secrets(m, d):
        w = np.zeros(d)
        w[list(S)] = 1.0
        out.append((S, weighted_count_instance(w, gadget)))
    return out


def _check_two_token_boolean(X, d: int | None = None) -> tuple[np.ndarray, bool]:
    Xb, single = check_inputs(X, d=d)
    if Xb.shape[1] != 2:
        raise ValueError(f"the hardness gadget is defined for k = 2 tokens, got k = {Xb.shape[1]}")
    check_boolean(Xb)
    return Xb, single


def closed_form_parts(X) -> tuple[np.ndarray, np.ndarray]:
    r"""The S-independent parts :math:`A(X), B(X)` (module docstring), each shaped like ``X``."""
    Xb, single = _check_two_token_boolean(X)
    A = np.zeros_like(Xb)
    B = np.zeros_like(Xb)
    A[:, 0, 0] = 2.0 * Xb[:, 1, 0]
    A[:, 1, 0] = 2.0 * Xb[:, 0, 0]
    B[:, 0, 0] = Xb[:, 0, 0] - Xb[:, 1, 0]
    B[:, 1, 0] = -B[:, 0, 0]
    return (A[0], B[0]) if single else (A, B)


def chi(X, S) -> np.ndarray:
    r""":math:`\chi_S(z) = \prod_{b\in S} z_b`, :math:`z = x_0\odot x_1`; ``(n,)`` or scalar."""
    Xb, single = _check_two_token_boolean(X)
    idx = list(S)
    c = np.prod(Xb[:, 0, idx] * Xb[:, 1, idx], axis=1) if idx else np.ones(Xb.shape[0])
    return c[0] if single else c


def weighted_count(X, weights) -> np.ndarray:
    r""":math:`T = \sum_b w_b\,[z_b = -1]` per example, integer array ``(n,)`` (or scalar)."""
    Xb, single = _check_two_token_boolean(X)
    w = check_array(weights, "weights", ndim=1)
    if w.size != Xb.shape[2]:
        raise ValueError(f"weights has {w.size} entries but X has d = {Xb.shape[2]}")
    T = np.rint(((1.0 - Xb[:, 0] * Xb[:, 1]) / 2.0) @ w).astype(np.int64)
    return T[0] if single else T


def parity_closed_form(X, S) -> np.ndarray:
    r""":math:`F_S(X) = A(X) + B(X)\chi_S(x_0\odot x_1)` evaluated directly (no attention)."""
    Xb, single = _check_two_token_boolean(X)
    check_secret(S, len(list(S)) + 1, Xb.shape[2])
    A, B = closed_form_parts(Xb)
    F = A + B * chi(Xb, S)[:, None, None]
    return F[0] if single else F


def weighted_closed_form(X, weights, g_values) -> np.ndarray:
    r""":math:`g(0)A(X) + B(X)\,g(T)`: what :func:`weighted_count_instance` computes."""
    Xb, single = _check_two_token_boolean(X)
    g = check_array(g_values, "g_values", ndim=1)
    T = weighted_count(Xb, weights)
    if T.max() >= g.size:
        raise ValueError(f"weighted count reaches {T.max()} but g is given on 0..{g.size - 1}")
    A, B = closed_form_parts(Xb)
    F = g[0] * A + B * g[T][:, None, None]
    return F[0] if single else F
