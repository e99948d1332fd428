"""Lossless, atomic, verified save/load of layers and results: one ``.npz`` with arrays plus a JSON header.

``docs/io.md`` describes the format (version :data:`FORMAT_VERSION`: arrays, header, ``sha256``
content hash), why :func:`save` is atomic (temporary file, fsync, ``os.replace``: a failed save
leaves an existing file byte-identical) and what :func:`load` verifies (archive, header, hash, and
the object itself, e.g. :meth:`Certificate.verify`; anything inconsistent is a
:class:`~provable_mha.FormatError`). Objects take part through ``to_payload() -> (kind, arrays,
meta)`` and :func:`register_kind`, whose loader may be a ``"module:Class.method"`` string imported
on first use (so this module never imports the learner).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import math
import os
import secrets
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ._validation import check_bool, check_memory
from .errors import FormatError
from .model import MultiHeadAttention

__all__ = ["save", "load", "read_header", "register_kind", "jsonable", "content_hash", "UnverifiedFileWarning",
           "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "provable_mha"
FORMAT_VERSION = 2
_UNHASHED_VERSIONS = (1,)  # readable, but written before the content hash existed
_META_KEY = "__meta__"
_HASH_KEY = "sha256"
Loader = Callable[[dict[str, np.ndarray], dict[str, Any]], Any]
_LOADERS: dict[str, Loader | str] = {}


class UnverifiedFileWarning(UserWarning):
    """A file was loaded whose content could not be verified (format version 1 has no content hash)."""


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


register_kind("MultiHeadAttention", lambda arrays, meta: MultiHeadAttention(arrays["thetas"], arrays["ws"]))


# -- metadata and hash ------------------------------------------------------------------------
def jsonable(obj, *, strict: bool = False, _path: str = "meta"):
    """``obj`` as JSON values: numpy scalars/arrays as Python values, non-finite floats as strings.

    With ``strict=True`` (what :func:`save` uses) anything without a JSON form (a set, bytes, an
    object) and dictionary keys that collide as strings raise ``ValueError`` naming the entry;
    otherwise such values are returned unchanged (for ``json.dumps(..., default=str)``).
    """
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            key = str(k)
            if strict and key in out:
                raise ValueError(f"{_path}: keys {k!r} and {key!r} collide as JSON strings")
            out[key] = jsonable(v, strict=strict, _path=f"{_path}[{key!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, strict=strict, _path=f"{_path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray) and not obj.dtype.hasobject:
        return jsonable(obj.tolist(), strict=strict, _path=_path)
    if isinstance(obj, np.generic) and not isinstance(obj, np.object_):
        return jsonable(obj.item(), strict=strict, _path=_path)
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)  # 'inf', 'nan' survive JSON as strings
    if obj is None or isinstance(obj, (bool, int, float, str)) or not strict:
        return obj
    raise ValueError(f"{_path} is not JSON-serialisable metadata: {type(obj).__name__} {obj!r:.60}")


def _canonical(obj) -> str:
    """Canonical JSON: sorted keys, no spaces, ASCII, no NaN/inf (the form the hash is taken of)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def content_hash(arrays: dict[str, np.ndarray], header: dict) -> str:
    """SHA-256 (hex) of the arrays and the header without its ``sha256`` field (``docs/io.md``).

    Fed, each piece preceded by its length as 8 little-endian bytes: the canonical JSON of the
    header, then for every array in sorted key order the canonical JSON of ``[key, dtype.str,
    shape]`` and the array's C-order bytes.
    """
    h = hashlib.sha256()

    def feed(data) -> None:
        h.update(struct.pack("<Q", len(data)))
        h.update(data)

    feed(_canonical({k: v for k, v in header.items() if k != _HASH_KEY}).encode("ascii"))
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        feed(_canonical([key, a.dtype.str, list(a.shape)]).encode("ascii"))
        feed(a.reshape(-1).view(np.uint8).data if a.size else b"")
    return h.hexdigest()


# -- save -------------------------------------------------------------------------------------
def _payload(obj) -> tuple[str, dict[str, np.ndarray], dict]:
    if isinstance(obj, MultiHeadAttention):
        kind, arrays, meta = "MultiHeadAttention", {"thetas": obj.thetas, "ws": obj.ws}, {}
    elif hasattr(obj, "to_payload"):
        kind, arrays, meta = obj.to_payload()
    else:
        raise ValueError(f"cannot save objects of type {type(obj).__name__}")
    if kind not in _LOADERS:
        raise ValueError(f"no loader registered for kind {kind!r}")
    out = {}
    for key, value in arrays.items():
        if not isinstance(key, str) or not key or "/" in key or key == _META_KEY:
            raise ValueError(f"array key {key!r} is reserved or not a plain name")
        a = np.asarray(value)
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
            raise ValueError(f"array {key!r} has dtype {a.dtype}; only numeric arrays are saved")
        out[key] = a
    return kind, out, dict(meta)


