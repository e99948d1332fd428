"""Reference learners the toolkit is measured against (``benchmarks/``); the learner never uses them.

* :mod:`.fitting` — variable-projection Levenberg–Marquardt with a finite-difference Jacobian
  (what a user without this toolkit would write) and Adam on the squared loss.
* :mod:`.linear_attention` — the convex (lifted least-squares) learner for multi-head *linear*
  attention with its design-rank certificate, and the linear-vs-softmax comparison
  (``docs/linear_attention.md``).
"""

from .fitting import BaselineResult, TimeCap, adam_joint, fd_varpro_lm, squared_loss_grad
from .linear_attention import (
    DesignCertificate,
    LinearLearnResult,
    compare_linear_softmax,
    learn_linear,
    min_examples_linear,
)

__all__ = ["BaselineResult", "TimeCap", "fd_varpro_lm", "adam_joint", "squared_loss_grad",
           "learn_linear", "LinearLearnResult", "DesignCertificate", "min_examples_linear", "compare_linear_softmax"]
