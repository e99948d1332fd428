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
