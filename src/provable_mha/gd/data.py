r"""Data models for the gradient-descent experiments: the tokenized mixture and a planted teacher.

Tokenized mixture (docs/gd.md §8). arXiv 2310.12680 names a "tokenized-mixture model" in its
abstract; the exact construction and parameters below are this project's own.
Draw an orthonormal frame :math:`e_0,\dots,e_M` of :math:`\mathbb R^d` (a random rotation,
``M = n_noise_clusters``, so ``d >= M + 1``) and set the signal mean :math:`\mu = S e_0` and
noise-cluster means :math:`\nu_j = S e_j` (orthogonal, equal norm :math:`S` =
``signal_strength``). For each example:

* label :math:`y \sim \mathrm{Unif}\{\pm1\}`;
* ``signal_tokens`` of the :math:`T` positions (uniform without replacement; position 0 is
  always included when ``signal_first``) are signal tokens :math:`x_t = y\mu + \xi_t`;
* the other positions are noise tokens :math:`x_t = \nu_{j_t} + \xi_t`, :math:`j_t` uniform;
* :math:`\xi_t \sim N(0, \sigma^2 I_d/d)` (so :math:`\mathbb E\|\xi_t\|^2 = \sigma^2`,
  :math:`\sigma` = ``noise_std``);
* with probability ``label_noise`` the label is flipped after the tokens are drawn.

The Bayes-optimal rule reads off the sign of :math:`\langle x_t, \mu\rangle` on the signal
tokens, so attention that finds them is what the classifier has to learn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import as_generator, check_positive_int
from .classifier import MHAClassifier

__all__ = ["GDData", "tokenized_mixture", "planted_teacher"]


@dataclass
class GDData:
    """A labelled batch. Unpacks as ``X, y = data``.

    Attributes
    ----------
    X : ndarray, shape (n, T, d)
    y : ndarray, shape (n,), entries in {-1, +1}
    info : dict
        The generating parameters and latent variables (means, signal mask, teacher, ...).
    """

    X: np.ndarray
    y: np.ndarray
    info: dict = field(default_factory=dict)

    def __iter__(self):
        return iter((self.X, self.y))

    def __len__(self) -> int:
        return 2


def _prob(p, name: str) -> float:
    p = float(p)
    if not np.isfinite(p) or not 0 <= p <= 1:
        raise ValueError(f"{name} must lie in [0, 1], got {p}")
    return p


def _nonneg(x, name: str) -> float:
    x = float(x)
    if not np.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {x}")
    return x


def tokenized_mixture(n: int, T: int, d: int, *, signal_tokens: int = 1,
                      n_noise_clusters: int | None = None, signal_strength: float = 1.0,
                      noise_std: float = 0.1, label_noise: float = 0.0,
                      signal_first: bool = False, means=None, rng=None) -> GDData:
    r"""Sample ``n`` sequences of ``T`` tokens in :math:`\mathbb R^d` from the tokenized mixture.

    Parameters
    ----------
    n, T, d : int
        Examples, tokens per example, token dimension.
    signal_tokens : int
        Signal tokens per example, ``1 <= signal_tokens <= T``.
    n_noise_clusters : int, optional
        Number ``M`` of noise-cluster means; default ``min(d - 1, 4)``; needs ``M <= d - 1``
        (and ``M >= 1`` unless every token is a signal token).
    signal_strength : float
        Common norm :math:`S` of all means.
    noise_std : float
        :math:`\sigma`: token noise :math:`N(0, \sigma^2 I/d)`.
    label_noise : float
        Probability of flipping each label.
    signal_first : bool
        Put a signal token at position 0 (the query position).
    means : ndarray (M + 1, d), optional
        Reuse the means of another draw (``data.info["means"]``; row 0 is :math:`\mu`), e.g.
        to sample a test set from the same distribution.
    rng : int, Generator or None

    Returns
    -------
    GDData
        ``info`` holds ``means`` (row 0 is :math:`\mu`), ``signal_mask (n, T)`` and the
        parameters.
    """
    n = check_positive_int(n, "n")
    T = check_positive_int(T, "T")
    d = check_positive_int(d, "d", minimum=2)
    k = check_positive_int(signal_tokens, "signal_tokens")
    if k > T:
        raise ValueError(f"signal_tokens must be <= T = {T}, got {k}")
    M = min(d - 1, 4) if n_noise_clusters is None else check_positive_int(n_noise_clusters,
                                                                          "n_noise_clusters")
    if M > d - 1:
        raise ValueError(f"n_noise_clusters must be <= d - 1 = {d - 1} (orthogonal means), got {M}")
    S = _nonneg(signal_strength, "signal_strength")
    sigma = _nonneg(noise_std, "noise_std")
    flip = _prob(label_noise, "label_noise")
    g = as_generator(rng)
    if means is None:
        frame, _ = np.linalg.qr(g.standard_normal((d, M + 1)))
        means = S * frame.T                                           # (M + 1, d), orthogonal
    else:
        means = np.asarray(means, dtype=np.float64)
        if means.shape != (M + 1, d):
            raise ValueError(f"means must have shape (M + 1, d) = {(M + 1, d)}, got {means.shape}")
    X, y, mask = _mixture_tokens(g, means, n, T, k, sigma, signal_first)
    y_obs = np.where(g.random(n) < flip, -y, y)
    info = {"model": "tokenized_mixture", "means": means, "signal_mask": mask, "clean_y": y,
            "signal_tokens": k, "n_noise_clusters": M, "signal_strength": S,
            "noise_std": sigma, "label_noise": flip, "signal_first": bool(signal_first)}
    return GDData(X, y_obs, info)


def _mixture_tokens(g: np.random.Generator, means: np.ndarray, n: int, T: int, k: int, sigma: float,
                    signal_first: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clean labels, tokens and the signal mask of :func:`tokenized_mixture` (docs/gd.md §8)."""
    M1, d = means.shape
    y = np.where(g.random(n) < 0.5, 1.0, -1.0)
    order = np.argsort(g.random((n, T)), axis=1)
    if signal_first:
        # keep position 0 and choose the other k - 1 among positions 1..T-1
        order = np.concatenate([np.zeros((n, 1), int),
                                1 + np.argsort(g.random((n, T - 1)), axis=1)], axis=1)
    mask = np.zeros((n, T), bool)
    np.put_along_axis(mask, order[:, :k], True, axis=1)
    cluster = g.integers(1, M1, size=(n, T))
    X = means[cluster] + sigma / np.sqrt(d) * g.standard_normal((n, T, d))
    signal = y[:, None, None] * means[0] + sigma / np.sqrt(d) * g.standard_normal((n, T, d))
    X[mask] = signal[mask]
    return X, y, mask


