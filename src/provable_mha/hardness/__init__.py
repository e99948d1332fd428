r"""Lower-bound constructions for learning multi-head attention, checked by exact enumeration.

Chen & Li (arXiv 2402.04084) prove, per their abstract, that in the worst case exponential
dependence on the number of heads m is unavoidable. Their constructions are **not** reproduced
here (the paper's full text was not available to this project). Everything in this package is
this project's own reconstruction; ``docs/hardness.md`` states what each piece proves and what is
only measured:

* :mod:`.gadget` -- temperatures :math:`a_i` and coefficients :math:`c_i` with
  :math:`\sum_i c_i\sigma(a_iT) = g(T)`, :math:`T = 0..R` (any :math:`g`, :math:`R+1` heads);
  CP-SAT search for fewest-head weighted-count representations. *Measured*: for parity
  :math:`\max_i|c_i|` grows about 4–5x per head (6, 13, 45, 160, 614 for m = 2..6).
* :mod:`.parity` -- :func:`parity_instance`, :func:`parity_family` (k = 2, :math:`|S| = m-1`,
  :math:`\binom{d-1}{m-1}` members), computing :math:`A(X) + B(X)\chi_S(x_0\odot x_1)` exactly.
* :mod:`.sq` -- exact enumeration of all :math:`2^{2d}` inputs: correlations, separation, moment
  agreement, SQ dimension, and the proved SQ query bound :math:`q > (D-1)\tau^2/(1-2\eta)^2`
  for identifying one of :math:`D = \binom{d-1}{m-1}` secrets at tolerance :math:`\tau`.
* :mod:`.gf2` -- Gaussian elimination over GF(2): the non-SQ control, with and without noise.
* :mod:`.lwr` -- a learning-with-rounding style family; :mod:`.lwr_attack` runs its reduction
  end to end at toy size (sample map, learning with :func:`provable_mha.learn`, secret recovery).
* :mod:`.report` -- which conditions each family violates; learner cost vs planted instances
  (measured, not proved).
"""

from __future__ import annotations

from .gadget import (
    Gadget,
    WeightRepresentation,
    gadget_matrix,
    min_weight_representation,
    solve_gadget,
    solve_general_gadget,
)
from .gf2 import GF2Result, gf2_solve, noise_experiment, parity_equations, recover_parity
from .lwr import (
    lwr_closed_form_parts,
    lwr_family,
    lwr_gadget,
    lwr_instance,
    lwr_label_table,
    lwr_range,
    lwr_sq_dimension,
    lwr_weights,
)
from .lwr_attack import (
    LWRAttack,
    format_lwr_attack,
    lwr_attack_demo,
    lwr_codebook,
    lwr_examples,
    lwr_samples,
    recover_lwr_secret,
)
from .parity import (
    chi,
    closed_form_parts,
    parity_closed_form,
    parity_family,
    parity_instance,
    parity_secrets,
    weighted_closed_form,
    weighted_count,
    weighted_count_instance,
)
from .report import (
    CostRow,
    cost_instances,
    family_conditions,
    format_cost_table,
    format_family_conditions,
    learner_cost,
    plot_cost,
)
from .sq import (
    boolean_cube,
    correlation_matrix,
    format_sq_table,
    moment_agreement,
    noisy_pairwise_correlations,
    separation_matrix,
    sq_dimension,
    sq_query_lower_bound,
    sq_table,
    walsh_hadamard,
)

__all__ = [
    "Gadget", "WeightRepresentation", "gadget_matrix", "min_weight_representation", "solve_gadget",
    "solve_general_gadget",
    "chi", "closed_form_parts", "parity_closed_form", "parity_family", "parity_instance",
    "parity_secrets", "weighted_closed_form", "weighted_count", "weighted_count_instance",
    "boolean_cube", "correlation_matrix", "format_sq_table", "moment_agreement",
    "noisy_pairwise_correlations", "separation_matrix", "sq_dimension", "sq_query_lower_bound",
    "sq_table", "walsh_hadamard",
    "GF2Result", "gf2_solve", "noise_experiment", "parity_equations", "recover_parity",
    "lwr_closed_form_parts", "lwr_family", "lwr_gadget", "lwr_instance", "lwr_label_table",
    "lwr_range", "lwr_sq_dimension", "lwr_weights",
    "LWRAttack", "format_lwr_attack", "lwr_attack_demo", "lwr_codebook", "lwr_examples",
    "lwr_samples", "recover_lwr_secret",
    "CostRow", "cost_instances", "family_conditions", "format_cost_table",
    "format_family_conditions", "learner_cost", "plot_cost",
]
