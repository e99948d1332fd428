r"""Diagnostics against a planted truth: test error, head matching and principal angles.

On planted instances the learner's output can be compared with the layer that generated the
data. Besides the function-space error, the parameter spaces are compared through the principal
angles between :math:`\mathrm{span}\{\hat\Theta_i\}` and :math:`\mathrm{span}\{\Theta_i\}`
(likewise for :math:`W`), computed with :func:`scipy.linalg.subspace_angles` on the vectorised
matrices; all angles are 0 iff the spans coincide.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .._validation import check_positive_int
from ..model import MultiHeadAttention, match_heads
from ..sampling import relative_error, sample_boolean
from .structured.span import principal_angles

__all__ = ["TruthComparison", "compare_to_truth"]


@dataclass(frozen=True)
class TruthComparison:
    """Learned layer vs planted truth.

    Attributes
    ----------
    test_relative_error : float
        :math:`\\|\\hat F(X) - F(X)\\|_F/\\|F(X)\\|_F` on fresh Boolean inputs.
    max_parameter_error : float
        Largest relative head error after :func:`~provable_mha.match_heads`.
    perm : list of int
        Matched head order.
    theta_angles, w_angles : list of float
        Principal angles (radians, descending) between the learned and true spans.
    """

    test_relative_error: float
    max_parameter_error: float
    perm: list
    theta_angles: list
    w_angles: list

    def to_dict(self) -> dict:
        return asdict(self)


def compare_to_truth(learned, truth: MultiHeadAttention, X_test=None, *, k: int | None = None,
                     n_test: int = 1000, rng=0) -> TruthComparison:
    """Compare a learned layer (or a :class:`LearnResult`) with the planted ``truth``.

    ``X_test`` defaults to ``n_test`` Boolean examples with ``k`` tokens drawn with ``rng``;
    ``k`` defaults to the result's ``k`` (required when ``learned`` is a bare layer).
    """
    layer = getattr(learned, "layer", learned)
    if not isinstance(layer, MultiHeadAttention) or not isinstance(truth, MultiHeadAttention):
        raise ValueError("compare_to_truth expects MultiHeadAttention layers (or a result with .layer)")
    if X_test is None:
        k = k if k is not None else getattr(learned, "k", None)
        if k is None:
            raise ValueError("compare_to_truth needs X_test or the number of tokens k for a bare layer")
        X_test = sample_boolean(n_test, check_positive_int(k, "k"), truth.d, rng)
    err = relative_error(layer, X_test, truth(X_test))
    match = match_heads(truth, layer)
    return TruthComparison(
        test_relative_error=err,
        max_parameter_error=match.max_error,
        perm=match.perm.tolist(),
        theta_angles=principal_angles(layer.thetas, truth.thetas).tolist(),
        w_angles=principal_angles(layer.ws, truth.ws).tolist(),
    )
