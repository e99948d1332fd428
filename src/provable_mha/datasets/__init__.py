r"""Benchmark datasets: a layer, its training and test samples and a JSON *card*, in one ``.npz``.

A dataset fixes one learning problem so that any learner can be scored on it. The file (format
``provable_mha.dataset``, version :data:`FORMAT_VERSION`, documented key by key in
``docs/datasets.md``) holds the float64 arrays ``X_train``, ``Y_train``, ``X_test``, ``Y_test``,
``thetas``, ``ws`` and the key ``card``: a JSON document with the generating parameters, the
seed and the recipe of every array, the layer's :func:`~provable_mha.check_conditions` report,
the package version, the data license (:data:`LICENSE`) and a SHA-256 digest of card and arrays
(:func:`content_digest`). The card is checked against :data:`CARD_SCHEMA` (a JSON-Schema subset,
validated by :mod:`.card` without a ``jsonschema`` dependency) and the digest is re-computed on
every :func:`load_dataset`, so an edited array or card is reported instead of silently scored.
:mod:`.scoring` scores submitted predictions of ``Y_test``.

Sampling (``seed`` an integer; the streams are those of :mod:`provable_mha.sweep`, so
``provable-mha learn --seed s --n n`` draws the same training examples):

.. math::

    X_{\rm train} \sim \mathrm{Unif}\{\pm1\}^{n\times k\times d},\quad
    Y_{\rm train} = F(X_{\rm train}) + \sigma\,\xi,\ \xi_{ntc} \sim N(0,1),\quad
    X_{\rm test} \sim \mathrm{Unif}\{\pm1\}^{n_{\rm test}\times k\times d},\quad
    Y_{\rm test} = F(X_{\rm test})\ \text{(noiseless)}.
"""

from __future__ import annotations

import contextlib
import json
import numbers
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_positive_int
from ..conditions import check_conditions
from ..errors import FormatError
from ..instances import planted_instance
from ..io import jsonable
from ..model import MultiHeadAttention
from ..sampling import sample_boolean
from ..sweep import _stream
from .card import (
    ARRAY_KEYS,
    CARD_SCHEMA,
    FORMAT_NAME,
    FORMAT_VERSION,
    INSTANCE_SCHEMAS,
    LICENSE,
    content_digest,
    validate,
    validate_card,
)
from .scoring import _one_line, load_predictions, score_predictions

__all__ = ["Dataset", "export_dataset", "load_dataset", "validate_card", "content_digest",
           "build_instance", "score_predictions", "load_predictions", "write_csv",
           "CARD_SCHEMA", "INSTANCE_SCHEMAS", "FORMAT_NAME", "FORMAT_VERSION", "LICENSE", "ARRAY_KEYS"]

CARD_KEY = "card"  # the npz entry holding the card as JSON text


# -- instances ---------------------------------------------------------------------------------
def build_instance(spec: dict) -> tuple[dict, MultiHeadAttention]:
    """Normalise an instance recipe and build its layer.

    ``{"kind": "planted", "m", "d", "k", "scale" (1.0), "rank" (None), "seed" (0)}`` gives
    :func:`~provable_mha.planted_instance`; ``{"kind": "parity", "m", "d", "secret", "a_max" (40)}``
    gives :func:`provable_mha.hardness.parity_instance` (``k = 2``). Returns ``(card_instance, layer)``.
    """
    if not isinstance(spec, dict) or spec.get("kind") not in ("planted", "parity"):
        raise ValueError(f"instance must be a MultiHeadAttention or a dict with kind 'planted' or 'parity', "
                         f"got {spec!r:.80}")
    m, d = check_positive_int(spec.get("m"), "instance m"), check_positive_int(spec.get("d"), "instance d")
    if spec["kind"] == "planted":
        rank = spec.get("rank")
        norm = {"kind": "planted", "m": m, "d": d, "k": check_positive_int(spec.get("k"), "instance k"),
                "scale": float(spec.get("scale", 1.0)),
                "rank": None if rank is None else check_positive_int(rank, "instance rank"),
                "seed": check_positive_int(spec.get("seed", 0), "instance seed", minimum=0)}
        build = lambda: planted_instance(m, d, norm["k"], norm["scale"], rng=norm["seed"], rank=norm["rank"])
    else:
        from ..hardness.parity import check_secret, parity_instance

        if spec.get("k", 2) != 2:
            raise ValueError(f"the parity family is defined for k = 2 tokens, got k = {spec['k']}")
        norm = {"kind": "parity", "m": m, "d": d, "k": 2, "secret": list(check_secret(spec.get("secret", ()), m, d)),
                "a_max": float(spec.get("a_max", 40.0))}
        build = lambda: parity_instance(norm["secret"], m, d, a_max=norm["a_max"])
    unknown = sorted(set(spec) - set(norm))
    if unknown:
        raise ValueError(f"unknown instance field {unknown[0]!r} for kind {spec['kind']!r}")
    validate(norm, INSTANCE_SCHEMAS[norm["kind"]], "instance")
    return norm, build()