def save(obj, path: str | os.PathLike, *, seed: int | None = None, **extra_meta) -> str:
    """Save a :class:`MultiHeadAttention` or a result object to ``path`` atomically (no suffix added).

    Parameters
    ----------
    obj : MultiHeadAttention or object with ``to_payload``
    path : str or PathLike
    seed : int, optional
        Stored in the header for provenance.
    **extra_meta
        Further JSON-serialisable metadata (names must differ from the object's own metadata).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        Unsupported object, metadata that has no JSON form, a name clash, a bad seed: raised before
        anything is written. ``OSError`` from the file system (missing directory, full disk) leaves
        an existing file at ``path`` untouched.
    """
    from . import __version__

    kind, arrays, meta = _payload(obj)
    if seed is not None and (isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an integer or None, got {seed!r}")
    clash = sorted(set(extra_meta) & set(meta))
    if clash:
        raise ValueError(f"extra metadata {clash} would overwrite the {kind}'s own metadata")
    try:
        meta = jsonable({**meta, **extra_meta}, strict=True)
    except RecursionError as exc:
        raise ValueError("metadata is nested too deeply or contains itself") from exc
    header = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "kind": kind, "package_version": __version__,
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
        "seed": None if seed is None else int(seed), "meta": meta,
    }
    header[_HASH_KEY] = content_hash(arrays, header)
    text = _canonical(header)
    path = os.fspath(path)
    _atomic_write(path, lambda fh: np.savez(fh, **arrays, **{_META_KEY: np.array(text)}))
    return path


def _atomic_write(path: str, write: Callable[[Any], None]) -> None:
    """Run ``write(fh)`` on a temporary file beside ``path``, fsync it, and rename it over ``path``."""
    target = os.path.realpath(path) if os.path.islink(path) else path
    folder = os.path.dirname(os.path.abspath(target))
    mode = os.stat(target).st_mode & 0o7777 if os.path.isfile(target) else None
    for _ in range(100):
        tmp = os.path.join(folder, f".{os.path.basename(target)}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies, as for open()
            break
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
    else:  # pragma: no cover
        raise OSError(f"could not create a temporary file in {folder}")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable (POSIX; not possible everywhere)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


# -- load -------------------------------------------------------------------------------------
def _read_entry(path: str, name: str, data: bytes) -> np.ndarray:
    """One ``.npy`` entry, after checking that its header's dtype and shape match its size."""
    fh = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise FormatError(f"{path}: entry {name!r} has .npy version {version}, not written by save")
        if dtype.hasobject:
            raise FormatError(f"{path}: entry {name!r} holds Python objects, which are never loaded")
        if math.prod(shape) * dtype.itemsize != len(data) - fh.tell():
            raise FormatError(f"{path}: entry {name!r} declares shape {shape} {dtype} but holds "
                              f"{len(data) - fh.tell()} bytes of data")
        fh.seek(0)
        return np.lib.format.read_array(fh, allow_pickle=False)
    except FormatError:
        raise
    except (ValueError, EOFError, TypeError, SyntaxError, OverflowError) as exc:
        raise FormatError(f"{path}: entry {name!r} is not a readable array: {exc}") from exc


_ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError,
                   RuntimeError, zlib.error, struct.error, OSError)


