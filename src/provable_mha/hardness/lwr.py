r"""A learning-with-rounding style family from the general gadget (this project's construction).

**Construction.** Modulus :math:`q = 2^L`, rounding modulus :math:`p`, secret
:math:`s\in\mathbb{Z}_q^n`. A public vector :math:`a \in \mathbb{Z}_q^n` is written in binary,
:math:`a_j = \sum_{t<L} 2^t u_{jt}`, and the bits sit in coordinates :math:`1..nL` of the token
product :math:`z = x_0\odot x_1` (:math:`u = [z = -1]`); :math:`d = 1 + nL`. With the integer
weights :math:`w_{jt} = (2^t s_j) \bmod q` the weighted count is
:math:`T = \sum w_{jt}u_{jt} \equiv \langle a, s\rangle \pmod q`, so

.. math::

    F_s(X) = A(X) + B(X)\,h\big(\lfloor (p/q)(T \bmod q)\rceil \bmod p\big),
    \qquad h(v) = \cos(2\pi v/p),

is realized exactly by the general gadget with :math:`R + 1` heads,
:math:`R = \max_s\sum w_{jt} \le nL(q-1)`, one gadget shared by the family (members differ only
in :math:`\mathrm{diag}(w)`). For :math:`q = p = 2` the label is :math:`\chi_{\mathrm{supp}(s)}`:
the parity family of every size.

**Reduction sketch and assumption** (``docs/hardness.md`` §4): an LWR sample :math:`(a, b)`
becomes an example by drawing :math:`x_0` uniform, setting :math:`x_1 = x_0\odot z(a)` on
coordinates :math:`1..nL`, and labelling with :math:`A + B\,h(b)`; uniform :math:`b` gives
labels no hypothesis predicts (squared error at least :math:`4\,\mathrm{Var}\,h(b)`). A learner
reaching squared error below half that gap decides LWR. :mod:`.lwr_attack` runs this pipeline
end to end at toy size and also recovers the secret from the learned layer.

**What this does and does not give.** *Assumption*: decision LWR with :math:`q = 2^L` is hard
for time polynomial in :math:`n`. That is only believed for :math:`q` growing with :math:`n`
(for constant :math:`q` the rounded label is a low-degree polynomial over GF(2) of the bits of
:math:`a`, e.g. :math:`q = 4, p = 2`: :math:`v = T_0 \oplus T_1` has degree at most 2, solvable by
linearization). The layer has :math:`m = R + 1` heads with :math:`R` between
:math:`n(q-1)` and :math:`nL(q-1)`, i.e. :math:`m` grows *linearly in q*, so the assumption rules
out learners running in time :math:`\mathrm{poly}(d, m)` with :math:`d = 1 + nL`; it does not
by itself give :math:`\exp(\Omega(m))`. The precise parameter translation (:math:`q/p`, sample
bounds) has not been worked out here. The gadget's coefficients grow about 4–5x per head, so the
layer's parameter norm grows exponentially in :math:`m`.

**Numerics.** The gadget equals the closed form to float64 precision only for small :math:`R`
(``n = 1, q = 4``: 6 heads; ``q = 2``: up to about 11 heads); beyond that the family is analysed
through its closed form, which is exact by construction.
"""

from __future__ import annotations

import itertools

import numpy as np

from .._validation import check_positive_int
from ..model import MultiHeadAttention
from .gadget import Gadget, solve_general_gadget
from .parity import weighted_count_instance

__all__ = ["lwr_label_table", "lwr_weights", "lwr_range", "lwr_gadget", "lwr_instance",
           "lwr_family", "lwr_closed_form_parts", "lwr_sq_dimension"]


def _check_params(n: int, q: int, p: int) -> tuple[int, int, int, int]:
    n = check_positive_int(n, "n")
    q = check_positive_int(q, "q", minimum=2)
    p = check_positive_int(p, "p", minimum=2)
    if q & (q - 1):
        raise ValueError(f"q must be a power of two (binary public vectors are uniform), got {q}")
    if p > q:
        raise ValueError(f"p must be <= q, got p = {p}, q = {q}")
    return n, q, p, q.bit_length() - 1


def lwr_label_table(R: int, q: int, p: int) -> np.ndarray:
    r"""Label table :math:`g(T) = \cos(2\pi\,v/p)` for ``T = 0..R``.

    :math:`v = \lfloor p\,(T\bmod q)/q + 1/2\rfloor \bmod p` is the rounded inner product.
    """
    T = np.arange(check_positive_int(R, "R", minimum=0) + 1)
    v = np.floor(p * (T % q) / q + 0.5).astype(np.int64) % p
    return np.cos(2.0 * np.pi * v / p)


