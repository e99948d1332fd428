"""The learner: one entry :func:`learn`, strategies that share one signature, one refine → certify path.

Layout (the tree is the algorithm as it runs):

* :mod:`.api` — :func:`learn`: validate once, split, dispatch ``method=``, refine, certify;
* :mod:`.problem`, :mod:`.result` — what a strategy receives (:class:`Problem`) and returns
  (:class:`Candidate`), and what the user gets (:class:`LearnResult`, :class:`Certificate`);
* strategies: :mod:`.practical` (multi-start variable projection) and :mod:`.structured`
  (constraint generation with a certifying body);
* shared cores: :mod:`.design` (the layer's algebra and derivatives), :mod:`.lsq` (the one
  Levenberg–Marquardt loop), :mod:`.moments` (phase i), :mod:`.refine`, :mod:`.certify`,
  :mod:`.policy` (every tolerance);
* :mod:`.evaluate` — diagnostics against a planted truth.
"""

from .api import STRATEGIES, information_limit, learn, min_examples
from .evaluate import TruthComparison, compare_to_truth
from .limits import LocalIdentifiability, local_identifiability
from .result import Candidate, Certificate, LearnResult, PhaseRecord

__all__ = ["learn", "min_examples", "information_limit", "STRATEGIES", "LearnResult", "Certificate",
           "Candidate", "PhaseRecord", "compare_to_truth", "TruthComparison", "local_identifiability",
           "LocalIdentifiability"]
