"""Lossless save/load of layers and results: one ``.npz`` with arrays plus JSON metadata.

File layout (format ``provable_mha``, version :data:`FORMAT_VERSION`): every numeric array is
stored under its own key; the key ``__meta__`` holds a JSON document with the format name,
version, the object ``kind``, the package version, shapes and any scalar metadata (seeds,
certificates, phase diagnostics). Float64 arrays round-trip bit for bit. Objects take part by
implementing ``to_payload() -> (kind, arrays, meta)`` and registering their loader with
:func:`register_kind`, either as a callable or as a ``"module:Class.method"`` string that is
imported only when a file of that kind is loaded. The package ``__init__`` registers the
learner's kinds that way, so this module never imports the learner (no import cycle).
"""

from __future__ import annotations

import importlib
import json
import os
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import FormatError
from .model import MultiHeadAttention

__all__ = ["save", "load", "register_kind", "jsonable", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "provable_mha"
FORMAT_VERSION = 1
_META_KEY = "__meta__"
Loader = Callable[[dict[str, np.ndarray], dict[str, Any]], Any]
_LOADERS: dict[str, Loader | str] = {}


def register_kind(kind: str, loader: Loader | str) -> None:
    """Register ``loader(arrays, meta)`` for files whose metadata says ``kind``.

    ``loader`` may be a string ``"package.module:Class.method"``, resolved on first use.
    """
    _LOADERS[kind] = loader


def _loader(kind: str) -> Loader:
    loader = _LOADERS[kind]
    if isinstance(loader, str):
        module, _, attr = loader.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        _LOADERS[kind] = loader = obj
    return loader


def _layer_payload(layer: MultiHeadAttention):
    return "MultiHeadAttention", {"thetas": layer.thetas, "ws": layer.ws}, {}


register_kind("MultiHeadAttention", lambda arrays, meta: MultiHeadAttention(arrays["thetas"], arrays["ws"]))


def jsonable(obj):
    """``obj`` with numpy scalars/arrays as Python values and non-finite floats as strings (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return repr(obj)  # 'inf', 'nan' survive JSON as strings
    return obj


def save(obj, path: str | os.PathLike, *, seed: int | None = None, **extra_meta) -> str:
    """Save a :class:`MultiHeadAttention` or a result object to ``path`` (exact path, no suffix added).

    Parameters
    ----------
    obj : MultiHeadAttention or object with ``to_payload``
    path : str or PathLike
    seed : int, optional
        Stored in the metadata for provenance.
    **extra_meta
        Further JSON-serialisable metadata.

    Returns
    -------
    str
        The path written.
    """
    from . import __version__

    if isinstance(obj, MultiHeadAttention):
        kind, arrays, meta = _layer_payload(obj)
    elif hasattr(obj, "to_payload"):
        kind, arrays, meta = obj.to_payload()
    else:
        raise ValueError(f"cannot save objects of type {type(obj).__name__}")
    if kind not in _LOADERS:
        raise ValueError(f"no loader registered for kind {kind!r}")
    if _META_KEY in arrays:
        raise ValueError(f"array key {_META_KEY!r} is reserved")
    header = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": kind,
        "package_version": __version__,
        "shapes": {k: list(np.shape(v)) for k, v in arrays.items()},
        "seed": seed,
        "meta": jsonable({**meta, **extra_meta}),
    }
    path = os.fspath(path)
    with open(path, "wb") as fh:
        np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()},
                 **{_META_KEY: np.array(json.dumps(header))})
    return path


def read_header(path: str | os.PathLike) -> dict:
    """Return the JSON header of a file written by :func:`save` (validated)."""
    return _open(path)[1]


def _open(path) -> tuple[dict[str, np.ndarray], dict]:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise FormatError(f"{path} is not a readable provable_mha .npz file: {exc}") from exc
    if _META_KEY not in arrays:
        raise FormatError(f"{path} has no {_META_KEY} entry: not written by provable_mha.save")
    try:
        header = json.loads(str(arrays.pop(_META_KEY)))
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path}: corrupt metadata ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise FormatError(f"{path} is not a {FORMAT_NAME} file")
    if header.get("version") != FORMAT_VERSION:
        raise FormatError(f"{path} has format version {header.get('version')}; this build reads {FORMAT_VERSION}")
    for key, shape in header.get("shapes", {}).items():
        if key not in arrays or list(arrays[key].shape) != list(shape):
            raise FormatError(f"{path}: array {key!r} is missing or has the wrong shape")
    return arrays, header


def load(path: str | os.PathLike):
    """Load an object written by :func:`save`.

    Raises
    ------
    FormatError
        (a ``ValueError``) if the file is corrupt, truncated, or not a ``provable_mha`` file.
    """
    arrays, header = _open(path)
    kind = header.get("kind")
    if kind not in _LOADERS:
        raise FormatError(f"{os.fspath(path)}: unknown object kind {kind!r}")
    try:
        return _loader(kind)(arrays, header.get("meta", {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{os.fspath(path)}: could not rebuild {kind}: {exc}") from exc
