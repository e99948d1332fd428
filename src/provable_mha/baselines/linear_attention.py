r"""A convex learner for multi-head *linear* attention, and a linear-vs-softmax comparison.

After Yau et al., *Learning Linear Attention in Polynomial Time* (arXiv 2410.10101), whose
abstract states the idea: linear attention is a linear predictor in an expanded feature space,
and a training set can be checked to make every empirical risk minimiser equivalent to the
generating layer. The lifted system below and its certificate are this project's own
derivation for the layer of :mod:`provable_mha.linear` (``docs/linear_attention.md``):

1. **Convex step.** With the design :math:`\Phi` of :func:`~provable_mha.linear.lifted_features`
   (rows :math:`x_{na}\otimes c(X_n)`, :math:`nk\times D`, :math:`D=dJ`) solve
   :math:`\min_\beta\|\Phi\beta - Y\|_F^2` over :math:`\beta\in\mathbb{R}^{D\times d}` (closed form,
   minimum-norm solution from the SVD :math:`\Phi=USV^\top`).
2. **Certificate.** If :math:`\Phi` has full column rank :math:`D` (every singular value above
   the round-off floor and condition number at most :data:`~provable_mha.learner.policy.COND_MAX`)
   the minimiser is unique; with labels from *any* linear layer it equals that layer's
   :math:`\beta`, so the fit agrees with the generator on the whole input domain.
3. **Factorisation.** Find m heads with :math:`\mathrm{lift}(\Theta,W)=\hat\beta` by
   Levenberg–Marquardt (:func:`provable_mha.learner.lsq.levenberg_marquardt`) on the training
   loss written in lifted coordinates, :math:`\|S V^\top(\mathrm{lift}(\Theta,W)-\hat\beta)\|_F`,
   from random starts. Non-convex; the exit test (relative residual below
   :data:`~provable_mha.learner.policy.EXACT_FIT_REL`) is checked, not assumed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .._validation import as_generator, check_array, check_boolean, check_positive_int
from ..learner import policy
from ..learner.lsq import DenseJacobian, levenberg_marquardt
from ..linear import INPUTS, LinearMultiHeadAttention, lift, lifted_dimension, lifted_features, pair_basis

__all__ = ["DesignCertificate", "LinearLearnResult", "learn_linear", "min_examples_linear",
           "compare_linear_softmax"]


def min_examples_linear(d: int, k: int, inputs: str = "boolean") -> int:
    r"""Examples below which the design cannot have full rank: :math:`\lceil D/\min(k,d)\rceil`.

    The k rows of one example are :math:`x_a\otimes c(X)`, which span at most
    :math:`\operatorname{rank}X\le\min(k,d)` dimensions. Necessary, not sufficient.
    """
    d, k = check_positive_int(d, "d"), check_positive_int(k, "k")
    return math.ceil(lifted_dimension(d, inputs) / min(k, d))


@dataclass(frozen=True)
class DesignCertificate:
    """Identifiability of the lifted coefficients from the training inputs (``docs/linear_attention.md``).

    Attributes
    ----------
    domain : str
        ``"boolean"`` ({±1}^{k×d}) or ``"any"`` (R^{k×d}): where the statement holds.
    n_rows, n_features : int
        Design shape :math:`nk\\times D`.
    rank : int
        Numerical rank (singular values above ``max(nk, D) * eps * sigma_max``).
    sigma_min, sigma_max : float
        Smallest and largest singular values of the design (``sigma_min = 0`` when ``nk < D``).
    certified : bool
        Full column rank and condition number at most ``COND_MAX``: the least-squares minimiser
        is unique, so noiseless labels of any linear layer determine its function on ``domain``.
    """

    domain: str
    n_rows: int
    n_features: int
    rank: int
    sigma_min: float
    sigma_max: float
    certified: bool

    @property
    def condition(self) -> float:
        """:math:`\\sigma_{\\max}/\\sigma_{\\min}` (inf when rank-deficient)."""
        return self.sigma_max / self.sigma_min if self.sigma_min > 0 else math.inf


@dataclass
class LinearLearnResult:
    """Output of :func:`learn_linear`.

    Attributes
    ----------
    layer : LinearMultiHeadAttention
        The m-head factorisation (best start).
    lifted : ndarray, shape (d, J, d)
        The least-squares lifted coefficients :math:`\\hat\\beta` (the convex step's output).
    certificate : DesignCertificate
    lifted_train_error, train_error : float
        Relative training residual :math:`\\|\\hat F(X)-Y\\|_F/\\|Y\\|_F` of the lifted predictor
        and of ``layer``.
    factor_residual : float
        :math:`\\|SV^\\top(\\mathrm{lift}(\\hat\\Theta,\\hat W)-\\hat\\beta)\\|_F/\\|SV^\\top\\hat\\beta\\|_F`.
    factor_exact : bool
        ``factor_residual <= EXACT_FIT_REL``: the m heads reproduce :math:`\\hat\\beta`.
    restarts, seconds, history
        Starts run, wall time, final ``factor_residual`` of each start.
    """

    layer: LinearMultiHeadAttention
    lifted: np.ndarray
    certificate: DesignCertificate
    lifted_train_error: float
    train_error: float
    factor_residual: float
    factor_exact: bool
    restarts: int
    seconds: float
    history: list[float] = field(default_factory=list)

    @property
    def lifted_exact(self) -> bool:
        """Certified design and a noiseless fit: the lifted predictor equals the generator on the domain."""
        return self.certificate.certified and self.lifted_train_error <= policy.EXACT_FIT_REL

    @property
    def exact(self) -> bool:
        """:attr:`lifted_exact` and an exact factorisation: ``layer`` equals the generator on the domain."""
        return self.lifted_exact and self.factor_exact

    def predict_lifted(self, X) -> np.ndarray:
        """The lifted (convex-step) predictor :math:`\\Phi(X)\\hat\\beta`, shape ``(n, k, d)``."""
        Xb = check_array(X, "X", ndim=3)
        d = self.lifted.shape[0]
        if Xb.shape[2] != d:
            raise ValueError(f"X has token dimension {Xb.shape[2]}, but the fit has d = {d}")
        return (lifted_features(Xb, self.certificate.domain) @ self.lifted.reshape(-1, d)).reshape(Xb.shape)

    def summary(self) -> str:
        """One line: design shape, rank, sigma_min, condition, certificate, fit and factorisation."""
        c = self.certificate
        return (f"linear attention, m={self.layer.m}, d={self.layer.d}: design {c.n_rows}x{c.n_features} rank "
                f"{c.rank}, sigma_min {c.sigma_min:.2e}, cond {c.condition:.2e}, certified={c.certified}; "
                f"lifted train error {self.lifted_train_error:.1e}; {self.layer.m}-head factor residual "
                f"{self.factor_residual:.1e} (exact={self.factor_exact}, {self.restarts} starts, "
                f"{self.seconds:.2f} s)")


def _validate(X, Y, m, inputs):
    if inputs not in INPUTS:
        raise ValueError(f"inputs must be one of {INPUTS}, got {inputs!r}")
    X = check_boolean(X, "X") if inputs == "boolean" else check_array(X, "X")
    Y = check_array(Y, "Y")
    if X.ndim != 3 or X.shape[1] < 1 or X.shape[2] < 1:
        raise ValueError(f"X must have shape (n, k, d), got {X.shape}")
    if Y.shape != X.shape:
        raise ValueError(f"Y must have the same shape as X {X.shape}, got {Y.shape}")
    if not np.any(Y):
        raise ValueError("every label is 0: the zero layer fits exactly and nothing is learnable")
    return X, Y, check_positive_int(m, "m")


def _convex_step(X, Y, inputs):
    """Minimum-norm least squares over the lifted coefficients, and the design certificate."""
    n, k, d = X.shape
    Phi = lifted_features(X, inputs)
    U, s, Vt = np.linalg.svd(Phi, full_matrices=False)
    tol = max(Phi.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    r = int(np.sum(s > tol))
    D = Phi.shape[1]
    beta = Vt[:r].T @ ((U[:, :r].T @ Y.reshape(n * k, d)) / s[:r, None])
    sigma_min = float(s[-1]) if Phi.shape[0] >= D else 0.0
    cert = DesignCertificate(inputs, n * k, D, r, sigma_min, float(s[0]),
                             bool(r == D and sigma_min * policy.COND_MAX >= s[0]))
    L = s[:r, None] * Vt[:r]  # ||Phi b - Y||^2 = ||L (b - beta)||^2 + const
    return beta.reshape(d, -1, d), L, Phi, cert


def _factor_problem(L, beta, m, inputs):
    """Residual and Jacobian of (Θ, W) -> L (lift(Θ, W) - beta), flattened (docs: "Factorisation")."""
    d, J, _ = beta.shape
    P = pair_basis(d, inputs)
    L3 = L.reshape(-1, d, J)
    target = L @ beta.reshape(d * J, d)
    half = m * d * d

    def residual(x):
        th, w = x[:half].reshape(m, d, d), x[half:].reshape(m, d, d)
        return (L @ lift(th, w, inputs).reshape(d * J, d) - target).ravel()

    def linearize(x, r):
        th, w = x[:half].reshape(m, d, d), x[half:].reshape(m, d, d)
        PW = np.einsum("jqr,ire->ijqe", P, w, optimize=True)
        ThP = np.einsum("jqr,ipq->ipjr", P, th, optimize=True)
        J_th = np.einsum("spj,ijqe->seipq", L3, PW, optimize=True).reshape(-1, half)
        K = np.einsum("spj,ipjr->sir", L3, ThP, optimize=True)
        J_w = np.einsum("sir,eE->seirE", K, np.eye(d)).reshape(-1, half)
        return DenseJacobian(np.hstack([J_th, J_w]), r)

    return residual, linearize, float(np.linalg.norm(target))


def learn_linear(X, Y, m: int, *, inputs: str = "boolean", rng=None, restarts: int = 5,
                 max_iter: int = 200) -> LinearLearnResult:
    r"""Learn an m-head linear attention layer: lifted least squares, certificate, factorisation.

    Parameters
    ----------
    X, Y : array_like, shape (n, k, d)
        Inputs (entries in {±1} unless ``inputs="any"``) and labels.
    m : int
        Heads of the factorisation (the convex step does not use it).
    inputs : {"boolean", "any"}
        Input domain; selects the pair basis (:func:`~provable_mha.linear.pair_basis`) and is the
        domain of the certificate's statement. Boolean data with ``"any"`` is never certified
        (the diagonal features coincide).
    rng : int or Generator, optional
        Seed of the factorisation starts :math:`\Theta_i, W_i\sim N(0, 1/d)` entrywise.
    restarts : int
        Maximum starts; the search stops at the first exact factorisation.
    max_iter : int
        Levenberg–Marquardt iterations per start.

    Returns
    -------
    LinearLearnResult

    Raises
    ------
    ValueError
        Malformed input (shapes, NaN/inf, non-Boolean entries with ``inputs="boolean"``, m < 1,
        restarts or max_iter < 1, all-zero labels).
    """
    t0 = time.perf_counter()
    X, Y, m = _validate(X, Y, m, inputs)
    restarts = check_positive_int(restarts, "restarts")
    max_iter = check_positive_int(max_iter, "max_iter")
    gen = as_generator(rng)
    n, k, d = X.shape
    beta, L, Phi, cert = _convex_step(X, Y, inputs)
    residual, linearize, norm = _factor_problem(L, beta, m, inputs)
    best, best_rel, history = None, math.inf, []
    ftol = 0.5 * (policy.LM_POLISH * policy.EXACT_FIT_REL * norm) ** 2
    for _ in range(restarts):
        x0 = gen.standard_normal(2 * m * d * d) / np.sqrt(d)
        sol = levenberg_marquardt(residual, linearize, x0, max_iter=max_iter, ftol=ftol,
                                  stall_window=policy.LM_STALL_WINDOW, stall_ratio=policy.LM_STALL_RATIO)
        rel = float(np.linalg.norm(sol.r) / norm) if norm > 0 else 0.0
        history.append(rel)
        if rel < best_rel:
            best, best_rel = sol.x, rel
        if best_rel <= policy.EXACT_FIT_REL:
            break
    half = m * d * d
    layer = LinearMultiHeadAttention(best[:half].reshape(m, d, d), best[half:].reshape(m, d, d))
    ynorm = float(np.linalg.norm(Y))
    lifted_err = float(np.linalg.norm(Phi @ beta.reshape(-1, d) - Y.reshape(n * k, d)) / ynorm)
    return LinearLearnResult(layer, beta, cert, lifted_err, float(np.linalg.norm(layer(X) - Y) / ynorm),
                             best_rel, best_rel <= policy.EXACT_FIT_REL, len(history),
                             time.perf_counter() - t0, history)


def _rel(pred, Y) -> float:
    return float(np.linalg.norm(pred - Y) / np.linalg.norm(Y))


def _softmax_row(X, Y, Xt, Yt, m, seed, restarts) -> dict:
    """``pm.learn`` (practical, non-strict) on one data set; a LearnError becomes a row with a note."""
    from ..errors import LearnError
    from ..learner import learn

    t0 = time.perf_counter()
    try:
        res = learn(X, Y, m, rng=seed, restarts=restarts, strict=False)
    except LearnError as exc:
        return dict(learner="pm.learn (softmax)", test_error=math.nan, train_error=math.nan, certified=False,
                    seconds=time.perf_counter() - t0, note=str(exc).split(":")[0])
    return dict(learner="pm.learn (softmax)", test_error=_rel(res.layer(Xt), Yt),
                train_error=res.train_relative_error, certified=bool(res.certificate.certified),
                seconds=time.perf_counter() - t0, note="")


def _linear_rows(X, Y, Xt, Yt, m, seed, restarts) -> list[dict]:
    """:func:`learn_linear` on one data set: the m-head factorisation and the lifted predictor."""
    res = learn_linear(X, Y, m, rng=seed, restarts=restarts)
    c = res.certificate
    note = f"design certified={c.certified} (rank {c.rank}/{c.n_features}, sigma_min {c.sigma_min:.2e})"
    return [dict(learner=f"learn_linear ({m} heads)", test_error=_rel(res.layer(Xt), Yt), train_error=res.train_error,
                 certified=res.exact, seconds=res.seconds, note=f"{note}, factor residual {res.factor_residual:.1e}"),
            dict(learner="learn_linear (lifted LSQ)", test_error=_rel(res.predict_lifted(Xt), Yt),
                 train_error=res.lifted_train_error, certified=res.lifted_exact, seconds=res.seconds, note=note)]


def compare_linear_softmax(m: int, d: int, k: int, n: int, *, seed: int = 0, scale: float = 1.0,
                           n_test: int = 500, restarts: int = 3) -> list[dict]:
    r"""Both learners on data from a softmax layer and from the linear layer with the same parameters.

    The softmax layer is ``planted_instance(m, d, k, scale, rng=seed)``; the linear layer
    :math:`\frac1k\sum_i(X\Theta_iX^\top)XW_i` uses its :math:`(\Theta_i, W_i)`. Both label the
    same Boolean inputs (``n`` training examples, seed ``seed + 1``; ``n_test`` test examples,
    seed ``seed + 2``). Each data set is learned by ``pm.learn`` (practical method, ``strict=False``,
    so an uncertified fit is still reported; its own held-out split is 20% of the ``n``) and by
    :func:`learn_linear` (all ``n``), whose m-head layer and lifted predictor are both scored.

    Returns
    -------
    list of dict
        One row per (data, learner): ``data``, ``learner``, ``test_error`` (relative, on the test
        inputs; NaN when the learner raised), ``train_error``, ``certified``, ``seconds``, ``note``,
        and the cell ``m, d, k, n, seed, scale``. ``certified`` is the learner's own claim that its
        output equals the generator: the held-out certificate of ``pm.learn``;
        :attr:`LinearLearnResult.exact` / :attr:`~LinearLearnResult.lifted_exact` for
        :func:`learn_linear` (a certified design alone says nothing about misspecified data).
    """
    from ..instances import planted_instance
    from ..sampling import sample_boolean

    soft = planted_instance(m, d, k, scale, rng=seed)
    lin = LinearMultiHeadAttention(soft.thetas, soft.ws)
    X, Xt = sample_boolean(n, k, d, seed + 1), sample_boolean(n_test, k, d, seed + 2)
    rows = []
    for name, truth in (("softmax", soft), ("linear", lin)):
        Y, Yt = truth(X), truth(Xt)
        for row in [_softmax_row(X, Y, Xt, Yt, m, seed, restarts), *_linear_rows(X, Y, Xt, Yt, m, seed, restarts)]:
            rows.append(dict(data=name, **row, m=m, d=d, k=k, n=n, seed=seed, scale=scale))
    return rows
