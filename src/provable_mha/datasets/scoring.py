"""Scoring submitted predictions against a dataset's test split."""

from __future__ import annotations

import contextlib
import os
import zipfile
from typing import TYPE_CHECKING

import numpy as np

from ..sampling import relative_error

if TYPE_CHECKING:  # pragma: no cover
    from . import Dataset

__all__ = ["load_predictions", "score_predictions"]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def load_predictions(path: str | os.PathLike) -> np.ndarray:
    """Read predictions from ``.npy`` or from ``.npz`` (key ``predictions``, or its only array)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    if not path.endswith((".npy", ".npz")):
        raise ValueError(f"predictions file {path!r} must be a .npy or .npz file")
    with open(path, "rb") as fh:
        head = fh.read(6)
    if not head.startswith(b"\x93NUMPY" if path.endswith(".npy") else b"PK\x03\x04"):
        raise ValueError(f"predictions file {path!r} is not a NumPy {path[-4:]} file (wrong signature)")
    try:
        with contextlib.ExitStack() as stack:
            obj = np.load(path, allow_pickle=False)
            if isinstance(obj, np.lib.npyio.NpzFile):
                stack.enter_context(obj)
                keys = ["predictions"] if "predictions" in obj.files else obj.files
                if len(keys) != 1:
                    raise ValueError(f"it holds arrays {obj.files}; name one 'predictions'")
                obj = obj[keys[0]]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ValueError(f"cannot read predictions from {path!r}: {_one_line(exc)}") from exc
    return obj


def score_predictions(dataset: Dataset, predictions, *, tol: float = 1e-6) -> dict:
    r"""Score predictions :math:`P` of ``Y_test`` (shape ``(n_test, k, d)``).

    Returns ``relative_error`` :math:`\|P - Y\|_F/\|Y\|_F`, ``max_residual``
    :math:`\max_{n,a,c}|P_{nac} - Y_{nac}|`, ``exact_match_rate`` (fraction of test examples with
    :math:`\max_{a,c}|P_{nac} - Y_{nac}| \le` ``tol``), ``tol``, ``n_test`` and the dataset digest.
    """
    Y = dataset.Y_test
    P = np.asarray(predictions)
    if P.dtype.kind not in "fiu":
        raise ValueError(f"predictions must be a real numeric array, got dtype {P.dtype}")
    if P.shape != Y.shape:
        raise ValueError(f"predictions have shape {P.shape} but the test split Y_test has shape {Y.shape} "
                         "(n_test, k, d)")
    P = P.astype(np.float64)
    bad = ~np.isfinite(P)
    if bad.any():
        raise ValueError(f"predictions contain {int(bad.sum())} NaN or inf entries (first at index "
                         f"{tuple(int(i) for i in np.argwhere(bad)[0])})")
    if not (isinstance(tol, (int, float)) and np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    resid = np.abs(P - Y)
    return {"n_test": int(Y.shape[0]), "relative_error": relative_error(lambda _X: P, dataset.X_test, Y),
            "max_residual": float(resid.max()), "tol": float(tol),
            "exact_match_rate": float(np.mean(resid.max(axis=(1, 2)) <= tol)), "digest": dataset.digest}
