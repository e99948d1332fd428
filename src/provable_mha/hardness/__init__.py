r"""Lower-bound constructions: layers that force exp(m) cost, verified exactly (SPEC §4).

* :mod:`.gadget` -- the temperature/coefficient system realizing any :math:`g(T)` with
  :math:`R+1` heads; CP-SAT search for fewest-head weighted-count representations.
* :mod:`.parity` -- :func:`parity_instance`, :func:`parity_family` (k = 2, :math:`|S| = m-1`)
  and the closed form :math:`A(X) + B(X)\chi_S(z)`.
* :mod:`.sq` -- exact enumeration: correlations, moment agreement, separation, SQ dimension.
* :mod:`.gf2` -- Gaussian elimination over GF(2): the non-SQ control, with and without noise.
* :mod:`.lwr` -- a learning-with-rounding style family (this project's construction).
* :mod:`.report` -- which conditions each family violates; learner cost vs planted instances.
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
    "CostRow", "cost_instances", "family_conditions", "format_cost_table",
    "format_family_conditions", "learner_cost", "plot_cost",
]
