r"""What the data can determine: sample-size counts and the local rank test.

Counting arguments (no algorithm): a layer has :math:`2md^2` parameters and an example
shows :math:`kd` labels; each :math:`\Theta_i` is seen only through the :math:`k(k-1)` logit
differences of its attention per example (``docs/learner.md``, "Sample size").
:func:`local_identifiability` replaces the count by the rank of the Jacobian on the actual
inputs (``docs/frontier.md``, "Is n* sharp?").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import check_array, check_memory
from ..model import MultiHeadAttention

__all__ = ["min_examples", "information_limit", "local_identifiability", "LocalIdentifiability"]


def min_examples(m: int, d: int, k: int) -> int:
    r"""Training examples below which :func:`learn` refuses: :math:`\lceil 2md/k\rceil`.

    The layer has :math:`2md^2` parameters and an example gives :math:`kd` labels.
    """
    return math.ceil(2 * m * d / k)


def information_limit(m: int, d: int, k: int) -> float:
    r"""The information limit :math:`n^*=\max(2md/k,\ d^2/(k(k-1)))` of ``docs/learner.md``.

    The second count: each :math:`\Theta_i` (:math:`d^2` numbers) is seen only through the
    :math:`k(k-1)` logit differences of its attention per example (infinite for :math:`k=1`,
    where attention is constant and :math:`\Theta` is not identified at all).
    """
    theta = math.inf if k < 2 else d * d / (k * (k - 1))
    return max(2 * m * d / k, theta)


@dataclass(frozen=True)
class LocalIdentifiability:
    """The rank of the Jacobian of :math:`(\\Theta, W) \\mapsto (F(X_1), \\dots, F(X_n))` at a layer."""

    n: int  #: examples
    parameters: int  #: 2 m d^2
    rank: int  #: numerical rank (SVD, tolerance ``sigma_max * max(J.shape) * eps * 1e3``)
    sigma_ratio: float  #: smallest over largest singular value (0 when rank-deficient by shape)

    @property
    def null_dim(self) -> int:
        return self.parameters - self.rank

    @property
    def identified(self) -> bool:
        """Full column rank: the layer is an isolated solution of its own equations on these inputs."""
        return self.null_dim == 0


def local_identifiability(layer: MultiHeadAttention, X) -> LocalIdentifiability:
    r"""Do the inputs ``X`` identify ``layer`` locally? The rank of the Jacobian at the layer.

    The map :math:`\phi(\Theta, W) = (F_{\Theta,W}(X_j))_{j\le n}` is smooth. If its Jacobian
    :math:`J` (:math:`nkd \times 2md^2`) has full column rank at :math:`(\Theta, W)`, then
    :math:`\phi` is an immersion there, hence injective on a neighbourhood of that point
    (constant-rank theorem), so no other layer *near* it gives the same outputs on ``X``: the data
    determine the layer locally, up to the head permutations (isolated points). Full rank needs
    :math:`nkd \ge 2md^2`, i.e. :math:`n \ge 2md/k`; the converse fails (a rank-deficient point
    may still be isolated), and local says nothing about far-away layers with the same outputs.

    Cost :math:`O(nkd\,(2md^2)^2)` time, :math:`8\,nkd\,(2md^2 + md^2)` bytes (checked first).
    """
    from .design import joint_jacobian

    if not isinstance(layer, MultiHeadAttention):
        raise ValueError(f"layer must be a MultiHeadAttention, got {type(layer).__name__}")
    X = check_array(X, "X", ndim=3)
    if X.shape[2] != layer.d:
        raise ValueError(f"X must have shape (n, k, {layer.d}), got {X.shape}")
    n, k, d = X.shape
    P = 2 * layer.m * d * d
    check_memory(8.0 * n * k * d * (P + layer.m * d * d), "the Jacobian of local_identifiability")
    J = joint_jacobian(np.asarray(layer.thetas), np.asarray(layer.ws), X)
    s = np.linalg.svd(J, compute_uv=False)
    rank = int(np.sum(s > s[0] * max(J.shape) * np.finfo(float).eps * 1e3)) if s.size and s[0] > 0 else 0
    ratio = float(s[-1] / s[0]) if rank == P and J.shape[0] >= P else 0.0
    return LocalIdentifiability(n=n, parameters=P, rank=rank, sigma_ratio=ratio)
