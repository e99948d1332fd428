r"""Memory estimates made *before* a run, so a job that cannot fit is refused at once.

The command line checks every run against a limit (``--max-memory``, default 4 GiB) with these
functions before it allocates anything; the library can do the same::

    from provable_mha.resources import check_memory, estimate_memory
    check_memory(estimate_memory(m=2, d=8, k=4, n=400), limit="4GiB", what="learn")

The estimates count the float64 arrays the code holds at once, term by term (each term names
the array it stands for). They are this project's own, calibrated against Python's
``tracemalloc`` peak (which sees every NumPy allocation): on the sizes listed in
``docs/cli.md`` the estimate is 1.4 to 3 times the measured peak.
They are estimates, not guarantees: BLAS work space and the convex solvers of the structured
method are not counted.
"""

from __future__ import annotations

import math
import re

from ._validation import check_positive_int

__all__ = ["estimate_memory", "estimate_gd_memory", "check_memory", "parse_size", "format_size",
           "DEFAULT_MAX_MEMORY"]

_FLOAT = 8  # bytes per float64
#: The default limit of the command line (``--max-memory``).
DEFAULT_MAX_MEMORY = 4 * 2**30

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def estimate_memory(m: int, d: int, k: int, n: int, n_test: int = 0) -> int:
    r"""Estimated peak bytes of learning one planted problem (``pm.learn``, practical method).

    Sum of the float64 arrays alive at the peak of the learner's inner loop (``learner/design.py``),
    with :math:`r = nk` rows:

    .. math::

        8\,\big[\, 2\,r\,m d^3 \;(\text{the } x\otimes C \text{ block of the normal equations and its product})
        + 2\,r\,m^2 d^2 \;(\text{per-row } CC^\top \text{ and the design's QR})
        + n\,m\,k^2 d \;(\text{attention-weighted tokens})
        + 6\,m^2 d^4 \;(\text{normal matrices of the joint refinement})
        + 6\,r\,d \;(X, Y, \text{residuals})
        + n_t\,k\,(4d + 2md + 3mk) \;(\text{test inputs, outputs and one forward pass}) \,\big].

    Parameters
    ----------
    m, d, k, n : int
        Heads, token dimension, tokens per example, examples (training and held out).
    n_test : int
        Fresh examples evaluated afterwards (``provable-mha learn --n-test``).

    Returns
    -------
    int
        Bytes (an estimate; see the module docstring for how it was checked).
    """
    m, d, k, n = (check_positive_int(v, name) for v, name in ((m, "m"), (d, "d"), (k, "k"), (n, "n")))
    n_test = check_positive_int(n_test, "n_test", minimum=0)
    r = n * k
    floats = (2 * r * m * d**3 + 2 * r * m * m * d * d + n * m * k * k * d + 6 * m * m * d**4 + 6 * r * d
              + n_test * k * (4 * d + 2 * m * d + 3 * m * k))
    return _FLOAT * floats


def estimate_gd_memory(H: int, n: int, n_test: int, T: int, d: int) -> int:
    r"""Estimated peak bytes of one gradient-descent run of the heads experiment (``provable_mha.gd``).

    .. math::

        8\,\big[\, 4 N T d \;(\text{data}) + 4 N T H \;(\text{logits, attention, weights})
        + 2 N H d \;(\text{per-head queries}) + 4 H (d + d^2) \;(\text{parameters, gradient}) \,\big],
        \quad N = n + n_{\text{test}}.
    """
    H, n, T, d = (check_positive_int(v, name) for v, name in ((H, "H"), (n, "n"), (T, "T"), (d, "d")))
    N = n + check_positive_int(n_test, "n_test", minimum=0)
    return _FLOAT * (4 * N * T * d + 4 * N * T * H + 2 * N * H * d + 4 * H * (d + d * d))


def parse_size(text: str | int) -> int:
    """Bytes from ``"4GiB"``, ``"500MB"``, ``"2.5G"`` or a plain number of bytes.

    Binary units (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones (kB, MB, GB, TB, or just
    K, M, G, T) powers of 1000; case is ignored. Raises :class:`ValueError` on anything else.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
        if not match or match.group(2).lower() not in _UNITS:
            raise ValueError(f"expected a size like 4GiB, 500MB or 1e9, got {text!r}")
        value, unit = float(match.group(1)), match.group(2).lower()
    size = value * _UNITS[unit]
    if not (math.isfinite(size) and size > 0):
        raise ValueError(f"a size must be a positive finite number of bytes, got {text!r}")
    return int(size)


def format_size(nbytes: float) -> str:
    """``1536 -> '1.5 KiB'``: a byte count in binary units, three significant digits."""
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def check_memory(estimate: int, limit: int | str = DEFAULT_MAX_MEMORY, what: str = "this run",
                 hint: str = "lower the sizes") -> None:
    """Raise :class:`ValueError` naming both numbers if ``estimate`` bytes exceed ``limit``."""
    cap = parse_size(limit)
    if estimate > cap:
        raise ValueError(f"{what} needs an estimated {format_size(estimate)} of memory, over the limit "
                         f"{format_size(cap)}; {hint}")
