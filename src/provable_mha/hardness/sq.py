r"""Statistical-query analysis of the parity family by exact enumeration of the Boolean cube.

The family and the bound below are this project's own (``docs/hardness.md`` §2), not taken from
Chen & Li (arXiv 2402.04084).

Everything here is an exact expectation over all :math:`2^{2d}` inputs
:math:`X\in\{\pm1\}^{2\times d}` (uniform weights), computed from the layers' own forward passes:

* :func:`correlation_matrix` -- normalised correlations :math:`E\langle G_S, G_{S'}\rangle /
  (\|G_S\|\|G_{S'}\|)` of the S-dependent parts :math:`G_S = F_S - A` (0 for :math:`S\ne S'`,
  since :math:`E[B^2\chi_S\chi_{S'}] = E[B^2]\,[S = S']`);
* :func:`separation_matrix` -- :math:`E\|F_S - F_{S'}\|_F^2 = 2E[B_{00}^2]E[(\chi_S-\chi_{S'})^2]
  = 2\cdot 2\cdot 2 = 8`;
* :func:`moment_agreement` -- the lowest degree of a monomial :math:`p` with
  :math:`E[p(X)\,h(F_S(X))]` not constant over the family, for test functions :math:`h`;
* :func:`sq_dimension` -- the largest set of members with pairwise :math:`|\rho| \le \tau`, a
  maximum clique (:func:`networkx.max_weight_clique`);
* :func:`sq_query_lower_bound` and :func:`sq_table` -- the resulting query/tolerance bound.

**SQ bound used** (proved in ``docs/hardness.md``). A query :math:`\phi(X, Y)\in[-1,1]` decomposes
as :math:`\phi(X, A + B\chi_S) = h_0(X) + h_1(X)\chi_S(z)` with :math:`|h_1|\le 1` independent of
:math:`S`. With label flips of rate :math:`\eta` the S-dependent term is scaled by
:math:`1-2\eta`. By Bessel's inequality fewer than :math:`(1-2\eta)^2/\tau^2` secrets have
:math:`|E\phi - E h_0| > \tau`, so an adversary answering :math:`E h_0` forces
:math:`q > (D-1)\tau^2/(1-2\eta)^2` queries to single out one of :math:`D` secrets. With
:math:`D = \binom{d-1}{m-1} \ge ((d-1)/(m-1))^{m-1}` this is :math:`d^{\Omega(m)}` queries at
fixed :math:`\tau` only while :math:`m \le (d-1)^{1-\epsilon}`; the bound is for SQ algorithms only
(:mod:`.gf2` learns the noiseless family from :math:`O(d)` examples) and for a family whose
:math:`\max_i\|W_i\|` grows about 4–5x per head (measured).

**Exhaustive checks** (``tests/hardness/test_hardness_sq.py``): all :math:`4^7 = 16384` inputs
at d = 7 for m = 2..5 (orthogonality to 1e-12, separation 8 to 1e-10, moment degrees exactly
:math:`2m-1` and :math:`2(m-1)`, SQ dimension :math:`= \binom{6}{m-1}`); :func:`sq_table` at
d = 5, m = 2, 3; :func:`noisy_pairwise_correlations` on the reduced cube for m = 2..4,
d = m + 2.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_array, check_positive_int
from .parity import closed_form_parts, parity_family, parity_secrets

__all__ = [
    "boolean_cube", "walsh_hadamard", "family_outputs", "correlation_matrix", "separation_matrix",
    "moment_agreement", "moment_degrees", "sq_dimension", "sq_query_lower_bound",
    "noisy_pairwise_correlations",
    "sq_table", "format_sq_table",
]

MAX_EXACT_D = 8  # 2^(2d) inputs: d = 8 is 65536 two-token examples


def boolean_cube(d: int) -> np.ndarray:
    r"""All :math:`2^{2d}` inputs :math:`X\in\{\pm1\}^{2\times d}`, shape ``(4**d, 2, d)``.

    Bit :math:`j = a d + b` of the row index is entry :math:`(a, b)` (bit 1 means :math:`-1`), so
    the Fourier character of mask :math:`M` is :math:`\prod_{j\in M} X_j` in the same ordering.
    """
    d = check_positive_int(d, "d")
    if d > MAX_EXACT_D:
        raise ValueError(f"exact enumeration needs d <= {MAX_EXACT_D} (4^d inputs), got d = {d}")
    idx = np.arange(4**d, dtype=np.int64)
    bits = (idx[:, None] >> np.arange(2 * d)[None, :]) & 1
    return (1.0 - 2.0 * bits).reshape(-1, 2, d)


def walsh_hadamard(values) -> np.ndarray:
    r"""Fourier coefficients :math:`\hat f(M) = E[f(X)\prod_{j\in M}X_j]` along the last axis.

    The last axis has length :math:`2^N` and is indexed as in :func:`boolean_cube`.
    Fast transform, :math:`O(N 2^N)`.
    """
    f = np.array(values, dtype=np.float64, copy=True)
    n = f.shape[-1]
    if n & (n - 1):
        raise ValueError(f"the last axis must have length 2^N, got {n}")
    lead = f.shape[:-1]
    h = 1
    while h < n:
        f = f.reshape(*lead, n // (2 * h), 2, h)
        a, b = f[..., 0, :].copy(), f[..., 1, :]
        f[..., 0, :] += b
        f[..., 1, :] = a - b
        h *= 2
    return f.reshape(*lead, n) / n


def family_outputs(m: int, d: int) -> tuple[list[tuple[int, ...]], np.ndarray, np.ndarray]:
    """Secrets, the cube (``boolean_cube(d)``) and every member's output ``(D, 4**d, 2, d)``."""
    fam = parity_family(m, d)
    X = boolean_cube(d)
    return [S for S, _ in fam], X, np.stack([layer(X) for _, layer in fam])


