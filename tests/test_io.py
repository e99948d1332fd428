import json

import numpy as np
import pytest

import provable_mha as pm


def test_layer_round_trip_is_bit_exact(tmp_path):
    layer = pm.planted_instance(3, 7, 4, 2.0, rng=11)
    path = pm.save(layer, tmp_path / "layer.npz", seed=11)
    back = pm.load(path)
    assert isinstance(back, pm.MultiHeadAttention)
    assert np.array_equal(back.thetas, layer.thetas) and np.array_equal(back.ws, layer.ws)
    from provable_mha.io import read_header
    header = read_header(path)
    assert header["seed"] == 11 and header["kind"] == "MultiHeadAttention"
    assert header["shapes"]["thetas"] == [3, 7, 7]


def test_corrupt_and_foreign_files_raise(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file at all")
    with pytest.raises(pm.FormatError, match="not a readable"):
        pm.load(junk)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.ones(3))
    with pytest.raises(pm.FormatError, match="__meta__"):
        pm.load(foreign)
    other = tmp_path / "other.npz"
    with open(other, "wb") as fh:
        np.savez(fh, __meta__=np.array(json.dumps({"format": "someone-else"})))
    with pytest.raises(pm.FormatError, match="not a provable_mha"):
        pm.load(other)
    layer = pm.planted_instance(1, 3, 2, rng=0)
    good = pm.save(layer, tmp_path / "good.npz")
    data = open(good, "rb").read()
    truncated = tmp_path / "trunc.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(pm.FormatError):
        pm.load(truncated)
    with pytest.raises(FileNotFoundError):
        pm.load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="cannot save"):
        pm.save(object(), tmp_path / "x.npz")


# -- atomic save ------------------------------------------------------------------------------
def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_non_json_metadata_is_refused_before_writing(tmp_path):
    layer = pm.planted_instance(1, 3, 2, rng=0)
    path = pm.save(layer, tmp_path / "layer.npz")
    before = open(path, "rb").read()
    with pytest.raises(ValueError, match=r"meta\['note'\] is not JSON-serialisable"):
        pm.save(layer, path, note={1, 2})
    with pytest.raises(ValueError, match="seed must be an integer"):
        pm.save(layer, path, seed=True)
    assert open(path, "rb").read() == before and _leftovers(tmp_path) == []
    assert pm.load(path) == layer


@pytest.mark.parametrize("where", ["savez", "json", "interrupt", "replace"])
def test_failed_save_leaves_the_old_file_byte_identical(tmp_path, monkeypatch, where):
    import provable_mha.io as pio

    layer = pm.planted_instance(1, 3, 2, rng=0)
    other = pm.planted_instance(2, 3, 2, rng=1)
    path = pm.save(layer, tmp_path / "layer.npz")
    before = open(path, "rb").read()

    def half_written(fh, **arrays):  # the writer dies after 11 bytes, as a full disk would
        fh.write(b"PK\x03\x04broken")
        raise OSError("No space left on device")

    def interrupted(fh, **arrays):
        fh.write(b"PK\x03\x04")
        raise KeyboardInterrupt

    def failing_dumps(*args, **kwargs):
        raise TypeError("simulated json failure")

    def failing_replace(src, dst):
        raise OSError("simulated rename failure")

    expected = {"savez": OSError, "json": TypeError, "interrupt": KeyboardInterrupt, "replace": OSError}[where]
    if where == "savez":
        monkeypatch.setattr(np, "savez", half_written)
    elif where == "interrupt":
        monkeypatch.setattr(np, "savez", interrupted)
    elif where == "json":
        monkeypatch.setattr(json, "dumps", failing_dumps)
    else:
        monkeypatch.setattr(pio.os, "replace", failing_replace)
    with pytest.raises(expected):
        pm.save(other, path)
    monkeypatch.undo()
    assert open(path, "rb").read() == before
    assert _leftovers(tmp_path) == []
    assert pm.load(path) == layer


def test_save_replaces_and_keeps_permissions(tmp_path):
    import os
    import stat

    a, b = pm.planted_instance(1, 3, 2, rng=0), pm.planted_instance(1, 3, 2, rng=1)
    path = pm.save(a, tmp_path / "x.npz")
    os.chmod(path, 0o640)
    pm.save(b, path)
    assert pm.load(path) == b and stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert _leftovers(tmp_path) == []


