"""Malformed calls over the public API, driven by Hypothesis.

Every call below either returns a valid result (checked against an independent computation where
one exists) or raises a clear ``ValueError`` / ``pm.LearnError`` / ``pm.FormatError`` naming what is
wrong; any other exception type fails the test, and so does a wrong answer or a damaged file.
``pm.learn`` is only called with malformed arguments and too few examples, so it never learns.
Profiles: ``ci`` (default, 15 examples per test) and ``thorough`` (300 per test, over 5000 cases).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_model import _reference_forward  # the loop-by-loop definition of F(X)

import provable_mha as pm

# -- building blocks ---------------------------------------------------------------------------
BAD_INT = st.one_of(
    st.integers(max_value=0), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.text(max_size=3), st.lists(st.integers(1, 3), max_size=2),
    st.sampled_from([np.float64(2.0), np.bool_(True), complex(2, 0), np.array(2), np.array([2])]),
)
NOT_A_REAL = st.one_of(st.booleans(), st.none(), st.text(max_size=3), st.lists(st.floats(0, 1), max_size=2),
                       st.sampled_from([complex(0.1, 0), np.bool_(False), np.array([0.1])]))
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf, np.float32("nan"), np.float64("inf")])
ANY_DTYPE = st.sampled_from([np.float64, np.float32, np.int64, np.int8, np.bool_, np.complex128])


def raises_clear(fn, *args, match: str | None = None, **kwargs):
    """Call ``fn``; return ``(result, None)`` or ``(None, exc)`` for a clear error, else fail the test."""
    try:
        return fn(*args, **kwargs), None
    except (ValueError, pm.LearnError) as exc:  # FormatError is a ValueError
        if match is not None:  # the name as a word: "m" must not match inside "must"
            assert re.search(rf"(?<![A-Za-z_]){re.escape(match)}(?![A-Za-z_])", str(exc)), \
                f"message does not name {match!r}: {exc}"
        return None, exc


def must_reject(fn, *args, match: str, **kwargs):
    """``fn`` must raise a clear error whose message contains ``match``."""
    result, exc = raises_clear(fn, *args, match=match, **kwargs)
    assert exc is not None, f"accepted a malformed call, returned {result!r:.200}"
    return exc


@st.composite
def small_layers(draw, max_m=3, max_d=4, exponents=(0, 0)):
    """A layer with Gaussian heads scaled by 10**e (e drawn from ``exponents``), and its unscaled parts."""
    m, d = draw(st.integers(1, max_m)), draw(st.integers(1, max_d))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    gt, gw = rng.standard_normal((m, d, d)), rng.standard_normal((m, d, d))
    et, ew = draw(st.integers(*exponents)), draw(st.integers(*exponents))
    return pm.MultiHeadAttention(gt * 10.0**et, gw * 10.0**ew), gt, gw, et, ew


# -- samplers ----------------------------------------------------------------------------------
@given(fn=st.sampled_from([pm.sample_boolean, pm.sample_gaussian]), pos=st.integers(0, 2), bad=BAD_INT,
       sizes=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)))
def test_samplers_reject_malformed_sizes(fn, pos, bad, sizes):
    args = list(sizes)
    args[pos] = bad
    must_reject(fn, *args, rng=0, match="nkd"[pos])


@given(fn=st.sampled_from([pm.sample_boolean, pm.sample_gaussian]), big=st.integers(10**4, 10**12),
       pos=st.integers(0, 2))
def test_samplers_refuse_absurd_sizes_before_allocating(fn, big, pos):
    args = [1000, 1000, 1000]
    args[pos] = big
    must_reject(fn, *args, rng=0, match="memory limit")


@given(fn=st.sampled_from([pm.sample_boolean, pm.sample_gaussian]),
       rng=st.one_of(st.integers(max_value=-1), st.floats(), st.booleans(), st.text(max_size=2)),
       sizes=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)))
def test_samplers_reject_malformed_seeds_and_sample_valid_ones(fn, rng, sizes):
    must_reject(fn, *sizes, rng=rng, match="rng")
    X = fn(*sizes, rng=7)
    assert X.shape == sizes and X.dtype == np.float64 and np.all(np.isfinite(X))
    np.testing.assert_array_equal(X, fn(*sizes, rng=7))
    if fn is pm.sample_boolean:
        assert set(np.unique(X)) <= {-1.0, 1.0}


# -- the layer ---------------------------------------------------------------------------------
@given(th=hnp.arrays(ANY_DTYPE, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3)),
       same=st.booleans(), data=st.data())
def test_layer_constructor_accepts_only_stacks_of_square_finite_matrices(th, same, data):
    ws = th if same else data.draw(hnp.arrays(ANY_DTYPE, hnp.array_shapes(min_dims=0, max_dims=4, max_side=3)))
    layer, exc = raises_clear(pm.MultiHeadAttention, th, ws)
    if exc is None:
        assert th.ndim == 3 and th.shape[0] >= 1 and th.shape[1] == th.shape[2] and ws.shape == th.shape
        assert not np.iscomplexobj(th) and np.all(np.isfinite(layer.thetas)) and np.all(np.isfinite(layer.ws))
        np.testing.assert_array_equal(layer.thetas, th.astype(np.float64))


MODERATE = st.floats(-3, 3)
SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, 1e200, -1e200, 1e155, 1e-300, 0.0])


@given(layer_parts=small_layers(max_m=2, max_d=3), data=st.data())
def test_forward_and_attention_are_right_or_refuse(layer_parts, data):
    layer = layer_parts[0]
    d = data.draw(st.sampled_from([layer.d, layer.d, layer.d + 1]))
    shape = data.draw(st.sampled_from([(2, 3, d), (3, d), (0, 2, d), (2, 0, d), (d,), (1, 1, 2, d)]))
    X = data.draw(hnp.arrays(np.float64, shape, elements=st.one_of(MODERATE, SPECIAL) if data.draw(st.booleans())
                             else MODERATE))
    for method in ("__call__", "attention"):
        out, exc = raises_clear(getattr(layer, method), X)
        if exc is not None:
            continue
        assert X.ndim in (2, 3) and X.shape[-1] == layer.d and np.all(np.isfinite(X))
        assert np.all(np.isfinite(out)), "non-finite values returned silently"
        Xb = X if X.ndim == 3 else X[None]
        if method == "attention":
            assert out.shape == (Xb.shape[0], layer.m, Xb.shape[1], Xb.shape[1])
            np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-12)
        else:
            assert out.shape == X.shape
            if np.abs(X).max(initial=0) <= 3:  # exact ties only: the reference agrees to round-off
                ref = np.array([_reference_forward(layer.thetas, layer.ws, x) for x in Xb]).reshape(X.shape)
                np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(ref).max(initial=0)))


# -- conditions and planted instances ----------------------------------------------------------
def _smin_ratio(g: np.ndarray) -> float:
    m = g.shape[0]
    flat = g.reshape(m, -1)
    if m > flat.shape[1]:
        return 0.0
    return float(np.linalg.svd(flat, compute_uv=False)[m - 1] / np.linalg.norm(flat, axis=1).max())


@given(parts=small_layers(max_m=5, max_d=3, exponents=(-300, 307)), k=st.integers(1, 4))
def test_check_conditions_is_right_at_any_scale_or_refuses(parts, k):
    layer, gt, gw, et, ew = parts
    rep, exc = raises_clear(pm.check_conditions, layer, k)
    if exc is not None:
        assert "overflow" in str(exc) and et > 150, exc
        return
    for c in rep:
        assert not math.isnan(c.value), c
        assert c.passed == (c.value <= c.threshold if c.comparison == "<=" else c.value >= c.threshold)
    assert rep["theta_independence"].value == pytest.approx(_smin_ratio(gt), rel=1e-8, abs=1e-12)
    assert rep["w_independence"].value == pytest.approx(_smin_ratio(gw), rel=1e-8, abs=1e-12)
    w2 = max(np.linalg.norm(w, 2) for w in gw)
    assert rep["w_norm_bound"].value == pytest.approx(w2 * 10.0**ew, rel=1e-8)
    assert rep.passed == all(c.passed for c in rep if c.required)


@given(bad=st.one_of(BAD_INT.filter(lambda v: not isinstance(v, int) or isinstance(v, bool) or v <= 0),
                     st.integers(10**6, 10**12)))
def test_check_conditions_rejects_malformed_or_absurd_k(bad):
    layer = pm.planted_instance(1, 3, 2, rng=0)
    absurd = isinstance(bad, int) and not isinstance(bad, bool) and bad >= 1
    must_reject(pm.check_conditions, layer, bad, match="memory limit" if absurd else "k")


@given(name=st.sampled_from(sorted(pm.conditions.DEFAULT_THRESHOLDS) + ["nope"]),
       value=st.one_of(NOT_A_REAL, NON_FINITE))
def test_check_conditions_rejects_malformed_thresholds(name, value):
    layer = pm.planted_instance(1, 3, 2, rng=0)
    must_reject(pm.check_conditions, layer, 2, thresholds={name: value}, match="thresholds")


@given(layer=st.one_of(st.none(), st.integers(), st.text(max_size=2), hnp.arrays(np.float64, (1, 2, 2))))
def test_functions_of_a_layer_reject_non_layers(layer):
    must_reject(pm.check_conditions, layer, 2, match="MultiHeadAttention")
    must_reject(pm.identifiability, layer, 2, match="MultiHeadAttention")
    good = pm.planted_instance(1, 2, 2, rng=0)
    must_reject(pm.match_heads, layer, good, match="MultiHeadAttention")
    must_reject(pm.match_heads, good, layer, match="MultiHeadAttention")


PLANTED_ARGS = {"m": BAD_INT, "d": BAD_INT, "k": BAD_INT,
                "scale": st.one_of(NOT_A_REAL, NON_FINITE, st.floats(max_value=-1e-9)),
                "rank": BAD_INT.filter(lambda v: v is not None),
                "rng": st.one_of(st.floats(), st.integers(max_value=-1), st.text(max_size=2), st.booleans()),
                "thresholds": st.one_of(st.lists(st.integers(), max_size=2), st.just({"nope": 1.0}),
                                        st.just({"theta_norm_bound": math.nan}))}


@given(name=st.sampled_from(sorted(PLANTED_ARGS)), data=st.data())
def test_planted_instance_rejects_malformed_arguments(name, data):
    bad = data.draw(PLANTED_ARGS[name])
    must_reject(pm.planted_instance, **{"m": 1, "d": 3, "k": 2, name: bad}, match=name)


@given(m=st.integers(1, 2), d=st.integers(2, 5), k=st.integers(2, 4), scale=st.floats(0.5, 2.0),
       seed=st.integers(0, 10**6), huge=st.integers(10**5, 10**9))
def test_planted_instance_valid_or_clear_failure(m, d, k, scale, seed, huge):
    must_reject(pm.planted_instance, m, huge, k, rng=seed, match="memory limit")
    layer, exc = raises_clear(pm.planted_instance, m, d, k, scale, rng=seed)
    if exc is not None:
        assert "no planted layer" in str(exc)
    else:
        assert (layer.m, layer.d) == (m, d) and pm.check_conditions(layer, k).passed


# -- identifiability, match_heads, relative_error ----------------------------------------------
@given(k=BAD_INT, rtol=st.one_of(NON_FINITE, st.floats(max_value=-1e-12), st.floats(min_value=1.0), st.just(True)),
       n_samples=BAD_INT)
def test_identifiability_rejects_malformed_numbers(k, rtol, n_samples):
    layer = pm.planted_instance(2, 4, 3, rng=0)
    must_reject(pm.identifiability, layer, k, match="k")
    must_reject(pm.identifiability, layer, 3, rtol=rtol, match="rtol")
    assume(n_samples is not None)  # None means the default
    must_reject(pm.identifiability, layer, 3, jacobian=True, n_samples=n_samples, match="n_samples")


@given(parts=small_layers(max_m=3, max_d=3, exponents=(-100, 100)), k=st.integers(1, 3), dup=st.booleans())
def test_identifiability_reports_planted_degeneracies(parts, k, dup):
    layer = parts[0]
    th = layer.thetas.copy()
    if dup and layer.m > 1:
        th[1] = th[0]
        layer = pm.MultiHeadAttention(th, layer.ws)
    rep = pm.identifiability(layer, k)
    assert rep.identifiable == (not rep.reasons)
    assert rep.constant_attention == (k == 1)
    if dup and layer.m > 1 and k > 1:
        assert any({0, 1} <= set(g) for g in rep.coincident), rep
    norms = np.linalg.norm(parts[2].reshape(layer.m, -1), axis=1)  # unscaled W: the test is scale-invariant
    assert rep.silent == [i for i in range(layer.m) if norms[i] <= 1e-3 * norms.max()]


@given(parts=small_layers(max_m=4, max_d=3, exponents=(-100, 100)), data=st.data())
def test_match_heads_recovers_permutations(parts, data):
    a = parts[0]
    perm = np.array(data.draw(st.permutations(range(a.m))))
    match = pm.match_heads(a, a.permute_heads(perm))
    np.testing.assert_array_equal(perm[match.perm], np.arange(a.m))
    assert match.max_error == 0.0
    must_reject(a.permute_heads, data.draw(st.one_of(st.lists(st.floats(0, 3), min_size=a.m, max_size=a.m),
                                                     st.lists(st.integers(-1, a.m), max_size=a.m + 1).filter(
                                                         lambda p: sorted(p) != list(range(a.m))))), match="perm")
    other = pm.MultiHeadAttention(np.zeros((a.m, a.d + 1, a.d + 1)), np.zeros((a.m, a.d + 1, a.d + 1)))
    must_reject(pm.match_heads, a, other, match="shape")


@given(e=st.integers(-250, 250), t=st.floats(-0.5, 0.5), seed=st.integers(0, 100))
def test_relative_error_is_right_at_any_scale(e, t, seed):
    base = pm.sample_gaussian(2, 3, 2, rng=seed)
    s = 10.0**e
    err = pm.relative_error(lambda X: base * s, base, base * s * (1 + t))
    assert err == pytest.approx(abs(t) / (1 + t), rel=1e-9, abs=1e-15)


@given(which=st.sampled_from(["model", "X", "Y_shape", "Y_bad", "Y_zero"]), bad=SPECIAL)
def test_relative_error_rejects_malformed_calls(which, bad):
    layer = pm.planted_instance(1, 2, 2, rng=0)
    X = pm.sample_boolean(3, 2, 2, rng=0)
    Y = layer(X)
    if which == "model":
        must_reject(pm.relative_error, "not callable", X, Y, match="model")
    elif which == "X":
        must_reject(pm.relative_error, layer, np.where(X > 0, math.nan, X), Y, match="X")
    elif which == "Y_shape":
        must_reject(pm.relative_error, layer, X, Y[:, :1], match="shape")
    elif which == "Y_bad":
        Yb = Y.copy()
        Yb[0, 0, 0] = bad
        err, exc = raises_clear(pm.relative_error, layer, X, Yb)
        assert exc is not None or (math.isfinite(bad) and math.isfinite(err) and err >= 0)
    else:
        must_reject(pm.relative_error, layer, X, np.zeros_like(Y), match="zero")


# -- save / load -------------------------------------------------------------------------------
def _result():
    """A LearnResult whose certificate the real certifier computed for the true layer (no learning)."""
    from provable_mha.learner.certify import holdout_certificate
    from provable_mha.learner.result import LearnResult

    layer = pm.planted_instance(1, 3, 2, rng=3)
    Xtr, Xh = pm.sample_boolean(12, 2, 3, 1), pm.sample_boolean(20, 2, 3, 2)
    Ytr = layer(Xtr)
    cert = holdout_certificate(layer, Xtr, Xh, layer(Xh), y_scale=float(np.abs(Ytr).max()), y_mean=Ytr.mean(0))
    return LearnResult(layer=layer, certificate=cert, phases=[], method="practical", m=1, d=3, k=2,
                       n_train=12, n_holdout=20, seed=0, train_relative_error=0.0)


_FILES: dict[str, tuple[object, bytes]] = {}


def _saved(kind: str) -> tuple[object, bytes]:
    """(object, bytes of its file), built once."""
    if kind not in _FILES:
        obj = pm.planted_instance(2, 3, 2, rng=0) if kind == "layer" else _result()
        with tempfile.TemporaryDirectory() as tmp:
            path = pm.save(obj, os.path.join(tmp, "f.npz"), seed=1)
            _FILES[kind] = (obj, open(path, "rb").read())
    return _FILES[kind]


def _load_bytes(data: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f.npz")
        with open(path, "wb") as fh:
            fh.write(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pm.io.UnverifiedFileWarning)
            return raises_clear(pm.load, path)


def _same(a, b) -> bool:
    if isinstance(a, pm.MultiHeadAttention):
        return a == b
    return a.layer == b.layer and a.certificate == b.certificate and a.seed == b.seed


@given(data=st.binary(max_size=3000), prefix=st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY"]))
def test_load_refuses_random_bytes(data, prefix):
    obj, exc = _load_bytes(prefix + data)
    assert isinstance(exc, pm.FormatError), obj


@given(kind=st.sampled_from(["layer", "result"]), cut=st.floats(0, 1, exclude_max=True))
def test_load_refuses_truncated_files(kind, cut):
    _, data = _saved(kind)
    obj, exc = _load_bytes(data[: int(cut * len(data))])
    assert isinstance(exc, pm.FormatError), obj


@given(kind=st.sampled_from(["layer", "result"]), pos=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255))
def test_flipped_byte_is_refused_or_harmless(kind, pos, flip):
    original, data = _saved(kind)
    i = int(pos * len(data))
    obj, exc = _load_bytes(data[:i] + bytes([data[i] ^ flip]) + data[i + 1:])
    assert isinstance(exc, pm.FormatError) or _same(obj, original), "a changed file loaded as different content"


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6)
                           | st.floats(allow_nan=False, allow_infinity=False)
                           | st.text(max_size=5), lambda c: st.lists(c, max_size=3) | st.dictionaries(
                               st.text(max_size=4), c, max_size=3), max_leaves=6)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


@given(kind=st.sampled_from(["layer", "result"]), data=st.data(), value=JSON_VALUES, rehash=st.booleans())
def test_edited_header_is_refused_or_consistent(kind, data, value, rehash):
    from provable_mha.io import content_hash

    original, raw = _saved(kind)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f.npz")
        with open(path, "wb") as fh:
            fh.write(raw)
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
    header = json.loads(str(arrays.pop("__meta__")))
    paths = [p for p in _paths(header) if p and p[0] != "sha256"]
    where = data.draw(st.sampled_from(paths))
    node = header
    for key in where[:-1]:
        node = node[key]
    assume(node[where[-1]] != value or type(node[where[-1]]) is not type(value))
    node[where[-1]] = value
    if rehash:
        header["sha256"] = content_hash(arrays, header)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f.npz")
        with open(path, "wb") as fh:
            np.savez(fh, **arrays, __meta__=np.array(json.dumps(header)))
        obj, exc = raises_clear(pm.load, path)
    if not rehash:
        assert isinstance(exc, pm.FormatError), f"edit of {where} not detected"
    elif exc is None and hasattr(obj, "certificate"):
        assert obj.certificate.verify() == [] and obj.layer == original.layer


BAD_META = st.one_of(st.sets(st.integers(), min_size=1, max_size=2), st.binary(min_size=1, max_size=3),
                     st.just(object()), st.complex_numbers(allow_nan=False),
                     st.lists(st.just({1, 2}), min_size=1, max_size=2), st.dictionaries(st.text(max_size=2),
                                                                                        st.just(b"x"), min_size=1))


@given(kind=st.sampled_from(["layer", "result"]), bad=BAD_META, seed=st.one_of(st.floats(), st.booleans(),
                                                                                st.text(max_size=2)))
def test_failed_save_never_damages_the_existing_file(kind, bad, seed):
    obj, _ = _saved(kind)
    with tempfile.TemporaryDirectory() as tmp:
        path = pm.save(obj, os.path.join(tmp, "f.npz"))
        before = open(path, "rb").read()
        must_reject(pm.save, obj, path, note=bad, match="note")
        must_reject(pm.save, obj, path, seed=seed, match="seed")
        assert open(path, "rb").read() == before and os.listdir(tmp) == ["f.npz"]
        assert _same(pm.load(path), obj)


@given(obj=st.one_of(st.none(), st.integers(), st.text(max_size=3), hnp.arrays(np.float64, (1, 2, 2)),
                     st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)))
def test_save_rejects_objects_it_cannot_save(obj):
    with tempfile.TemporaryDirectory() as tmp:
        must_reject(pm.save, obj, os.path.join(tmp, "f.npz"), match="cannot save")
        assert os.listdir(tmp) == []


# -- pm.learn: malformed calls only (too few examples, so nothing is ever learned) ----------------
def _learn_base():
    X = pm.sample_boolean(2, 2, 2, rng=0)
    return {"X": X, "Y": X.copy(), "m": 1}


LEARN_BAD = {
    "X": st.sampled_from(["nonbool", "nan", "2d", "4d", "str", "float32half"]),
    "Y": st.sampled_from(["shape", "nan", "inf", "2d", "huge"]),
    "m": BAD_INT,
    "noise": st.one_of(NOT_A_REAL, NON_FINITE, st.floats(max_value=-1e-12)),
    "holdout": st.one_of(NOT_A_REAL, NON_FINITE, st.floats(max_value=0), st.floats(min_value=1)),
    "delta": st.one_of(NOT_A_REAL, NON_FINITE, st.floats(max_value=0), st.floats(min_value=1)),
    "restarts": BAD_INT,
    "method": st.one_of(st.text(max_size=4), st.sampled_from(["provable", "Practical", None, 3, 0.5])),
    "inputs": st.one_of(st.text(max_size=4).filter(lambda v: v not in ("any", "boolean")),
                        st.sampled_from([None, 1, "Boolean"])),
    "solver": st.sampled_from(["NOPE", "", 3, "highs_"]),
    "label_bound": st.one_of(NON_FINITE, st.floats(max_value=0)),
    "blas_threads": BAD_INT.filter(lambda v: v is not None),
    "rng": st.one_of(st.floats(), st.integers(max_value=-1), st.text(min_size=1, max_size=2), st.booleans()),
}


def _bad_array(kind: str, X: np.ndarray) -> np.ndarray:
    return {"nonbool": X * 0.5, "nan": np.where(X > 0, math.nan, X), "2d": X[0], "4d": X[None],
            "str": X.astype(str), "float32half": (X * 0.5).astype(np.float32), "shape": X[:, :1],
            "inf": np.where(X > 0, math.inf, X), "huge": X * 1e200}[kind]


@given(name=st.sampled_from(sorted(LEARN_BAD)), data=st.data())
def test_learn_rejects_malformed_arguments_fast(name, data):
    kwargs = _learn_base()
    bad = data.draw(LEARN_BAD[name])
    if name in ("X", "Y"):
        kwargs[name] = _bad_array(bad, kwargs[name])
    else:
        kwargs[name] = bad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        must_reject(pm.learn, **kwargs, match=name)


def test_learn_base_call_fails_only_for_too_few_examples():
    """The base of the fuzz: valid arguments are refused for the number of examples, never learned."""
    with pytest.raises(pm.LearnError, match="too few examples"):
        pm.learn(**_learn_base())


# -- defects this suite found, fixed: each stays as a regression test -------------------------------
def _rejects(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError):
            fn(*args, **kwargs)


@pytest.mark.parametrize("kwargs", [
    {"label_bound": "1"}, {"label_bound": True}, {"method": ["practical"]}, {"strict": "yes"},
    {"progress": "x"}, {"nosie": 0.1},
], ids=["label_bound-str", "label_bound-bool", "method-list", "strict-str", "progress-str", "unknown-option"])
def test_learn_rejects_malformed_options_before_any_work(kwargs):
    _rejects(pm.learn, **{**_learn_base(), **kwargs})


@pytest.mark.parametrize("kwargs", [{"rtol": "x"}, {"rtol": None}, {"rtol": False}, {"jacobian": "yes"}],
                         ids=["rtol-str", "rtol-None", "rtol-False", "jacobian-str"])
def test_identifiability_rejects_malformed_arguments(kwargs):
    _rejects(pm.identifiability, pm.planted_instance(2, 4, 3, rng=0), 3, **kwargs)


@pytest.mark.parametrize("scale", [1e-170, 1e160])
def test_identifiability_is_scale_invariant_in_w(scale):
    layer = pm.planted_instance(2, 4, 3, rng=0)
    rep = pm.identifiability(pm.MultiHeadAttention(layer.thetas, scale * layer.ws), 3)
    assert rep.identifiable, rep  # the same layer up to the scale of W: nothing is silent


@pytest.mark.parametrize("scale", [1e-170, 1e160])
def test_match_heads_relative_errors_at_extreme_scale(scale):
    layer = pm.planted_instance(2, 4, 3, rng=0)
    a = pm.MultiHeadAttention(scale * layer.thetas, layer.ws)
    b = pm.MultiHeadAttention(2 * scale * layer.thetas, layer.ws)
    np.testing.assert_allclose(pm.match_heads(a, b).theta_errors, 1.0)  # Θ differ by a factor 2