def planted_teacher(n: int, T: int, d: int, *, H: int = 2, init_scale: float = 2.0,
                    tokens: str = "gaussian", label_noise: float = 0.0, teacher=None,
                    rng=None) -> GDData:
    r"""Labels from a planted attention classifier: :math:`y = \mathrm{sign}\,\Phi(X;\omega^*)`.

    Parameters
    ----------
    n, T, d : int
    H : int
        Heads of the teacher (ignored when ``teacher`` is given).
    init_scale : float
        Scale of the teacher's random parameters (see :class:`MHAClassifier`).
    tokens : {"gaussian", "mixture"}
        Tokens i.i.d. :math:`N(0, I_d/d)` (unit expected norm) or from
        :func:`tokenized_mixture` (its labels discarded).
    label_noise : float
        Flip probability applied to the teacher's labels.
    teacher : MHAClassifier, optional
        Reuse a teacher (e.g. for a test set): ``data.info["teacher"]``.
    rng : int, Generator or None

    Returns
    -------
    GDData
        ``info["teacher"]`` is the teacher and ``info["margins"]`` its outputs.
    """
    n = check_positive_int(n, "n")
    T = check_positive_int(T, "T")
    d = check_positive_int(d, "d", minimum=2)
    flip = _prob(label_noise, "label_noise")
    g = as_generator(rng)
    if teacher is None:
        teacher = MHAClassifier(H, d, rng=g, init_scale=_nonneg(init_scale, "init_scale"))
    elif not isinstance(teacher, MHAClassifier) or teacher.d != d:
        raise ValueError(f"teacher must be an MHAClassifier with d = {d}")
    if tokens == "gaussian":
        X = g.standard_normal((n, T, d)) / np.sqrt(d)
    elif tokens == "mixture":
        X = tokenized_mixture(n, T, d, rng=g).X
    else:
        raise ValueError(f"tokens must be 'gaussian' or 'mixture', got {tokens!r}")
    phi = teacher.decision_function(X)
    y = np.where(phi >= 0, 1.0, -1.0)
    y = np.where(g.random(n) < flip, -y, y)
    return GDData(X, y, {"model": "planted_teacher", "teacher": teacher, "margins": phi,
                         "tokens": tokens, "label_noise": flip})