def lwr_weights(secret, q: int) -> np.ndarray:
    r"""Weights :math:`w_{jt} = (2^t s_j) \bmod q` at coordinate :math:`1 + jL + t`; w[0] = 0."""
    s = np.asarray(secret)
    if s.ndim != 1 or s.size < 1 or not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"secret must be a 1-D integer vector, got {secret!r}")
    _, q, _, L = _check_params(s.size, q, 2)
    if np.any(s < 0) or np.any(s >= q):
        raise ValueError(f"secret entries must lie in 0..q-1 = 0..{q - 1}, got {s.tolist()}")
    w = (s[:, None] * (2 ** np.arange(L))[None, :]) % q
    return np.concatenate([[0], w.ravel()]).astype(np.float64)


def lwr_range(n: int, q: int) -> int:
    r"""Shared range :math:`R = \max_s \sum_{j,t} (2^t s_j \bmod q)` (heads :math:`R+1`)."""
    n, q, _, L = _check_params(n, q, 2)
    per = max(sum((2**t * s) % q for t in range(L)) for s in range(q))
    return n * per


def lwr_gadget(n: int, q: int, p: int, a_max: float = 40.0) -> Gadget:
    """The one gadget shared by the family: :func:`lwr_label_table` on ``0..lwr_range(n, q)``."""
    n, q, p, _ = _check_params(n, q, p)
    return solve_general_gadget(lwr_label_table(lwr_range(n, q), q, p), a_max=a_max)


def lwr_instance(secret, q: int, p: int, a_max: float = 40.0) -> MultiHeadAttention:
    r"""The layer :math:`F_s` (module docstring), ``d = 1 + n log2 q``, ``lwr_range + 1`` heads."""
    n = len(np.asarray(secret).ravel())
    _check_params(n, q, p)
    return weighted_count_instance(lwr_weights(secret, q), lwr_gadget(n, q, p, a_max))


def lwr_family(n: int, q: int, p: int, a_max: float = 40.0) -> list[tuple[tuple[int, ...],
                                                                         MultiHeadAttention]]:
    """All :math:`q^n` members ``(secret, layer)``, sharing one gadget."""
    n, q, p, _ = _check_params(n, q, p)
    gadget = lwr_gadget(n, q, p, a_max)
    return [(s, weighted_count_instance(lwr_weights(np.array(s), q), gadget))
            for s in itertools.product(range(q), repeat=n)]


def lwr_closed_form_parts(n: int, q: int, p: int) -> tuple[list[tuple[int, ...]], np.ndarray]:
    r"""S-dependent parts :math:`G_s = B\,g(T_s)` on the reduced cube :math:`(x_{00}, x_{10}, u)`.

    Returns the secrets and ``G`` of shape ``(q^n, 2^{nL+2}, 2)`` (rows 0 and 1 of output column
    0), exact expectations being uniform averages over axis 1. The rest of :math:`X` does not
    enter :math:`F_s`, and :math:`(x_{00}, x_{10}, u)` is uniform when :math:`X` is.
    """
    n, q, p, L = _check_params(n, q, p)
    r = n * L + 2
    if r > 20:
        raise ValueError(f"enumeration over 2^{r} points is too large; use n * log2(q) <= 18")
    bits = (np.arange(2**r)[:, None] >> np.arange(r)) & 1
    B = (1.0 - 2.0 * bits[:, 0]) - (1.0 - 2.0 * bits[:, 1])
    g = lwr_label_table(lwr_range(n, q), q, p)
    secrets = list(itertools.product(range(q), repeat=n))
    G = np.empty((len(secrets), 2**r, 2))
    for i, s in enumerate(secrets):
        T = bits[:, 2:] @ lwr_weights(np.array(s), q)[1:].astype(np.int64)
        G[i, :, 0] = B * g[T]
        G[i, :, 1] = -G[i, :, 0]
    return secrets, G


def lwr_sq_dimension(n: int, q: int, p: int, tau: float) -> tuple[int, int]:
    r"""SQ dimension of the LWR family at tolerance ``tau`` (max clique) and the family size.

    Unlike parity, the S-dependent parts are not all orthogonal (e.g. :math:`s` and :math:`-s`,
    or :math:`s = 0`), so the clique is a real subset.
    """
    from .sq import correlation_matrix, sq_dimension

    secrets, G = lwr_closed_form_parts(n, q, p)
    size, _ = sq_dimension(correlation_matrix(G), tau)
    return size, len(secrets)