def correlation_matrix(parts) -> np.ndarray:
    r"""Normalised correlations of S-dependent parts.

    :math:`\rho_{SS'} = E\langle G_S,G_{S'}\rangle/\sqrt{E\|G_S\|^2E\|G_{S'}\|^2}`.

    ``parts`` has shape ``(D, n, ...)``: member, input (uniform weights), output entries.
    """
    G = check_array(parts, "parts").reshape(len(parts), -1)
    gram = G @ G.T
    norms = np.sqrt(np.diag(gram))
    if np.any(norms == 0):
        raise ValueError("a member's S-dependent part is identically zero")
    return gram / np.outer(norms, norms)


def separation_matrix(outputs) -> np.ndarray:
    r""":math:`E_X\|F_S(X) - F_{S'}(X)\|_F^2` for all pairs; ``outputs`` is ``(D, n, k, d)``."""
    F = check_array(outputs, "outputs")
    n = F.shape[1]
    flat = F.reshape(len(F), -1)
    sq = np.sum(flat**2, axis=1)
    return np.maximum(sq[:, None] + sq[None, :] - 2.0 * flat @ flat.T, 0.0) / n


def moment_agreement(m: int, d: int, powers=(1, 2, 3)) -> dict[str, int | None]:
    r"""Lowest degree at which some moment :math:`E[p(X)\,Y_{a0}^j]` differs across the family.

    For each output entry :math:`(a, 0)`, :math:`a\in\{0,1\}` (the only non-zero ones) and power
    :math:`j` in ``powers``, computes all :math:`2^{2d}` Fourier coefficients of
    :math:`Y_{a0}^j = F_S(X)_{a0}^j` for every member, and returns the smallest :math:`|M|` at which
    they are not all equal (``None`` if they always agree, e.g. a one-member family).

    Theory: the S-dependent part of any :math:`h(X, F_S)` is :math:`h_1(x_{00},x_{10})\chi_S(z)`,
    of degree :math:`\ge 2(m-1)`, so every value is :math:`\ge 2(m-1)`; for :math:`j = 1` it is
    :math:`2m-1` (the monomials :math:`x_{a0}\chi_S(z)`), for :math:`j = 2` it is exactly
    :math:`2(m-1)` (:math:`Y_{00}^2` contains :math:`-4\chi_S(z)`).
    """
    _, _, F = family_outputs(m, d)
    return moment_degrees(F, powers)


