r"""The dataset card: its JSON schema, a small validator for it, and the content digest.

:data:`CARD_SCHEMA` is written in a subset of JSON Schema (keywords ``type``, ``const``, ``enum``,
``minimum``, ``exclusiveMinimum``, ``pattern``, ``required``, ``properties``,
``additionalProperties``, ``items``), so any JSON-Schema validator accepts it; this module checks
it with :func:`validate_card` and needs no ``jsonschema`` dependency. ``card["instance"]`` is
checked against :data:`INSTANCE_SCHEMAS` chosen by its ``kind``. ``docs/datasets.md`` documents
every field.
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np

from ..errors import FormatError

__all__ = ["CARD_SCHEMA", "INSTANCE_SCHEMAS", "FORMAT_NAME", "FORMAT_VERSION", "LICENSE", "ARRAY_KEYS",
           "validate_card", "validate", "content_digest", "expected_shapes"]

FORMAT_NAME = "provable_mha.dataset"
FORMAT_VERSION = 1
LICENSE = "CC0-1.0"  # the generated data are dedicated to the public domain (docs/datasets.md)
ARRAY_KEYS = ("X_train", "Y_train", "X_test", "Y_test", "thetas", "ws")

_NAT, _POS = {"type": "integer", "minimum": 0}, {"type": "integer", "minimum": 1}
_STR, _NUM_OR_STR = {"type": "string"}, {"type": ["number", "string"]}  # 'inf' is stored as a string


def _obj(props: dict, required=None) -> dict:
    return {"type": "object", "required": list(props if required is None else required),
            "properties": props, "additionalProperties": False}


_CONDITION = _obj({"name": _STR, "value": _NUM_OR_STR, "threshold": _NUM_OR_STR,
                   "comparison": {"enum": ["<=", ">="]}, "passed": {"type": "boolean"},
                   "required": {"type": "boolean"}, "meaning": _STR})
CARD_SCHEMA: dict = _obj({
    "format": {"const": FORMAT_NAME},
    "format_version": {"const": FORMAT_VERSION},
    "package_version": _STR,
    "license": {"enum": [LICENSE]},
    "description": _STR,
    "parameters": _obj({"kind": {"enum": ["planted", "parity", "custom"]}, "m": _POS, "d": _POS,
                        "k": _POS, "n": _POS, "n_test": _POS,
                        "noise": {"type": "number", "minimum": 0}, "seed": _NAT}),
    "instance": {"type": "object", "required": ["kind"], "properties": {"kind": _STR}},  # + INSTANCE_SCHEMAS
    "arrays": _obj({key: _obj({"shape": {"type": "array", "items": _NAT}, "dtype": {"const": "float64"},
                               "drawn": _STR}) for key in ARRAY_KEYS}),
    "conditions": _obj({"m": _POS, "d": _POS, "k": _POS, "passed": {"type": "boolean"},
                        "conditions": {"type": "array", "items": _CONDITION}}),
    "integrity": _obj({"algorithm": {"const": "sha256"},
                       "digest": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}),
})
#: ``card["instance"]`` by kind: the recipe that rebuilds the layer (:func:`build_instance`).
INSTANCE_SCHEMAS: dict = {
    "planted": _obj({"kind": {"const": "planted"}, "m": _POS, "d": _POS, "k": _POS,
                     "scale": {"type": "number", "minimum": 0}, "rank": {"type": ["integer", "null"], "minimum": 1},
                     "seed": _NAT}),
    "parity": _obj({"kind": {"const": "parity"}, "m": _POS, "d": _POS, "k": {"const": 2},
                    "secret": {"type": "array", "items": _POS}, "a_max": {"type": "number", "exclusiveMinimum": 0}}),
    "custom": _obj({"kind": {"const": "custom"}, "m": _POS, "d": _POS, "k": _POS}),
}
_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _json_type(v) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    return next((name for name, t in _JSON_TYPES.items() if isinstance(v, t)), type(v).__name__)


def _is(v, t: str) -> bool:
    got = _json_type(v)
    return got == t or (t == "number" and got == "integer")


def validate(value, schema: dict, where: str) -> None:
    """Raise :class:`FormatError` naming the first place where ``value`` violates ``schema``."""
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_is(value, t) for t in types):
            raise FormatError(f"{where}: expected {' or '.join(types)}, got {_json_type(value)} {value!r:.60}")
    if "const" in schema and (value != schema["const"] or _json_type(value) != _json_type(schema["const"])):
        raise FormatError(f"{where}: expected {schema['const']!r}, got {value!r:.60}")
    if "enum" in schema and value not in schema["enum"]:
        raise FormatError(f"{where}: expected one of {schema['enum']}, got {value!r:.60}")
    if _is(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            raise FormatError(f"{where}: must be >= {schema['minimum']}, got {value!r}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            raise FormatError(f"{where}: must be > {schema['exclusiveMinimum']}, got {value!r}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        raise FormatError(f"{where}: {value!r:.80} does not match {schema['pattern']}")
    if isinstance(value, dict):
        missing = [key for key in schema.get("required", ()) if key not in value]
        if missing:
            raise FormatError(f"{where}: missing required field {missing[0]!r}")
        props = schema.get("properties", {})
        extra = sorted(set(value) - set(props)) if schema.get("additionalProperties", True) is False else []
        if extra:
            raise FormatError(f"{where}: unknown field {extra[0]!r}")
        for key, sub in props.items():
            if key in value:
                validate(value[key], sub, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], f"{where}[{i}]")


def expected_shapes(p: dict) -> dict[str, tuple[int, ...]]:
    n, nt, m, d, k = p["n"], p["n_test"], p["m"], p["d"], p["k"]
    return {"X_train": (n, k, d), "Y_train": (n, k, d), "X_test": (nt, k, d), "Y_test": (nt, k, d),
            "thetas": (m, d, d), "ws": (m, d, d)}


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def content_digest(card: dict, arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the card without ``integrity`` (canonical JSON) and of every array.

    Hashed in order: ``json.dumps(card_minus_integrity, sort_keys=True, separators=(",", ":"))``
    as UTF-8, then for each key in sorted order the line ``"\\n" + key + "|<f8|" +
    json.dumps(list(shape)) + "\\n"`` followed by the array's little-endian float64 bytes in C order.
    """
    h = hashlib.sha256(_canonical({key: v for key, v in card.items() if key != "integrity"}))
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key], dtype="<f8")
        h.update(f"\n{key}|<f8|{json.dumps(list(a.shape))}\n".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def validate_card(card, arrays: dict[str, np.ndarray] | None = None) -> None:
    """Check ``card`` against :data:`CARD_SCHEMA` (and, given ``arrays``, keys, shapes and digest).

    Raises
    ------
    FormatError
        (a ``ValueError``) naming the first violated field, or the digest mismatch.
    """
    if not isinstance(card, dict) or card.get("format") != FORMAT_NAME:
        fmt = card.get("format") if isinstance(card, dict) else card
        raise FormatError(f"card: format is {fmt!r:.60}, not {FORMAT_NAME!r}: not a provable_mha dataset")
    if card.get("format_version") != FORMAT_VERSION:
        raise FormatError(f"card: format version {card.get('format_version')!r}; this build reads {FORMAT_VERSION}")
    validate(card, CARD_SCHEMA, "card")
    inst, p = card["instance"], card["parameters"]
    if inst["kind"] not in INSTANCE_SCHEMAS:
        raise FormatError(f"card.instance.kind: expected one of {list(INSTANCE_SCHEMAS)}, got {inst['kind']!r}")
    validate(inst, INSTANCE_SCHEMAS[inst["kind"]], "card.instance")
    for key in ("kind", "m", "d", "k"):
        if inst[key] != p[key]:
            raise FormatError(f"card.instance.{key} = {inst[key]!r} but card.parameters.{key} = {p[key]!r}")
    shapes = expected_shapes(p)
    for key, shape in shapes.items():
        if card["arrays"][key]["shape"] != list(shape):
            raise FormatError(f"card.arrays.{key}.shape = {card['arrays'][key]['shape']} but the parameters "
                              f"give {list(shape)}")
    if arrays is None:
        return
    if set(arrays) != set(ARRAY_KEYS):
        raise FormatError(f"arrays {sorted(arrays)} differ from the documented keys {sorted(ARRAY_KEYS)}")
    for key, shape in shapes.items():
        a = arrays[key]
        if a.dtype.kind != "f" or a.dtype.itemsize != 8 or a.shape != shape:
            raise FormatError(f"array {key!r} is {a.dtype} {a.shape}; the card says float64 {shape}")
    digest = content_digest(card, arrays)
    if digest != card["integrity"]["digest"]:
        raise FormatError(f"content hash mismatch (card says {card['integrity']['digest'][:12]}..., the file "
                          f"hashes to {digest[:12]}...): the arrays or the card were changed after export")


