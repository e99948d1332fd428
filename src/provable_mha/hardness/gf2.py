r"""The control that keeps the parity lower bound honest: Gaussian elimination over GF(2).

(The parity family and this control are this project's own, ``docs/hardness.md`` §3.)

The SQ bound of :mod:`~provable_mha.hardness.sq` says nothing about learners that use examples
individually. On an example with :math:`x_{00}\ne x_{10}` the label reveals the parity exactly:
:math:`\chi_S(z) = (Y_{00} - A_{00})/B_{00}`, i.e. the GF(2) equation
:math:`\sum_{b\in S} u_b = (1-\chi_S(z))/2` with :math:`u_b = [z_b = -1]`. About :math:`2(d-1)`
noiseless examples give :math:`d-1` independent equations and :func:`recover_parity` returns
:math:`S` in :math:`O(d^3)` time: the family is hard for SQ learners only.

With label noise (Gaussian of level :math:`\sigma` on :math:`Y`, which flips the decoded parity
with probability :math:`\eta = \Phi(-2/\sigma)` since :math:`|B_{00}| = 2`), elimination on all
equations becomes inconsistent or wrong (learning parity with noise), while the SQ bound
(:func:`~provable_mha.hardness.sq.sq_query_lower_bound` with the factor :math:`(1-2\eta)^2`) stands.
:func:`noise_experiment` measures both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_generator, check_array, check_positive_int
from ..sampling import sample_boolean
from .parity import _check_two_token_boolean, closed_form_parts, parity_instance, parity_secrets

__all__ = ["gf2_solve", "parity_equations", "recover_parity", "GF2Result", "noise_experiment"]


def gf2_solve(A, b) -> tuple[np.ndarray | None, int]:
    r"""Solve :math:`Ax = b` over GF(2) by Gaussian elimination.

    Parameters
    ----------
    A : array_like of {0, 1}, shape (n, r)
    b : array_like of {0, 1}, shape (n,)

    Returns
    -------
    x : ndarray of {0, 1} or None
        A solution (free variables set to 0), or ``None`` if the system is inconsistent.
    rank : int
        Rank of ``A`` over GF(2); the solution is unique iff ``rank == r``.
    """
    A = check_array(A, "A", ndim=2)
    b = check_array(b, "b", ndim=1)
    if b.size != A.shape[0]:
        raise ValueError(f"b has {b.size} entries, A has {A.shape[0]} rows")
    if np.any((A != 0) & (A != 1)) or np.any((b != 0) & (b != 1)):
        raise ValueError("A and b must have entries in {0, 1}")
    M = np.concatenate([A, b[:, None]], axis=1).astype(np.uint8)
    n, r = A.shape
    row, pivots = 0, []
    for col in range(r):
        if row == n:
            break
        hits = np.nonzero(M[row:, col])[0]
        if hits.size == 0:
            continue
        p = row + hits[0]
        M[[row, p]] = M[[p, row]]
        elim = np.nonzero(M[:, col])[0]
        elim = elim[elim != row]
        M[elim] ^= M[row]
        pivots.append(col)
        row += 1
    if np.any(M[row:, r]):  # a zero row with right-hand side 1
        return None, row
    x = np.zeros(r, dtype=np.int64)
    for i, col in enumerate(pivots):
        x[col] = M[i, r]
    return x, row


def parity_equations(X, Y) -> tuple[np.ndarray, np.ndarray]:
    r"""GF(2) equations :math:`\langle u, s\rangle = (1 - \hat\chi)/2` from informative examples.

    Uses the examples with :math:`B_{00} = x_{00} - x_{10} \ne 0`, decodes
    :math:`\hat\chi = \mathrm{sign}((Y_{00} - A_{00})/B_{00})` and returns ``(U, rhs)`` with
    ``U[j, b-1] = [z_b = -1]`` for ``b = 1..d-1``.
    """
    Xb, _ = _check_two_token_boolean(X)
    Yb = check_array(Y, "Y", ndim=3)
    if Yb.shape != Xb.shape:
        raise ValueError(f"Y must have the shape of X {Xb.shape}, got {Yb.shape}")
    A, B = closed_form_parts(Xb)
    keep = B[:, 0, 0] != 0
    chi_hat = np.sign((Yb[keep, 0, 0] - A[keep, 0, 0]) / B[keep, 0, 0])
    U = ((1.0 - Xb[keep, 0, 1:] * Xb[keep, 1, 1:]) / 2.0).astype(np.int64)
    rhs = (chi_hat < 0).astype(np.int64)
    return U, rhs


def recover_parity(X, Y) -> tuple[tuple[int, ...] | None, int]:
    r"""Recover the secret :math:`S` from examples of :math:`F_S` by GF(2) elimination.

    Returns ``(S, rank)``; ``S`` is ``None`` when the equations are inconsistent (noise) or do not
    determine the secret (rank < d - 1: too few informative examples).
    """
    U, rhs = parity_equations(X, Y)
    r = U.shape[1]
    if U.shape[0] == 0:
        return None, 0
    x, rank = gf2_solve(U, rhs)
    if x is None or rank < r:
        return None, rank
    return tuple(int(b) + 1 for b in np.nonzero(x)[0]), rank


@dataclass(frozen=True)
class GF2Result:
    """One cell of :func:`noise_experiment`: success rate of elimination at one noise level."""

    m: int
    d: int
    n: int
    sigma: float
    eta: float  # implied parity-flip rate Phi(-2/sigma)
    trials: int
    recovered: int  # trials where elimination returned the true S
    inconsistent: int  # trials where the system was inconsistent
    sq_queries_at_tau: float  # SQ lower bound (D-1) tau^2 / (1-2 eta)^2 at tau = D^(-1/3)


def noise_experiment(m: int, d: int, n: int, sigmas=(0.0, 0.5, 1.0, 2.0), trials: int = 20,
                     rng=0) -> list[GF2Result]:
    r"""Success of :func:`recover_parity` on ``n`` examples with Gaussian label noise ``sigma``.

    Each trial draws a secret uniformly from the family, ``n`` uniform Boolean examples and
    labels :math:`F_S(X) + \sigma N(0, I)`. Reported next to the SQ query bound at the implied flip
    rate and tolerance :math:`\tau = D^{-1/3}`, :math:`(D-1)D^{-2/3}/(1-2\eta)^2`
    (:math:`D = \binom{d-1}{m-1}`), which noise only increases.
    """
    from math import erfc, sqrt

    from .sq import sq_query_lower_bound

    m, d, n = check_positive_int(m, "m"), check_positive_int(d, "d"), check_positive_int(n, "n")
    trials = check_positive_int(trials, "trials")
    gen = as_generator(rng)
    secrets = parity_secrets(m, d)
    D = len(secrets)
    out = []
    for sigma in sigmas:
        sigma = float(sigma)
        if not np.isfinite(sigma) or sigma < 0:
            raise ValueError(f"sigma must be finite and >= 0, got {sigma}")
        eta = 0.0 if sigma == 0 else 0.5 * erfc((2.0 / sigma) / sqrt(2.0))
        ok = bad = 0
        for _ in range(trials):
            S = secrets[gen.integers(D)]
            X = sample_boolean(n, 2, d, gen)
            Y = parity_instance(S, m, d)(X) + sigma * gen.standard_normal((n, 2, d))
            found, rank = recover_parity(X, Y)
            U, rhs = parity_equations(X, Y)
            consistent = gf2_solve(U, rhs)[0] is not None if U.shape[0] else True
            ok += found == tuple(S)
            bad += not consistent
        q = sq_query_lower_bound(D, D ** (-1 / 3), eta) if eta < 0.5 else float("inf")
        out.append(GF2Result(m, d, n, sigma, eta, trials, ok, bad, q))
    return out
