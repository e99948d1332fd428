r"""The single-layer multi-head attention classifier analysed in docs/gd.md (after arXiv 2310.12680).

.. math::

    \Phi(X;\omega) = c_H \sum_{h=1}^H U_h^\top X^\top \operatorname{softmax}(X \Theta_h q(X)),
    \qquad U_h \in \mathbb{R}^d,\ \Theta_h \in \mathbb{R}^{d\times d},

with :math:`X \in \mathbb{R}^{T\times d}` (rows are tokens), :math:`\Theta_h` the attention
(key-query) matrix of head :math:`h` (the package's :math:`\Theta`, as in
:class:`provable_mha.MultiHeadAttention`), :math:`U_h` its value vector, query
:math:`q(X) = x_1` (the first token) or the mean token, and :math:`c_H = 1/\sqrt H` or
:math:`1/H`. :math:`\omega = (U_h, \Theta_h)_{h\le H}` is the flat parameter vector
(``params``). The loss is the logistic loss :math:`\hat L(\omega) = \frac1n\sum_i
\ell(y_i\Phi(X_i;\omega))`, :math:`\ell(t) = \log(1+e^{-t})` (docs/gd.md §1).

Derivatives (docs/gd.md §2; per example, head :math:`h`; :math:`a = \mathrm{softmax}(s)`,
:math:`s = X\Theta_hq`, :math:`v = XU_h`, :math:`J = \mathrm{diag}(a) - aa^\top`):

.. math::

    \nabla_{U_h}\Phi = c_H X^\top a, \qquad
    \nabla_{\Theta_h}\Phi = c_H X^\top J v\, q^\top,\quad Jv = a\odot(v - a^\top v).

Hessian-vector product in direction :math:`(\delta U_h, \delta\Theta_h)`, with
:math:`\delta s = X\delta\Theta_h q`, :math:`\delta v = X\delta U_h`, :math:`\delta a = J\delta s`:

.. math::

    [\nabla^2\Phi\,\delta]_{U_h} = c_H X^\top J\delta s,\qquad
    [\nabla^2\Phi\,\delta]_{\Theta_h} = c_H X^\top\big(J\delta v + \delta a\odot(v - a^\top v)
    - a\,(\delta a^\top v)\big) q^\top .

The Hessian of :math:`\Phi` is block diagonal over heads. Everything is vectorised over
examples and heads with BLAS matrix products (no Python loop over either).

Renamed (deprecated aliases kept for one release): ``W`` -> ``thetas``, ``theta`` -> ``params``.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_generator, check_array, check_inputs, check_positive_int
from ._deprecation import deprecated_attribute, renamed_kwargs

__all__ = ["MHAClassifier", "logistic_loss", "logistic_dloss", "logistic_d2loss"]

_NORMALIZATIONS = ("sqrt", "mean")
_QUERIES = ("first", "mean")


def logistic_loss(t: np.ndarray) -> np.ndarray:
    r"""Logistic loss :math:`\ell(t) = \log(1 + e^{-t})`, computed stably."""
    return np.logaddexp(0.0, -t)


def logistic_dloss(t: np.ndarray) -> np.ndarray:
    r""":math:`\ell'(t) = -1/(1+e^{t}) = -\sigma(-t)`; note :math:`|\ell'| \le \min(1, \ell)`."""
    return -0.5 * (1.0 - np.tanh(0.5 * t))


def logistic_d2loss(t: np.ndarray) -> np.ndarray:
    r""":math:`\ell''(t) = \sigma(t)\sigma(-t) \le 1/4`."""
    s = 0.5 * (1.0 + np.tanh(0.5 * t))
    return s * (1.0 - s)


def _check_labels(y, n: int) -> np.ndarray:
    yy = check_array(y, "y", ndim=1)
    if yy.shape[0] != n:
        raise ValueError(f"y has {yy.shape[0]} labels but X has {n} examples")
    if yy.size and not np.all(np.abs(yy) == 1.0):
        raise ValueError("y must hold labels in {-1, +1}")
    return yy


class MHAClassifier:
    r"""Multi-head attention classifier :math:`\Phi(X;\omega)` with parameters ``U`` and ``thetas``.

    Parameters
    ----------
    H : int
        Number of heads, ``H >= 1``.
    d : int
        Token dimension.
    normalization : {"sqrt", "mean"}
        Output scale :math:`c_H = 1/\sqrt H` or :math:`1/H`.
    query : {"first", "mean"}
        Query token :math:`q(X) = x_1` or :math:`\frac1T\sum_t x_t`.
    U, thetas : array_like, optional
        Value vectors :math:`U_h`, shape ``(H, d)``, and attention matrices :math:`\Theta_h`,
        shape ``(H, d, d)``. If omitted they are drawn by :meth:`init` with ``rng``,
        ``init_scale`` and ``symmetric``. ``W=`` is a deprecated alias of ``thetas=``.
    rng : int, Generator or None
        Randomness for the initialisation.
    init_scale : float
        Entries of ``U`` are :math:`N(0, s^2/d)`, entries of ``thetas`` are :math:`N(0, s^2/d^2)`.
    symmetric : bool
        If true every head gets the same draw (the symmetric start of docs/gd.md §6, under which
        GD keeps all heads equal).

    Notes
    -----
    The flat parameter vector ``params`` (:math:`\omega`) is ``concat(U.ravel(), thetas.ravel())``
    of length :math:`P = H(d + d^2)`. Every method takes an optional ``params`` so that the
    optimiser can evaluate other points without building new objects (``theta=`` is a
    deprecated alias).
    """

    @renamed_kwargs(W="thetas")
    def __init__(self, H: int, d: int, normalization: str = "sqrt", query: str = "first",
                 U=None, thetas=None, rng=None, init_scale: float = 1.0,
                 symmetric: bool = False) -> None:
        self.H = check_positive_int(H, "H")
        self.d = check_positive_int(d, "d")
        if normalization not in _NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {_NORMALIZATIONS}, got {normalization!r}")
        if query not in _QUERIES:
            raise ValueError(f"query must be one of {_QUERIES}, got {query!r}")
        self.normalization = normalization
        self.query = query
        if (U is None) != (thetas is None):
            raise ValueError("give both U and thetas, or neither (random initialisation)")
        if U is None:
            self.params = self.init(rng, init_scale=init_scale, symmetric=symmetric)
        else:
            self.params = self.pack(U, thetas)

    # -- parameter plumbing ------------------------------------------------------------------
    @property
    def c(self) -> float:
        """Output normalisation :math:`c_H`."""
        return 1.0 / np.sqrt(self.H) if self.normalization == "sqrt" else 1.0 / self.H

    @property
    def n_params(self) -> int:
        """:math:`P = H(d + d^2)`."""
        return self.H * (self.d + self.d * self.d)

    @property
    def U(self) -> np.ndarray:
        """Value vectors :math:`U_h`, shape ``(H, d)`` (a view of ``params``)."""
        return self.unpack(self.params)[0]

    @property
    def thetas(self) -> np.ndarray:
        r"""Attention matrices :math:`\Theta_h`, shape ``(H, d, d)`` (a view of ``params``)."""
        return self.unpack(self.params)[1]

    @property
    def params(self) -> np.ndarray:
        r"""Flat parameter vector :math:`\omega` of length :attr:`n_params`."""
        return self._params

    @params.setter
    def params(self, value) -> None:
        self._params = self._check_params(value).copy()

    W = deprecated_attribute("W", "thetas")
    theta = deprecated_attribute("theta", "params", settable=True)

    def _check_params(self, params) -> np.ndarray:
        if params is None:
            return self._params
        p = check_array(params, "params", ndim=1)
        if p.shape[0] != self.n_params:
            raise ValueError(
                f"params must have length H(d + d^2) = {self.n_params}, got {p.shape[0]}")
        return p

    @renamed_kwargs(W="thetas")
    def pack(self, U, thetas) -> np.ndarray:
        """Flatten ``U (H, d)`` and ``thetas (H, d, d)`` into ``params``."""
        U = check_array(U, "U", ndim=2)
        thetas = check_array(thetas, "thetas", ndim=3)
        if U.shape != (self.H, self.d):
            raise ValueError(f"U must have shape (H, d) = {(self.H, self.d)}, got {U.shape}")
        if thetas.shape != (self.H, self.d, self.d):
            raise ValueError(
                f"thetas must have shape (H, d, d) = {(self.H, self.d, self.d)}, got {thetas.shape}")
        return np.concatenate([U.ravel(), thetas.ravel()])

    @renamed_kwargs(theta="params")
    def unpack(self, params=None) -> tuple[np.ndarray, np.ndarray]:
        """Split ``params`` (default: own) into views ``U (H, d)`` and ``thetas (H, d, d)``."""
        return self._split(self._check_params(params))

    def _split(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = self.H * self.d
        return p[:k].reshape(self.H, self.d), p[k:].reshape(self.H, self.d, self.d)

    def init(self, rng=None, init_scale: float = 1.0, symmetric: bool = False) -> np.ndarray:
        r"""Draw :math:`\omega_0`: ``U ~ N(0, s^2/d)``, ``thetas ~ N(0, s^2/d^2)``; same draw per
        head if ``symmetric`` (``init_scale = 0`` gives :math:`\omega_0 = 0`)."""
        if not np.isfinite(init_scale) or init_scale < 0:
            raise ValueError(f"init_scale must be finite and >= 0, got {init_scale}")
        g = as_generator(rng)
        nh = 1 if symmetric else self.H
        U = g.standard_normal((nh, self.d)) * init_scale / np.sqrt(self.d)
        Th = g.standard_normal((nh, self.d, self.d)) * init_scale / self.d
        if symmetric:
            U = np.repeat(U, self.H, axis=0)
            Th = np.repeat(Th, self.H, axis=0)
        return np.concatenate([U.ravel(), Th.ravel()])

    @renamed_kwargs(theta="params")
    def copy(self, params=None) -> MHAClassifier:
        """A classifier with the same architecture and parameters ``params`` (default: own)."""
        U, Th = self.unpack(params)
        return MHAClassifier(self.H, self.d, self.normalization, self.query, U=U, thetas=Th)

    @renamed_kwargs(theta="params")
    def is_symmetric(self, params=None, rtol: float = 1e-12) -> bool:
        """Whether all heads are equal (relative to the largest head) up to ``rtol``."""
        U, Th = self.unpack(params)
        scale = max(np.abs(U).max(initial=0.0), np.abs(Th).max(initial=0.0), 1e-300)
        return bool(max(np.abs(U - U[:1]).max(), np.abs(Th - Th[:1]).max()) <= rtol * scale)

    # -- forward pass ------------------------------------------------------------------------
    def _X(self, X) -> np.ndarray:
        Xb, _ = check_inputs(X, d=self.d)
        return Xb

    def _queries(self, X: np.ndarray) -> np.ndarray:
        return X[:, 0, :] if self.query == "first" else X.mean(axis=1)

    def _scratch(self, name: str, shape: tuple) -> np.ndarray:
        """A reusable float64 buffer (training reuses the same shapes every step).

        Fresh multi-megabyte temporaries are served by ``mmap`` and page-faulted on first
        touch at every step, which measured ~60% of a NumPy GD step at (1000, 8, 32, 16);
        reusing buffers removes that cost. Only :meth:`_loss_and_grad` uses them, and it
        consumes them before returning (so one model must not be trained from two threads at
        once; :meth:`copy` gives an independent model).
        """
        cache = self.__dict__.setdefault("_buffers", {})
        buf = cache.get(name)
        if buf is None or buf.shape != shape:
            buf = cache[name] = np.empty(shape)
        return buf

    def _forward(self, X: np.ndarray, params: np.ndarray, reuse: bool = False) -> dict:
        n, T, d = X.shape
        H = self.H
        U, Th = self._split(params)
        Q = self._queries(X)                                        # (n, d)
        buf = self._scratch if reuse else (lambda name, shape: np.empty(shape))
        TQ = np.matmul(Q, Th.reshape(H * d, d).T, out=buf("TQ", (n, H * d))).reshape(n, H, d)  # Θ_h q_i
        S = np.matmul(X, TQ.transpose(0, 2, 1), out=buf("S", (n, T, H)))  # (n, T, H) logits
        S -= S.max(axis=1, keepdims=True)
        np.exp(S, out=S)
        S /= S.sum(axis=1, keepdims=True)                           # A: attention over tokens
        V = np.matmul(X.reshape(n * T, d), U.T, out=buf("V", (n * T, H))).reshape(n, T, H)  # x_t^T U_h
        heads = np.einsum("nth,nth->nh", S, V)                      # a^T v per head
        return {"X": X, "Q": Q, "A": S, "V": V, "heads": heads, "phi": self.c * heads.sum(1)}

    @renamed_kwargs(theta="params")
    def decision_function(self, X, params=None) -> np.ndarray:
        r""":math:`\Phi(X_i;\omega)` for a batch ``(n, T, d)`` (or one ``(T, d)``): ``(n,)``."""
        return self._forward(self._X(X), self._check_params(params))["phi"]

    __call__ = decision_function

    @renamed_kwargs(theta="params")
    def attention(self, X, params=None) -> np.ndarray:
        r"""Attention weights :math:`\mathrm{softmax}(X\Theta_hq)` of the query over tokens, ``(n, H, T)``."""
        return self._forward(self._X(X), self._check_params(params))["A"].transpose(0, 2, 1)

    @renamed_kwargs(theta="params")
    def predict(self, X, params=None) -> np.ndarray:
        r"""Labels :math:`\mathrm{sign}\,\Phi` in {-1, +1} (ties to +1)."""
        return np.where(self.decision_function(X, params) >= 0, 1.0, -1.0)

    # -- gradients ---------------------------------------------------------------------------
    def _grad_from_weights(self, f: dict, wa: np.ndarray, we: np.ndarray, reuse: bool = False) -> np.ndarray:
        r"""Blocks :math:`c\sum_i X_i^\top wa_i` (U) and :math:`c\sum_i X_i^\top we_i q_i^\top` (Θ).

        ``wa, we`` have shape ``(n, T, H)``: per-token weights of the U and Θ blocks.
        """
        X, Q = f["X"], f["Q"]
        n, T, d = X.shape
        H = self.H
        out = np.empty(H * d + H * d * d)  # the gradient, written in place block by block
        np.matmul(wa.reshape(n * T, H).T, X.reshape(n * T, d), out=out[: H * d].reshape(H, d))
        R = np.matmul(we.transpose(0, 2, 1), X,
                      out=self._scratch("R", (n, H, d)) if reuse else None)  # (n, H, d)
        np.matmul(R.reshape(n, H * d).T, Q, out=out[H * d:].reshape(H * d, d))
        out *= self.c
        return out

    @renamed_kwargs(theta="params")
    def output_gradient(self, X, params=None) -> np.ndarray:
        r"""Per-example gradients :math:`\nabla_\omega\Phi(X_i;\omega)`, shape ``(n, P)``.

        Memory is :math:`nP` floats: meant for NTK features and tests, not for training.
        """
        f = self._forward(self._X(X), self._check_params(params))
        X, Q, A, V = f["X"], f["Q"], f["A"], f["V"]
        E = A * (V - f["heads"][:, None, :])                                # J v
        gU = np.einsum("nth,ntd->nhd", A, X)
        gT = np.einsum("nth,ntd,ne->nhde", E, X, Q)
        n = X.shape[0]
        return self.c * np.concatenate([gU.reshape(n, -1), gT.reshape(n, -1)], axis=1)

    @renamed_kwargs(theta="params")
    def loss(self, X, y, params=None) -> float:
        r"""Empirical logistic loss :math:`\hat L(\omega)`."""
        Xb = self._X(X)
        yy = _check_labels(y, Xb.shape[0])
        return float(np.mean(logistic_loss(yy * self.decision_function(Xb, params))))

    @renamed_kwargs(theta="params")
    def loss_and_grad(self, X, y, params=None) -> tuple[float, np.ndarray]:
        r""":math:`\hat L(\omega)` and :math:`\nabla\hat L = \frac1n\sum_i \ell'(y_i\Phi_i)\,y_i
        \nabla\Phi_i`, computed without forming per-example gradients."""
        Xb = self._X(X)
        yy = _check_labels(y, Xb.shape[0])
        return self._loss_and_grad(Xb, yy, self._check_params(params))

    def _loss_and_grad(self, X: np.ndarray, y: np.ndarray, params: np.ndarray):
        f = self._forward(X, params, reuse=True)
        m = y * f["phi"]
        g = logistic_dloss(m) * y / X.shape[0]                               # (n,)
        shape = f["A"].shape
        wa = np.multiply(f["A"], g[:, None, None], out=self._scratch("wa", shape))
        we = np.subtract(f["V"], f["heads"][:, None, :], out=self._scratch("we", shape))
        we *= wa
        return float(np.mean(logistic_loss(m))), self._grad_from_weights(f, wa, we, reuse=True)

    # -- second order ------------------------------------------------------------------------
    def _directional(self, f: dict, v: np.ndarray):
        dU, dTh = self._split(v)
        X, Q, A, V = f["X"], f["Q"], f["A"], f["V"]
        n, T, d = X.shape
        dTQ = (Q @ dTh.reshape(self.H * d, d).T).reshape(n, self.H, d)
        dS = np.matmul(X, dTQ.transpose(0, 2, 1))
        dV = (X.reshape(n * T, d) @ dU.T).reshape(n, T, self.H)
        Vc = V - f["heads"][:, None, :]
        dA = A * (dS - np.einsum("nth,nth->nh", A, dS)[:, None, :])         # J ds
        JdV = A * (dV - np.einsum("nth,nth->nh", A, dV)[:, None, :])        # J dv
        w = JdV + dA * Vc - A * np.einsum("nth,nth->nh", dA, V)[:, None, :]
        dphi = self.c * (np.einsum("nth,nth->n", A, dV) + np.einsum("nth,nth->n", dA, V))
        return dphi, dA, w, Vc

    @renamed_kwargs(theta="params")
    def output_hvp(self, X, v, weights=None, params=None) -> np.ndarray:
        r""":math:`\sum_i w_i \nabla^2\Phi(X_i;\omega)\,v` (default :math:`w_i = 1`): ``(P,)``."""
        th = self._check_params(params)
        f = self._forward(self._X(X), th)
        vv = self._check_vector(v)
        n = f["X"].shape[0]
        wts = np.ones(n) if weights is None else check_array(weights, "weights", ndim=1)
        if wts.shape[0] != n:
            raise ValueError(f"weights has length {wts.shape[0]}, expected {n}")
        _, dA, w, _ = self._directional(f, vv)
        return self._grad_from_weights(f, dA * wts[:, None, None], w * wts[:, None, None])

    @renamed_kwargs(theta="params")
    def hvp(self, X, y, v, params=None) -> np.ndarray:
        r"""Hessian-vector product of the loss,

        .. math::

            \nabla^2\hat L\,v = \frac1n\sum_i \Big[\ell''(y_i\Phi_i)\langle\nabla\Phi_i, v\rangle
            \nabla\Phi_i + \ell'(y_i\Phi_i)\,y_i\,\nabla^2\Phi_i v\Big].
        """
        Xb = self._X(X)
        yy = _check_labels(y, Xb.shape[0])
        f = self._forward(Xb, self._check_params(params))
        vv = self._check_vector(v)
        m = yy * f["phi"]
        n = Xb.shape[0]
        alpha = logistic_d2loss(m) / n
        beta = logistic_dloss(m) * yy / n
        dphi, dA, w, Vc = self._directional(f, vv)
        alpha = alpha * dphi
        A = f["A"]
        wa = A * alpha[:, None, None] + dA * beta[:, None, None]
        we = A * Vc * alpha[:, None, None] + w * beta[:, None, None]
        return self._grad_from_weights(f, wa, we)

    def _check_vector(self, v) -> np.ndarray:
        vv = check_array(v, "v", ndim=1)
        if vv.shape[0] != self.n_params:
            raise ValueError(f"v must have length {self.n_params}, got {vv.shape[0]}")
        return vv

    def __repr__(self) -> str:
        return (f"MHAClassifier(H={self.H}, d={self.d}, normalization={self.normalization!r}, "
                f"query={self.query!r})")
