r"""Sample-size counts: the examples below which learning is impossible or refused.

Counting arguments only (no algorithm): a layer has :math:`2md^2` parameters and an example
shows :math:`kd` labels; each :math:`\Theta_i` is seen only through the :math:`k(k-1)` logit
differences of its attention per example (``docs/learner.md``, "Sample size").
"""

from __future__ import annotations

import math

__all__ = ["min_examples", "information_limit"]


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