def moment_degrees(outputs, powers=(1, 2, 3)) -> dict[str, int | None]:
    """:func:`moment_agreement` on precomputed outputs ``(D, 4**d, 2, d)`` (on the cube)."""
    F = check_array(outputs, "outputs", ndim=4)
    n = F.shape[1]
    deg = np.array([bin(i).count("1") for i in range(n)])
    out: dict[str, int | None] = {}
    for a in (0, 1):
        for j in powers:
            j = check_positive_int(j, "power")
            coef = walsh_hadamard(F[:, :, a, 0] ** j)
            differs = np.ptp(coef, axis=0) > 1e-9 * max(1.0, np.abs(coef).max())
            out[f"Y[{a},0]^{j}"] = int(deg[differs].min()) if differs.any() else None
    return out


def sq_dimension(corr, tau: float) -> tuple[int, list[int]]:
    r"""Size of the largest set with pairwise :math:`|\rho_{SS'}| \le \tau` (maximum clique).

    Builds the graph on members with an edge when :math:`|\rho_{SS'}|\le\tau` and runs
    :func:`networkx.max_weight_clique` (exact branch and bound). Returns the size and members.
    """
    import networkx as nx

    C = check_array(corr, "corr", ndim=2)
    if C.shape[0] != C.shape[1]:
        raise ValueError(f"corr must be square, got {C.shape}")
    if not np.isfinite(tau) or tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    n = C.shape[0]
    G = nx.Graph()
    G.add_nodes_from(range(n))
    iu, ju = np.nonzero(np.triu(np.abs(C) <= tau, k=1))
    G.add_edges_from(zip(iu.tolist(), ju.tolist(), strict=True))
    clique, _ = nx.max_weight_clique(G, weight=None)
    return len(clique), sorted(clique)


def sq_query_lower_bound(D: int, tau: float, eta: float = 0.0) -> float:
    r"""Queries any SQ learner needs: :math:`q > (D-1)\,\tau^2/(1-2\eta)^2` (module docstring).

    ``D`` pairwise-orthogonal secrets, tolerance ``tau``, label-flip rate ``eta < 1/2``.
    """
    D = check_positive_int(D, "D")
    if not (0 < tau <= 1):
        raise ValueError(f"tau must be in (0, 1], got {tau}")
    if not (0 <= eta < 0.5):
        raise ValueError(f"eta must be in [0, 1/2), got {eta}")
    return (D - 1) * tau**2 / (1 - 2 * eta) ** 2


def noisy_pairwise_correlations(m: int, d: int, eta: float) -> np.ndarray:
    r"""Exact pairwise correlations :math:`\chi_{D_0}(D_S, D_{S'})` of the noisy example laws.

    :math:`D_S` is the law of :math:`(X, Y)` with :math:`Y = A + B\xi`, :math:`\xi = \chi_S(z)`
    flipped with probability :math:`\eta`; :math:`D_0` has :math:`\xi` a fair coin. Returns
    :math:`E_{D_0}[(D_S/D_0-1)(D_{S'}/D_0-1)]`, by enumerating :math:`(x_{00}, x_{10}, z, \xi)`
    (the ratio depends on :math:`X` only through these, and they are uniform). Theory:
    :math:`\tfrac12(1-2\eta)^2[S = S']`.
    """
    if not (0 <= eta < 0.5):
        raise ValueError(f"eta must be in [0, 1/2), got {eta}")
    secrets = parity_secrets(m, d)
    r = d + 1  # bits: x00, x10, z_1..z_{d-1}
    idx = np.arange(2**r)
    bits = 1.0 - 2.0 * ((idx[:, None] >> np.arange(r)) & 1)
    x00, x10, z = bits[:, 0], bits[:, 1], bits[:, 2:]
    informative = x00 != x10  # B != 0: Y reveals xi
    ratios = []
    for S in secrets:
        c = np.prod(z[:, [b - 1 for b in S]], axis=1) if S else np.ones(len(idx))
        # D_S/D_0 at xi = +1 and xi = -1 (prob 1/2 each under D_0); 1 where Y hides xi
        plus = np.where(informative, 2.0 * np.where(c > 0, 1 - eta, eta), 1.0)
        minus = np.where(informative, 2.0 * np.where(c < 0, 1 - eta, eta), 1.0)
        ratios.append(np.concatenate([plus, minus]) - 1.0)
    R = np.stack(ratios)
    return R @ R.T / R.shape[1]


