"""Reference learners the toolkit is measured against (``benchmarks/``); the learner never uses them.

* :mod:`.fitting` — variable-projection Levenberg–Marquardt with a finite-difference Jacobian
  (what a user without this toolkit would write) and Adam on the squared loss.
"""

from .fitting import BaselineResult, TimeCap, adam_joint, fd_varpro_lm, squared_loss_grad

__all__ = ["BaselineResult", "TimeCap", "fd_varpro_lm", "adam_joint", "squared_loss_grad"]
