r"""The LWR-style reduction of :mod:`.lwr`, run end to end at toy size (this project's own).

The pipeline (``docs/hardness.md`` §4) is:

1. **LWR oracle** (:func:`lwr_samples`): a planted secret :math:`s\in\mathbb{Z}_q^n` and samples
   :math:`(a, b)`, :math:`a` uniform in :math:`\mathbb{Z}_q^n`,
   :math:`b = \lfloor (p/q)(\langle a, s\rangle \bmod q)\rceil \bmod p` (rounding half up, the
   convention of :func:`~provable_mha.hardness.lwr.lwr_label_table`).
2. **Sample map** (:func:`lwr_examples`): :math:`x_0` uniform on :math:`\{\pm1\}^d`,
   :math:`x_{10}` uniform, :math:`x_1 = x_0\odot z(a)` on coordinates :math:`1..nL`, where
   :math:`z = 1 - 2u` and :math:`u_{jt}` is bit :math:`t` of :math:`a_j` (coordinate
   :math:`1 + jL + t`); label :math:`Y = A(X) + B(X)\cos(2\pi b/p)`. Under the oracle these are
   exact examples of :func:`~provable_mha.hardness.lwr.lwr_instance` (tested against the layer's
   forward pass), with :math:`X` uniform because :math:`q` is a power of two.
3. **Learning**: any learner ``learner(X, Y, m, rng=...)``; by default :func:`provable_mha.learn`.
4. **Secret recovery** (:func:`recover_lwr_secret`) from the learned layer :math:`H` *as a black
   box*: for each coordinate :math:`j` and :math:`c\in\mathbb{Z}_q` it evaluates :math:`H` on
   ``masks`` inputs encoding :math:`a = c\,e_j` with :math:`B_{00} \ne 0`, decodes
   :math:`\hat h = (H_{00}-A_{00})/B_{00}` (and the mirror entry :math:`(1,0)`), averages, and sets
   :math:`s_j = \arg\min_\sigma\sum_c(\hat h_c - \cos(2\pi v_\sigma(c)/p))^2` with
   :math:`v_\sigma(c) = \lfloor (p/q)(c\sigma \bmod q)\rceil \bmod p` (:func:`lwr_codebook`).
   That is :math:`nq\cdot\texttt{masks}` forward passes and :math:`O(nq^2)` arithmetic. It is
   exact when :math:`H` is within half the codebook spacing of the truth on the queried inputs
   (for :math:`p = 2`: :math:`|\hat h - h| < 1`); a learner with small *average* error need not be
   accurate on those particular inputs, which is an assumption of this demonstration, not a proof.

**Identifiability.** Recovery needs the codebook rows :math:`\sigma\mapsto(\cos(2\pi
v_\sigma(c)/p))_c` to be distinct. They are for :math:`p = 2`; for :math:`p = q` the label
:math:`\cos(2\pi\langle a,s\rangle/q)` is even in :math:`s`, so :math:`s` and :math:`-s` give the
*same layer* (e.g. :math:`(n,q,p)=(1,4,4)`: :math:`F_1 = F_3`) and no learner can separate them;
:func:`lwr_codebook` raises in such cases.

**Sizes.** The layer needs :math:`R + 1` heads, :math:`R = n\max_\sigma\sum_t(2^t\sigma\bmod q)`,
and the gadget is solvable in float64 only up to about 11 heads (:mod:`.gadget`). So the only
realizable cases are :math:`(n, q, p) = (1, 4, 2)` (6 heads, :math:`d = 3`: the one case with real
rounding, :math:`p < q`, and only 4 secrets) and :math:`q = p = 2` with :math:`n \le 10` (no
rounding: LWR degenerates to noiseless parity, which Gaussian elimination solves,
:mod:`.gf2`). These sizes demonstrate that the reduction's maps are correct and compose; they
say nothing about the hardness of LWR.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._validation import as_generator, check_array, check_positive_int
from .lwr import _check_params, lwr_instance
from .parity import closed_form_parts

__all__ = ["lwr_samples", "lwr_examples", "lwr_codebook", "recover_lwr_secret", "LWRAttack",
           "lwr_attack_demo", "format_lwr_attack"]


def _check_secret(secret, q: int) -> np.ndarray:
    s = np.asarray(secret)
    if s.ndim != 1 or s.size < 1 or not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"secret must be a 1-D integer vector, got {secret!r}")
    if np.any(s < 0) or np.any(s >= q):
        raise ValueError(f"secret entries must lie in 0..q-1 = 0..{q - 1}, got {s.tolist()}")
    return s.astype(np.int64)


def _round(T, q: int, p: int) -> np.ndarray:
    """:math:`\\lfloor (p/q)(T \\bmod q) + 1/2\\rfloor \\bmod p`, as in ``lwr_label_table``."""
    return np.floor(p * (np.asarray(T) % q) / q + 0.5).astype(np.int64) % p


def lwr_samples(secret, q: int, p: int, count: int, rng=None) -> tuple[np.ndarray, np.ndarray]:
    r"""``count`` LWR samples :math:`(a, b)`: :math:`a` uniform, :math:`b = \lfloor (p/q)\langle a, s
    \rangle\rceil \bmod p`.

    Returns ``a`` of shape ``(count, n)`` and ``b`` of shape ``(count,)``, integer arrays.
    """
    n, q, p, _ = _check_params(len(np.asarray(secret).ravel()), q, p)
    s = _check_secret(secret, q)
    count = check_positive_int(count, "count")
    a = as_generator(rng).integers(0, q, size=(count, n))
    return a, _round(a @ s, q, p)


def _encode(a: np.ndarray, q: int, x0: np.ndarray, x10: np.ndarray) -> np.ndarray:
    """Inputs :math:`X` with :math:`x_1 = x_0\\odot z(a)` on coordinates 1..nL, given x0, x10."""
    L = q.bit_length() - 1
    u = (a[:, :, None] >> np.arange(L)) & 1  # (count, n, L): bit t of a_j at 1 + jL + t
    X = np.empty((a.shape[0], 2, x0.shape[1]))
    X[:, 0] = x0
    X[:, 1, 0] = x10
    X[:, 1, 1:] = x0[:, 1:] * (1.0 - 2.0 * u.reshape(a.shape[0], -1))
    return X


def lwr_examples(a, b, q: int, p: int, rng=None) -> tuple[np.ndarray, np.ndarray]:
    r"""The reduction's sample map (module docstring, step 2): LWR samples to layer examples.

    Parameters
    ----------
    a : array_like of int, shape (count, n)
        Public vectors in :math:`\mathbb{Z}_q^n`.
    b : array_like of int, shape (count,)
        Labels in :math:`\mathbb{Z}_p` (from :func:`lwr_samples`, or uniform for the alternative).
    q, p : int
        Moduli (``q`` a power of two, ``2 <= p <= q``).

    Returns
    -------
    X, Y : ndarray, shape (count, 2, 1 + n log2 q)
        :math:`Y = A(X) + B(X)\cos(2\pi b/p)`.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"a must be a 2-D integer array (count, n), got shape {a.shape}, "
                         f"dtype {a.dtype}")
    n, q, p, L = _check_params(a.shape[1], q, p)
    if b.shape != (a.shape[0],) or not np.issubdtype(b.dtype, np.integer):
        raise ValueError(f"b must be an integer array of shape ({a.shape[0]},), got {b.shape}")
    if np.any(a < 0) or np.any(a >= q) or np.any(b < 0) or np.any(b >= p):
        raise ValueError(f"a must lie in 0..{q - 1} and b in 0..{p - 1}")
    gen = as_generator(rng)
    d = 1 + n * L
    x0 = 1.0 - 2.0 * gen.integers(0, 2, size=(a.shape[0], d))
    X = _encode(a.astype(np.int64), q, x0, 1.0 - 2.0 * gen.integers(0, 2, size=a.shape[0]))
    A, B = closed_form_parts(X)
    return X, A + B * np.cos(2.0 * np.pi * b / p)[:, None, None]