def sq_table(ms, ds, tau: float | None = None, moments: bool = True) -> list[dict]:
    r"""One row per :math:`(m, d)`: family size, correlations, separation, SQ dimension, bounds.

    Columns: ``D = |family|``, ``binom = C(d-1, m-1)``, ``max_offdiag_corr``, ``sq_dim`` at
    tolerance ``tau`` (default :math:`D^{-1/3}`), ``sep_min``/``sep_max``
    (:math:`E\|F_S-F_{S'}\|^2`),
    ``moment_degree`` (lowest disagreeing moment degree over :math:`Y^1, Y^2`; theory
    :math:`2(m-1)`), ``queries_at_tau`` (:math:`(D-1)\tau^2`) and ``tau_for_d2_queries``
    (largest tolerance at which the bound does not exclude :math:`d^2` queries,
    :math:`\sqrt{d^2/(D-1)}`).
    Requires ``d <= 8`` (exact enumeration through the layers' forward passes).
    """
    rows = []
    for m in ms:
        for d in ds:
            m_, d_ = check_positive_int(m, "m"), check_positive_int(d, "d")
            if d_ < m_:
                continue
            secrets, X, F = family_outputs(m_, d_)
            D = len(secrets)
            A, _ = closed_form_parts(X)
            corr = correlation_matrix(F - A[None])
            off = corr[~np.eye(D, dtype=bool)]
            sep = separation_matrix(F)[~np.eye(D, dtype=bool)]
            t = D ** (-1 / 3) if tau is None else float(tau)
            dim, _ = sq_dimension(corr, t)
            row = {
                "m": m_, "d": d_, "D": D, "binom": math.comb(d_ - 1, m_ - 1),
                "max_offdiag_corr": float(np.abs(off).max()) if off.size else 0.0,
                "tau": t, "sq_dim": dim,
                "sep_min": float(sep.min()) if sep.size else float("nan"),
                "sep_max": float(sep.max()) if sep.size else float("nan"),
                "queries_at_tau": sq_query_lower_bound(D, min(t, 1.0)),
                "tau_for_d2_queries": math.sqrt(d_**2 / (D - 1)) if D > 1 else float("inf"),
            }
            if moments:
                md = moment_degrees(F, powers=(1, 2))
                vals = [v for v in md.values() if v is not None]
                row["moment_degree"] = min(vals) if vals else None
            rows.append(row)
    return rows


def format_sq_table(rows: list[dict]) -> str:
    """Plain-text table of :func:`sq_table` rows."""
    head = (f"{'m':>2} {'d':>2} {'D':>5} {'C(d-1,m-1)':>10} {'max|rho|':>9} {'tau':>7} "
            f"{'SQdim':>5} "
            f"{'E||dF||^2':>13} {'mom.deg':>7} {'q>(D-1)t^2':>10} {'tau(d^2 q)':>10}")
    lines = [head]
    for r in rows:
        sep = f"{r['sep_min']:.6g}..{r['sep_max']:.6g}" if r["D"] > 1 else "-"
        md = r.get("moment_degree")
        lines.append(
            f"{r['m']:>2} {r['d']:>2} {r['D']:>5} {r['binom']:>10} {r['max_offdiag_corr']:>9.1e} "
            f"{r['tau']:>7.3f} {r['sq_dim']:>5} {sep:>13} {('-' if md is None else md):>7} "
            f"{r['queries_at_tau']:>10.3g} {min(r['tau_for_d2_queries'], 1.0):>10.3g}")
    return "\n".join(lines)