def test_metadata_round_trip_and_clashes(tmp_path):
    layer = pm.planted_instance(1, 3, 2, rng=0)
    path = pm.save(layer, tmp_path / "x.npz", seed=np.int64(7), note={"a": np.float32(0.5), "b": [np.inf, 1]},
                   arr=np.array([1.0, np.nan]))
    from provable_mha.io import read_header
    h = read_header(path)
    assert h["seed"] == 7 and h["meta"]["note"] == {"a": 0.5, "b": ["inf", 1]} and h["meta"]["arr"] == [1.0, "nan"]
    res = _result()
    with pytest.raises(ValueError, match="overwrite"):
        pm.save(res, tmp_path / "r.npz", certificate={"certified": True})
    with pytest.raises(ValueError, match="collide"):
        pm.save(layer, tmp_path / "y.npz", note={1: 0, "1": 1})
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        pm.save(layer, tmp_path / "y.npz", note=loop)
    assert _leftovers(tmp_path) == [] and not (tmp_path / "y.npz").exists()


# -- verification on load ---------------------------------------------------------------------
def _result(certified=True):
    """A LearnResult whose certificate is computed by the real certifier for the true layer."""
    from provable_mha.learner.certify import holdout_certificate
    from provable_mha.learner.result import LearnResult

    layer = pm.planted_instance(2, 6, 3, rng=3)
    Xtr, Xh = pm.sample_boolean(30, 3, 6, 1), pm.sample_boolean(20, 3, 6, 2)
    Ytr, Yh = layer(Xtr), layer(Xh)
    if not certified:
        Yh = Yh + 0.1
    cert = holdout_certificate(layer, Xtr, Xh, Yh, y_scale=float(np.abs(Ytr).max()), y_mean=Ytr.mean(0))
    assert cert.certified is certified and cert.verify() == []
    return LearnResult(layer=layer, certificate=cert, phases=[], method="practical", m=2, d=6, k=3,
                       n_train=30, n_holdout=20, seed=0, train_relative_error=0.0)


def _contents(path):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return arrays, json.loads(str(arrays.pop("__meta__")))


def _rewrite(path, arrays, header, rehash):
    """Write arrays + header as save would, recomputing the content hash only if ``rehash``."""
    from provable_mha.io import content_hash

    if rehash:
        header["sha256"] = content_hash(arrays, header)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays, __meta__=np.array(json.dumps(header)))


def test_result_round_trip_verifies(tmp_path):
    res = _result()
    back = pm.load(pm.save(res, tmp_path / "r.npz"))
    assert back.certificate == res.certificate and back.layer == res.layer


@pytest.mark.parametrize("edit, match", [
    (lambda c: c.update(max_residual=10 * c["epsilon"]), "max_residual"),
    (lambda c: c.update(failure_rate_bound=0.001), "failure_rate_bound"),
    (lambda c: c.update(n_distinct_holdout=3, n_holdout=3), "min_distinct_holdout"),
    (lambda c: c.update(vacuous=True), "certified and vacuous"),
    (lambda c: c.update(checks={"containment": {"ok": False}}), "checks"),
    (lambda c: c.update(reference={"zero_layer_max_residual": 0.0}), "reference"),
    (lambda c: c.update(certified="yes"), "not a bool"),
    (lambda c: c.update(max_residual="nan"), "non-negative number"),
])
def test_edited_certificate_is_refused(tmp_path, edit, match):
    path = pm.save(_result(), tmp_path / "r.npz")
    arrays, header = _contents(path)
    edit(header["meta"]["certificate"])
    _rewrite(path, arrays, header, rehash=False)
    with pytest.raises(pm.FormatError, match="content hash mismatch"):
        pm.load(path)
    _rewrite(path, arrays, header, rehash=True)  # a deliberate edit that also fixes the hash
    with pytest.raises(pm.FormatError, match=f"certificate: .*{match}"):
        pm.load(path)


def test_uncertified_result_that_claims_nothing_loads(tmp_path):
    res = _result(certified=False)
    assert pm.load(pm.save(res, tmp_path / "r.npz")).certificate.failure_rate_bound == 1.0


