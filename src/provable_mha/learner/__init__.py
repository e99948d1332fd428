"""The learner: phases (i)–(v) of SPEC §3 as constraint generation, certified on held-out data.

``pm.learn`` orchestrates the phases; each phase is a module here usable on its own:
:mod:`.moments` (i), :mod:`.sculpt` (ii), :mod:`.span` (iii–iv), :mod:`.search` and
:mod:`.provable` (v), :mod:`.refine`, :mod:`.certify`; :mod:`.solvers` is the only module that
names CVXPY solvers, :mod:`.design` holds the shared algebra.
"""

from .evaluate import TruthComparison, compare_to_truth
from .pipeline import learn, min_examples
from .result import Certificate, LearnResult, PhaseRecord

__all__ = ["learn", "min_examples", "LearnResult", "Certificate", "PhaseRecord", "compare_to_truth",
           "TruthComparison"]