# -- the dataset object, export and load -------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded or freshly exported dataset: read-only arrays, the layer and the card."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    layer: MultiHeadAttention
    card: dict

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The six stored arrays by their file keys."""
        return {"X_train": self.X_train, "Y_train": self.Y_train, "X_test": self.X_test,
                "Y_test": self.Y_test, "thetas": self.layer.thetas, "ws": self.layer.ws}

    @property
    def digest(self) -> str:
        return self.card["integrity"]["digest"]

    def long_table(self) -> dict[str, np.ndarray]:
        """One row per (split, example, token, coordinate): columns for ``pandas.DataFrame``.

        Columns ``split`` ("train"/"test"), ``example``, ``token``, ``coord``, ``x`` (the ±1 input
        entry ``X[example, token, coord]``) and ``y`` (the label entry at the same index).
        """
        parts = []
        for split, X, Y in (("train", self.X_train, self.Y_train), ("test", self.X_test, self.Y_test)):
            idx = np.indices(X.shape).reshape(3, -1)
            parts.append((np.full(X.size, split), *idx, X.ravel(), Y.ravel()))
        cols = ("split", "example", "token", "coord", "x", "y")
        return {c: np.concatenate([p[i] for p in parts]) for i, c in enumerate(cols)}


def _check_directory(path) -> str:
    """``path`` as a string, if its directory exists (checked before any work)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"cannot write {path!r}: directory {directory!r} does not exist")
    return path


def _atomic_write(path: str, write: Callable[[Any], None]) -> None:
    """Write ``path`` via a temporary file in the same directory: flush, fsync, ``os.replace``.

    A failure at any point leaves an existing ``path`` untouched and removes the temporary file.
    """
    directory = os.path.dirname(os.path.abspath(_check_directory(path)))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX only)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _recipes(noise: float) -> dict[str, str]:
    noise_part = " + noise * default_rng(SeedSequence([seed, 2])).standard_normal((n, k, d))" if noise > 0 else ""
    return {"X_train": "sample_boolean(n, k, d, default_rng(SeedSequence([seed, 1])))",
            "Y_train": "F(X_train)" + noise_part,
            "X_test": "sample_boolean(n_test, k, d, default_rng(SeedSequence([seed, 3])))",
            "Y_test": "F(X_test), noiseless",
            "thetas": "Theta_i of the layer F, built from card.instance",
            "ws": "W_i of the layer F, built from card.instance"}


#: Tokens per example when a bare layer is exported without ``k`` (as ``planted_instance`` and the CLI).
DEFAULT_K = 4