def test_edited_array_or_header_is_refused_by_the_hash(tmp_path):
    path = pm.save(_result(), tmp_path / "r.npz", seed=1)
    arrays, header = _contents(path)
    arrays["ws"] = arrays["ws"].copy()
    arrays["ws"][0, 0, 0] = np.nextafter(arrays["ws"][0, 0, 0], np.inf)  # one ulp
    _rewrite(path, arrays, dict(header), rehash=False)
    with pytest.raises(pm.FormatError, match="content hash mismatch"):
        pm.load(path)
    arrays, _ = _contents(pm.save(_result(), tmp_path / "r.npz", seed=1))
    header["seed"] = 2
    _rewrite(path, arrays, header, rehash=False)
    with pytest.raises(pm.FormatError, match="content hash mismatch"):
        pm.load(path)
    header = _contents(pm.save(_result(), path))[1]
    header["meta"]["m"] = 3
    _rewrite(path, arrays, header, rehash=True)
    with pytest.raises(pm.FormatError, match="m = 3 but the stored layer has m = 2"):
        pm.load(path)


def test_structural_edits_are_refused(tmp_path):
    layer = pm.planted_instance(1, 3, 2, rng=0)
    path = pm.save(layer, tmp_path / "x.npz")
    arrays, header = _contents(path)
    cases = [
        ({**arrays, "extra": np.ones(2)}, header, "array list"),
        (arrays, {**header, "shapes": [[1, 3, 3]]}, "array list"),
        (arrays, {**header, "shapes": {"thetas": [1, 3, 3], "ws": [3, 3]}}, "shape"),
        (arrays, {**header, "version": 3}, "format version 3"),
        (arrays, {**header, "version": True}, "format version True"),
        (arrays, {**header, "kind": "Nope"}, "unknown object kind"),
        (arrays, {**header, "kind": 5}, "not a string"),
        (arrays, {**header, "meta": [1]}, "not a JSON object"),
        (arrays, {**header, "seed": 1.5}, "not an integer"),
        (arrays, {**header, "sha256": None}, "content hash mismatch"),
    ]
    for arr, head, match in cases:  # the hash is made to fit, so each check is reached
        _rewrite(path, arr, dict(head), rehash=match != "content hash mismatch")
        with pytest.raises(pm.FormatError, match=match):
            pm.load(path)
    with open(path, "wb") as fh:  # NaN smuggled into the header
        np.savez(fh, **arrays, __meta__=np.array(json.dumps({**header, "seed": float("nan")})))
    with pytest.raises(pm.FormatError, match="NaN"):
        pm.load(path)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays, __meta__=np.array(1.0))
    with pytest.raises(pm.FormatError, match="not a JSON string"):
        pm.load(path)


def test_entry_declaring_more_data_than_it_holds_is_refused(tmp_path):
    import io
    import zipfile

    path = tmp_path / "big.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("thetas.npy", header.getvalue() + b"\0" * 16)
    with pytest.raises(pm.FormatError, match="declares shape"):
        pm.load(path)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("notes.txt", b"hello")
    with pytest.raises(pm.FormatError, match="not arrays"):
        pm.load(path)


def test_version_1_files_load_unverified_with_a_warning(tmp_path):
    from provable_mha.io import UnverifiedFileWarning

    path = tmp_path / "v1.npz"
    res = _result()
    arrays, header = _contents(pm.save(res, path))
    header.pop("sha256")
    header["version"] = 1
    _rewrite(path, arrays, header, rehash=False)
    with pytest.warns(UnverifiedFileWarning, match="no content hash"):
        back = pm.load(path)
    assert back.certificate == res.certificate
    with pytest.raises(pm.FormatError, match="allow_unverified"):
        pm.load(path, allow_unverified=False)
    header["meta"]["certificate"]["max_residual"] = 1.0  # still checked: the certificate must be consistent
    _rewrite(path, arrays, header, rehash=False)
    with pytest.warns(UnverifiedFileWarning), pytest.raises(pm.FormatError, match="certificate"):
        pm.load(path)


def test_load_memory_limit(tmp_path):
    path = pm.save(pm.planted_instance(1, 3, 2, rng=0), tmp_path / "x.npz")
    with pytest.raises(ValueError, match="memory limit"):
        pm.load(path, memory_limit=100)
    with pytest.raises(ValueError, match="allow_unverified"):
        pm.load(path, allow_unverified="no")