def _read_arrays(path: str, memory_limit) -> dict[str, np.ndarray]:
    """Every entry of the archive, after checking names, sizes against the memory limit and CRCs."""
    try:
        zf = zipfile.ZipFile(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except _ARCHIVE_ERRORS as exc:
        raise FormatError(f"{path} is not a readable provable_mha .npz file: {exc}") from exc
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise FormatError(f"{path}: duplicate entries in the archive")
        bad = [n for n in names if not n.endswith(".npy")]
        if bad:
            raise FormatError(f"{path}: entries {bad[:3]} are not arrays: not written by provable_mha.save")
        # save stores entries uncompressed, so each declared size is bytes actually in the file
        size = os.path.getsize(path)
        for i in infos:
            if i.compress_type != zipfile.ZIP_STORED or i.file_size != i.compress_size or i.file_size > size:
                raise FormatError(f"{path}: entry {i.filename!r} is compressed or declares {i.file_size} bytes "
                                  f"(archive: {size}): not written by provable_mha.save, or corrupt")
        check_memory(2 * sum(i.file_size for i in infos), f"loading {path}", memory_limit)
        try:
            return {i.filename[:-4]: _read_entry(path, i.filename, zf.read(i)) for i in infos}
        except FormatError:
            raise
        except _ARCHIVE_ERRORS as exc:
            raise FormatError(f"{path} is not a readable provable_mha .npz file: {exc}") from exc


def _no_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def _parse_header(path: str, raw: np.ndarray | None) -> dict:
    if raw is None:
        raise FormatError(f"{path} has no {_META_KEY} entry: not written by provable_mha.save")
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise FormatError(f"{path}: {_META_KEY} is not a JSON string")
    try:
        header = json.loads(str(raw), parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise FormatError(f"{path}: corrupt metadata ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise FormatError(f"{path} is not a {FORMAT_NAME} file")
    version = header.get("version")
    if isinstance(version, bool) or version not in (FORMAT_VERSION, *_UNHASHED_VERSIONS):
        raise FormatError(f"{path} has format version {version!r}; this build reads versions "
                          f"{sorted((FORMAT_VERSION, *_UNHASHED_VERSIONS))}")
    return header


def _check_structure(path: str, arrays: dict, header: dict) -> None:
    shapes, kind, seed = header.get("shapes"), header.get("kind"), header.get("seed")
    if not isinstance(kind, str):
        raise FormatError(f"{path}: object kind {kind!r} is not a string")
    if not isinstance(header.get("meta", {}), dict):
        raise FormatError(f"{path}: metadata is not a JSON object")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise FormatError(f"{path}: seed {seed!r} is not an integer")
    if not isinstance(shapes, dict) or set(shapes) != set(arrays):
        raise FormatError(f"{path}: the header's array list does not match the arrays in the file "
                          f"({sorted(shapes) if isinstance(shapes, dict) else shapes!r} vs {sorted(arrays)})")
    for key, shape in shapes.items():
        if not isinstance(shape, list) or [int(s) for s in arrays[key].shape] != shape:
            raise FormatError(f"{path}: array {key!r} has shape {list(arrays[key].shape)}, header says {shape!r}")


def _open(path, *, allow_unverified: bool = True, memory_limit=None) -> tuple[dict[str, np.ndarray], dict]:
    """Read, check structure and hash; returns ``(arrays, header)``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    arrays = _read_arrays(path, memory_limit)
    header = _parse_header(path, arrays.pop(_META_KEY, None))
    _check_structure(path, arrays, header)
    if header["version"] == FORMAT_VERSION:
        stored = header.get(_HASH_KEY)
        try:
            actual = content_hash(arrays, header)
        except (TypeError, ValueError) as exc:  # e.g. a NaN smuggled into the header
            raise FormatError(f"{path}: header cannot be put in canonical form ({exc})") from exc
        if stored != actual:
            raise FormatError(f"{path}: content hash mismatch (stored {str(stored)[:16]}..., computed "
                              f"{actual[:16]}...): the file was modified after it was written, or is corrupt")
    elif not allow_unverified:
        raise FormatError(f"{path} has format version {header['version']}, which carries no content hash "
                          "(pass allow_unverified=True to load it unverified)")
    else:
        warnings.warn(f"{path} has format version {header['version']} (no content hash): loaded without "
                      "verifying its content; save it again to add one", UnverifiedFileWarning, stacklevel=3)
    return arrays, header


def read_header(path: str | os.PathLike) -> dict:
    """Return the JSON header of a file written by :func:`save` (structure and hash verified)."""
    return _open(path)[1]


def _inconsistencies(obj) -> list[str]:
    """What the rebuilt object says about itself that does not hold."""
    issues = []
    layer = getattr(obj, "layer", None)
    if isinstance(layer, MultiHeadAttention):
        for name in ("m", "d"):
            stated, actual = getattr(obj, name, None), getattr(layer, name)
            if stated is not None and stated != actual:
                issues.append(f"{name} = {stated!r} but the stored layer has {name} = {actual}")
    cert = getattr(obj, "certificate", None)
    if cert is not None and callable(getattr(cert, "verify", None)):
        issues += [f"certificate: {s}" for s in cert.verify()]
        k = getattr(obj, "k", None)
        if isinstance(layer, MultiHeadAttention) and isinstance(k, int) and k > 0 and cert.identifiable is True:
            from .identifiability import identifiability  # decidable from the stored layer and k

            if not identifiability(layer, k).identifiable:
                issues.append("certificate: identifiable = True, but the stored layer has heads that examples "
                              f"with k = {k} tokens cannot tell apart")
    return issues


def load(path: str | os.PathLike, *, allow_unverified: bool = True, memory_limit: float | None = None):
    """Load an object written by :func:`save`, verifying it (``docs/io.md``).

    Parameters
    ----------
    path : str or PathLike
    allow_unverified : bool
        Load files of format version 1, which have no content hash, with an
        :class:`UnverifiedFileWarning` (default); if false, refuse them.
    memory_limit : float, optional
        Bytes the arrays may take (default the package limit, 4 GiB), checked before reading them.

    Raises
    ------
    FormatError
        (a ``ValueError``) if the file is corrupt, truncated, edited (content hash), not a
        ``provable_mha`` file, or rebuilds into an inconsistent object (e.g. a certificate whose
        claims contradict its own numbers: :meth:`Certificate.verify`).
    FileNotFoundError
        If ``path`` does not exist.
    """
    allow_unverified = check_bool(allow_unverified, "allow_unverified")
    arrays, header = _open(path, allow_unverified=allow_unverified, memory_limit=memory_limit)
    where = os.fspath(path)
    kind = header["kind"]
    if kind not in _LOADERS:
        raise FormatError(f"{where}: unknown object kind {kind!r}")
    try:
        obj = _loader(kind)(arrays, header.get("meta", {}))
        issues = _inconsistencies(obj)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        raise FormatError(f"{where}: could not rebuild {kind}: {exc}") from exc
    if issues:
        raise FormatError(f"{where}: inconsistent {kind}, refused: " + "; ".join(issues))
    return obj