def export_dataset(path: str | os.PathLike, instance, n: int, rng: int | None = None, *, k: int | None = None,
                   n_test: int = 1000, noise: float = 0.0, description: str = "",
                   csv: str | os.PathLike | None = None) -> Dataset:
    """Sample a layer's training and test examples and write them, with the card, to ``path``.

    Parameters
    ----------
    path : str or PathLike
        The ``.npz`` to write (exact path); written atomically, an existing file is replaced only
        once the new one is complete on disk.
    instance : MultiHeadAttention or dict
        A layer (recorded as kind ``custom``; ``k`` defaults to :data:`DEFAULT_K`) or a recipe for
        :func:`build_instance` (kind ``planted`` or ``parity``), recorded in ``card["instance"]``.
    n, n_test : int
        Training and test examples.
    rng : int or None
        Sampling seed (recorded); ``None`` draws a fresh one from OS entropy and records it.
    k : int, optional
        Tokens per example: for a layer, default :data:`DEFAULT_K` = 4; else taken from the recipe (must
        agree if given).
    description : str
        Free text stored in the card (e.g. how a secret was chosen).
    noise : float
        Standard deviation of the Gaussian noise added to ``Y_train`` (``Y_test`` is noiseless).
    csv : str or PathLike, optional
        Also write the long table (:meth:`Dataset.long_table`) as CSV there (:func:`write_csv`).

    Returns
    -------
    Dataset
    """
    from .. import __version__

    path = _check_directory(path)
    if isinstance(instance, MultiHeadAttention):
        k = DEFAULT_K if k is None else k  # a bare layer does not carry k: the package-wide default
        inst, layer = {"kind": "custom", "m": instance.m, "d": instance.d, "k": check_positive_int(k, "k")}, instance
    else:
        inst, layer = build_instance(instance)
        if k is not None and k != inst["k"]:
            raise ValueError(f"k = {k} contradicts the instance's k = {inst['k']}")
    n, n_test = check_positive_int(n, "n"), check_positive_int(n_test, "n_test")
    if isinstance(noise, bool) or not (isinstance(noise, numbers.Real) and np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if isinstance(rng, bool) or (rng is not None and not isinstance(rng, numbers.Integral)):
        raise ValueError(f"rng must be an int seed (it is recorded in the card) or None, got {type(rng).__name__}")
    seed = int(np.random.SeedSequence().entropy) if rng is None else check_positive_int(rng, "rng", minimum=0)
    m, d, kk = inst["m"], inst["d"], inst["k"]
    X = sample_boolean(n, kk, d, _stream(seed, "train"))
    Y = layer(X)
    if noise > 0:
        Y = Y + noise * _stream(seed, "noise").standard_normal(Y.shape)
    Xt = sample_boolean(n_test, kk, d, _stream(seed, "test"))
    arrays = {"X_train": X, "Y_train": Y, "X_test": Xt, "Y_test": layer(Xt), "thetas": layer.thetas, "ws": layer.ws}
    recipes = _recipes(noise)
    card = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "package_version": __version__,
            "license": LICENSE, "description": str(description),
            "parameters": {"kind": inst["kind"], "m": m, "d": d, "k": kk, "n": n, "n_test": n_test,
                           "noise": float(noise), "seed": seed},
            "instance": inst,
            "arrays": {key: {"shape": list(a.shape), "dtype": "float64", "drawn": recipes[key]}
                       for key, a in arrays.items()},
            "conditions": jsonable(check_conditions(layer, kk).to_dict())}
    card["integrity"] = {"algorithm": "sha256", "digest": content_digest(card, arrays)}
    validate_card(card, arrays)  # the writer checks its own output against the schema
    text = np.array(json.dumps(card, indent=2, sort_keys=True, allow_nan=False))
    _atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays, **{CARD_KEY: text}))
    ds = _dataset(arrays, card)
    if csv is not None:
        write_csv(ds, csv)
    return ds


def _dataset(arrays: dict[str, np.ndarray], card: dict) -> Dataset:
    frozen = {}
    for key in ("X_train", "Y_train", "X_test", "Y_test"):
        frozen[key] = np.array(arrays[key], dtype=np.float64)
        frozen[key].setflags(write=False)
    return Dataset(**frozen, layer=MultiHeadAttention(arrays["thetas"], arrays["ws"]), card=card)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Load and verify a dataset written by :func:`export_dataset`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    FormatError
        (a ``ValueError``) if the file is not a readable ``.npz``, has no valid card, or its
        content hash does not match (an array or the card was edited).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    if not zipfile.is_zipfile(path):
        raise FormatError(f"{path} is not an .npz archive (no zip signature): not a provable_mha dataset")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise FormatError(f"{path} is not a readable .npz file: {_one_line(exc)}") from exc
    raw = arrays.pop(CARD_KEY, None)
    if raw is None or raw.ndim != 0 or raw.dtype.kind != "U":
        raise FormatError(f"{path} has no {CARD_KEY!r} text entry: not a provable_mha dataset")
    try:
        card = json.loads(str(raw[()]), parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError or a NaN/Infinity literal
        raise FormatError(f"{path}: the card is not valid JSON ({exc})") from exc
    try:
        validate_card(card, arrays)
    except FormatError as exc:
        raise FormatError(f"{path}: {exc}") from None
    return _dataset(arrays, card)


def write_csv(dataset: Dataset, path: str | os.PathLike) -> str:
    """Write :meth:`Dataset.long_table` as CSV (header ``split,example,token,coord,x,y``), atomically.

    Floats are written with Python's shortest round-trip ``repr``, so parsing them back
    (``float``, ``numpy.loadtxt``, ``pandas.read_csv`` -- before pandas 3 with
    ``float_precision="round_trip"``) is exact.
    The ``.npz`` stays the authoritative copy: the CSV carries neither card nor digest.
    """
    path = os.fspath(path)
    t = dataset.long_table()
    rows = zip(t["split"].tolist(), t["example"].tolist(), t["token"].tolist(), t["coord"].tolist(),
               t["x"].tolist(), t["y"].tolist(), strict=True)
    lines = ["split,example,token,coord,x,y"] + [f"{s},{e},{a},{c},{x!r},{y!r}" for s, e, a, c, x, y in rows]
    _atomic_write(path, lambda fh: fh.write(("\n".join(lines) + "\n").encode()))
    return path