def lwr_codebook(q: int, p: int) -> np.ndarray:
    r"""Rows :math:`\sigma`, columns :math:`c`: :math:`\cos(2\pi v_\sigma(c)/p)`, shape ``(q, q)``.

    :math:`v_\sigma(c) = \lfloor (p/q)(c\sigma\bmod q)\rceil\bmod p` is the LWR label of
    :math:`a = c\,e_j` when :math:`s_j = \sigma`.

    Raises
    ------
    ValueError
        If two rows coincide: those secret values give identical labels on every such query
        (e.g. ``q = p = 4``: :math:`\sigma` and :math:`-\sigma`), so they cannot be recovered.
    """
    _, q, p, _ = _check_params(1, q, p)
    c = np.arange(q)
    book = np.cos(2.0 * np.pi * _round(np.outer(c, c), q, p) / p)
    for i in range(q):
        for j in range(i):
            if np.allclose(book[i], book[j], atol=1e-12):
                raise ValueError(f"q = {q}, p = {p}: secret values {j} and {i} give the same label "
                                 f"cos(2 pi v / p) on every query, so they are not identifiable")
    return book


def recover_lwr_secret(hypothesis, n: int, q: int, p: int, masks: int = 8,
                       rng=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Recover :math:`s` from a layer (or any callable on ``(N, 2, d)``) by chosen queries.

    Module docstring, step 4: :math:`nq\cdot` ``masks`` forward passes of ``hypothesis``.

    Parameters
    ----------
    hypothesis : callable or object with ``.layer``
        Maps inputs ``(N, 2, 1 + n log2 q)`` to outputs of the same shape.
    n, q, p : int
        LWR dimension and moduli (``(q, p)`` must pass :func:`lwr_codebook`).
    masks : int
        Random inputs per query :math:`a = c\,e_j` whose decoded labels are averaged.
    rng : int or Generator, optional
        Draws the masks.

    Returns
    -------
    secret : ndarray of int, shape (n,)
    scores : ndarray, shape (n, q)
        ``scores[j, sigma]``: mean squared distance between the decoded labels of coordinate
        ``j`` and codebook row ``sigma`` (0 for an exact hypothesis at the true value).
    """
    n, q, p, L = _check_params(n, q, p)
    masks = check_positive_int(masks, "masks")
    layer = getattr(hypothesis, "layer", hypothesis)
    if not callable(layer):
        raise ValueError("hypothesis must be callable or carry a callable .layer")
    book = lwr_codebook(q, p)
    gen = as_generator(rng)
    d = 1 + n * L
    a = np.zeros((n, q, masks, n), dtype=np.int64)
    for j in range(n):
        a[j, :, :, j] = np.arange(q)[:, None]
    a = a.reshape(-1, n)
    x0 = 1.0 - 2.0 * gen.integers(0, 2, size=(a.shape[0], d))
    X = _encode(a, q, x0, -x0[:, 0])  # x10 = -x00, so B00 = 2 x00 != 0
    A, B = closed_form_parts(X)
    H = check_array(layer(X), "hypothesis(X)", ndim=3)
    if H.shape != X.shape:
        raise ValueError(f"hypothesis returned shape {H.shape}, expected {X.shape}")
    h_hat = 0.5 * ((H[:, 0, 0] - A[:, 0, 0]) / B[:, 0, 0] + (H[:, 1, 0] - A[:, 1, 0]) / B[:, 1, 0])
    h_hat = h_hat.reshape(n, q, masks).mean(axis=2)  # (n, c)
    scores = ((h_hat[:, None, :] - book[None]) ** 2).mean(axis=2)  # (n, sigma)
    return scores.argmin(axis=1).astype(np.int64), scores


@dataclass(frozen=True)
class LWRAttack:
    """Outcome of :func:`lwr_attack_demo` (all numbers measured in that run)."""

    n: int
    q: int
    p: int
    d: int
    heads: int
    samples: int  # LWR samples turned into training examples
    secret: tuple[int, ...]  # planted
    recovered: tuple[int, ...]  # from the learned layer by recover_lwr_secret
    success: bool  # recovered == secret
    learner: str
    certified: bool | None  # the learner's own held-out certificate (None: not a LearnResult)
    certificate: str  # its statement, or ""
    train_relative_error: float
    cube_max_error: float  # max |H - F_s| over all 4^d inputs (nan when d > 8)
    mse_lwr: float  # E||H - Y||^2 on fresh examples from the LWR oracle
    mse_uniform: float  # ... from the uniform alternative (b uniform in Z_p)
    uniform_floor: float  # 4 Var(cos(2 pi b / p)): lower bound on mse_uniform in expectation
    seconds: float  # learner wall time


def _default_learner(X, Y, m, rng=None):
    import provable_mha

    return provable_mha.learn(X, Y, m, rng=rng, strict=False)


def lwr_attack_demo(n: int = 1, q: int = 4, p: int = 2, samples: int = 240, secret=None,
                    seed: int = 0, learner: Callable | None = None, masks: int = 8,
                    n_test: int = 200) -> LWRAttack:
    r"""Plant an LWR secret, learn the layer from converted samples, recover the secret from it.

    Steps 1–4 of the module docstring; the learned layer is only used as a black box in
    recovery. Besides recovery it reports the decision statistic of the reduction: the learned
    layer's mean squared error on fresh examples from the LWR oracle (near 0 for a good learner)
    and from the uniform alternative (at least ``uniform_floor`` in expectation for *any*
    hypothesis, ``docs/hardness.md`` §4).

    Parameters
    ----------
    n, q, p : int
        LWR dimension and moduli; see the module docstring for the sizes that can be built.
    samples : int
        LWR samples (= training examples; :func:`provable_mha.learn` holds out 20%).
    secret : array_like of int, optional
        Planted secret; default uniform in :math:`\mathbb{Z}_q^n` from ``seed``.
    seed : int
        Seeds the secret, the samples, the learner and the recovery queries.
    learner : callable, optional
        ``learner(X, Y, m, rng=seed)`` returning a layer or an object with ``.layer``. Default:
        :func:`provable_mha.learn` with ``strict=False``: at these sizes the training sample
        covers (almost) all :math:`4^d` inputs, so its held-out certificate is usually *vacuous*
        (no unseen held-out input); the certificate is reported, and the learned layer is
        compared with the planted one on the whole cube instead (``cube_max_error``).
    masks, n_test : int
        Queries per :math:`(j, c)` in recovery; fresh examples for each decision statistic.
    """
    from .sq import MAX_EXACT_D, boolean_cube

    n, q, p, L = _check_params(n, q, p)
    samples, masks = check_positive_int(samples, "samples"), check_positive_int(masks, "masks")
    n_test = check_positive_int(n_test, "n_test")
    lwr_codebook(q, p)  # refuse unidentifiable (q, p) before any work
    gen = as_generator(seed)
    s = gen.integers(0, q, n) if secret is None else _check_secret(secret, q)
    if s.size != n:
        raise ValueError(f"secret has {s.size} entries but n = {n}")
    truth = lwr_instance(s, q, p)
    X, Y = lwr_examples(*lwr_samples(s, q, p, samples, gen), q, p, gen)
    fit = learner or _default_learner
    if not callable(fit):
        raise ValueError("learner must be callable")
    name = "pm.learn(strict=False)" if learner is None else getattr(fit, "__name__", type(fit).__name__)
    t0 = time.perf_counter()
    res = fit(X, Y, truth.m, rng=seed)
    seconds = time.perf_counter() - t0
    H = getattr(res, "layer", res)
    cert = getattr(res, "certificate", None)
    recovered, _ = recover_lwr_secret(H, n, q, p, masks=masks, rng=gen)
    a_t, b_t = lwr_samples(s, q, p, n_test, gen)
    Xl, Yl = lwr_examples(a_t, b_t, q, p, gen)
    Xu, Yu = lwr_examples(a_t, gen.integers(0, p, n_test), q, p, gen)
    h = np.cos(2.0 * np.pi * np.arange(p) / p)
    cube = float("nan")
    if truth.d <= MAX_EXACT_D:
        Xc = boolean_cube(truth.d)
        cube = float(np.abs(H(Xc) - truth(Xc)).max())
    return LWRAttack(
        n=n, q=q, p=p, d=truth.d, heads=truth.m, samples=samples, secret=tuple(int(v) for v in s),
        recovered=tuple(int(v) for v in recovered), success=bool(np.array_equal(recovered, s)),
        learner=name,
        certified=None if cert is None else bool(cert.certified),
        certificate="" if cert is None else str(cert.statement),
        train_relative_error=float(np.linalg.norm(H(X) - Y) / np.linalg.norm(Y)),
        cube_max_error=cube,
        mse_lwr=float(np.mean(np.sum((H(Xl) - Yl) ** 2, axis=(1, 2)))),
        mse_uniform=float(np.mean(np.sum((H(Xu) - Yu) ** 2, axis=(1, 2)))),
        uniform_floor=float(4.0 * h.var()), seconds=seconds)


def format_lwr_attack(rows) -> str:
    """Plain-text table of :class:`LWRAttack` results.

    ``cert`` is the learner's own held-out certificate: ``yes``, ``vac`` (vacuous: too few unseen
    held-out inputs, the usual case at these sizes), ``no``, or ``-`` (not a LearnResult).
    """
    lines = [f"{'n':>2} {'q':>2} {'p':>2} {'d':>2} {'heads':>5} {'N':>5} {'secret':>10} "
             f"{'recovered':>10} {'ok':>3} {'cert':>4} {'cube err':>9} {'mse LWR':>9} "
             f"{'mse unif':>9} {'floor':>5} {'sec':>6}"]
    for r in rows:
        cert = "-" if r.certified is None else ("yes" if r.certified else
                                                 "vac" if r.certificate.startswith("VACUOUS") else "no")
        lines.append(f"{r.n:>2} {r.q:>2} {r.p:>2} {r.d:>2} {r.heads:>5} {r.samples:>5} "
                     f"{str(r.secret):>10} {str(r.recovered):>10} {'yes' if r.success else 'NO':>3} "
                     f"{cert:>4} {r.cube_max_error:9.1e} {r.mse_lwr:9.1e} {r.mse_uniform:9.2f} "
                     f"{r.uniform_floor:5.2f} {r.seconds:6.2f}")
    return "\n".join(lines)
