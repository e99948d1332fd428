"""Input validation and random-number handling shared by the public functions.

Every public entry point validates at the boundary (as scikit-learn does) and raises a
:class:`ValueError` that names the argument; nothing is silently coerced.

Resource limits: functions that allocate arrays whose size follows from their arguments estimate
the bytes first and refuse, with a :class:`ValueError` naming the estimate and the limit, anything
above :data:`MEMORY_LIMIT` (``docs/io.md``, "Input guards").
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_generator", "check_array", "check_boolean", "check_positive_int", "check_inputs", "check_real",
           "check_bool", "check_memory", "MEMORY_LIMIT"]

#: Largest allocation (bytes) a public function may plan before it refuses with a ValueError; the
#: functions that check it also take ``memory_limit=`` per call. Change it process-wide with
#: ``provable_mha._validation.MEMORY_LIMIT = ...`` (read at call time).
MEMORY_LIMIT: int = 4 * 2**30


def as_generator(rng: int | np.random.Generator | None) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` from a seed, a generator or ``None``.

    An ``int`` seeds a fresh PCG64 generator, so equal seeds give equal streams; a
    ``Generator`` is used as is (and advanced); ``None`` draws fresh OS entropy.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, numbers.Integral):
        raise ValueError(f"rng must be an int seed, a numpy Generator or None, got {type(rng).__name__}")
    if int(rng) < 0:
        raise ValueError(f"rng seed must be non-negative, got {rng}")
    return np.random.default_rng(int(rng))


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    """Validate an integer argument ``value >= minimum`` and return it as ``int``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(value, name: str, *, minimum: float | None = None, maximum: float | None = None,
               strict_min: bool = False, strict_max: bool = False) -> float:
    """Validate a real, finite number (not a bool) within optional bounds and return it as ``float``.

    ``strict_min``/``strict_max`` make the bounds exclusive.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if minimum is not None and (v <= minimum if strict_min else v < minimum):
        raise ValueError(f"{name} must be {'>' if strict_min else '>='} {minimum}, got {value!r}")
    if maximum is not None and (v >= maximum if strict_max else v > maximum):
        raise ValueError(f"{name} must be {'<' if strict_max else '<='} {maximum}, got {value!r}")
    return v


def check_bool(value, name: str) -> bool:
    """Validate a flag: ``True``/``False`` (or numpy booleans) only, never a truthy object."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_memory(nbytes: int | float, what: str, limit: int | float | None = None) -> None:
    """Refuse a planned allocation of about ``nbytes`` bytes above ``limit`` (default :data:`MEMORY_LIMIT`).

    Called *before* allocating; the message names what would be allocated, the estimate and the limit.
    """
    if limit is None:
        limit = MEMORY_LIMIT
    elif (isinstance(limit, (bool, np.bool_)) or not isinstance(limit, numbers.Real) or np.isnan(limit)
          or limit < 0):
        raise ValueError(f"memory_limit must be a number of bytes >= 0 (math.inf: no limit), got {limit!r}")
    if nbytes > limit:
        raise ValueError(f"{what} would allocate about {_gib(nbytes)}, above the memory limit of {_gib(limit)} "
                         "(pass memory_limit=... or set provable_mha._validation.MEMORY_LIMIT to allow it)")


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GiB"


def check_array(a, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Convert ``a`` to a finite float64 array, checking its number of dimensions.

    Raises
    ------
    ValueError
        If ``a`` is not numeric, has the wrong ``ndim``, or holds NaN/inf.
    """
    try:
        arr = np.asarray(a)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real, got complex dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            want = " or ".join(str(x) for x in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {arr.shape}")
    if arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def check_inputs(X, name: str = "X", d: int | None = None) -> tuple[np.ndarray, bool]:
    """Validate token matrices ``(k, d)`` or batches ``(n, k, d)``.

    Returns the batch as ``(n, k, d)`` float64 and whether the input was a single example.
    """
    arr = check_array(X, name, ndim=(2, 3))
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.shape[1] < 1 or arr.shape[2] < 1:
        raise ValueError(f"{name} must have at least one token and one coordinate, got {arr.shape}")
    if d is not None and arr.shape[2] != d:
        raise ValueError(f"{name} has token dimension {arr.shape[2]}, but the layer has d = {d}")
    return arr, single


def check_boolean(X, name: str = "X") -> np.ndarray:
    """Validate that every entry of ``X`` is exactly +1 or -1 (the Boolean model)."""
    arr = check_array(X, name)
    if arr.size and not np.all(np.abs(arr) == 1.0):
        bad = arr[np.abs(arr) != 1.0].ravel()[:3]
        raise ValueError(f"{name} must have entries in {{-1, +1}} (Boolean model); found {bad.tolist()}")
    return arr
