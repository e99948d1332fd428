"""Benchmark datasets: round trip, documented recipes, card schema, tampering, atomic writes, scoring, CLI."""

import copy
import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

import provable_mha as pm
from provable_mha import datasets as dsm
from provable_mha.cli import main
from provable_mha.hardness import parity_closed_form

PLANTED = {"kind": "planted", "m": 2, "d": 6, "k": 3, "scale": 1.5, "rank": 3, "seed": 4}


@pytest.fixture
def planted(tmp_path):
    path = tmp_path / "planted.npz"
    return path, pm.export_dataset(path, PLANTED, 20, 7, n_test=30, noise=0.05, description="test set")


def _rewrite(path, arrays, card_text):
    """Write an npz with the given entries (no digest update): what a careless edit does."""
    with open(path, "wb") as fh:
        np.savez(fh, **arrays, card=np.array(card_text))


def _raw(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files if k != "card"}, str(f["card"][()])


# -- round trip and the documented recipes ----------------------------------------------------
def test_round_trip_is_bit_exact(planted):
    path, ds = planted
    back = pm.load_dataset(path)
    assert back.card == ds.card
    for key, a in ds.arrays.items():
        assert np.array_equal(back.arrays[key], a) and back.arrays[key].dtype == np.float64, key
    assert back.layer == ds.layer
    with np.load(path) as f:  # plain numpy: the documented keys, the card as JSON text
        assert set(f.files) == set(dsm.ARRAY_KEYS) | {"card"}
        assert json.loads(str(f["card"][()])) == ds.card
        assert np.array_equal(f["Y_train"], ds.Y_train)
    assert back.card["license"] == "CC0-1.0" and back.card["package_version"] == pm.__version__
    assert back.card["parameters"] == {"kind": "planted", "m": 2, "d": 6, "k": 3, "n": 20, "n_test": 30,
                                       "noise": 0.05, "seed": 7}
    with pytest.raises(ValueError):
        back.X_train[0, 0, 0] = 3.0  # loaded arrays are read-only


def test_arrays_follow_the_recipes_in_the_card(planted):
    _, ds = planted
    seed, (n, k, d) = 7, ds.X_train.shape
    stream = lambda i: np.random.default_rng(np.random.SeedSequence([seed, i]))
    assert np.array_equal(ds.X_train, pm.sample_boolean(n, k, d, stream(1)))
    assert np.array_equal(ds.X_test, pm.sample_boolean(30, k, d, stream(3)))
    assert np.array_equal(ds.Y_test, ds.layer(ds.X_test))  # test labels are noiseless
    noise = ds.Y_train - ds.layer(ds.X_train)
    assert np.allclose(noise, 0.05 * stream(2).standard_normal((n, k, d)), rtol=0, atol=1e-15)
    assert ds.layer == pm.planted_instance(2, 6, 3, 1.5, rng=4, rank=3)
    assert dsm.build_instance(ds.card["instance"])[1] == ds.layer  # the card rebuilds the layer
    assert "SeedSequence([seed, 2])" in ds.card["arrays"]["Y_train"]["drawn"]
    assert ds.card["conditions"] == json.loads(json.dumps(pm.check_conditions(ds.layer, 3).to_dict()))


def test_parity_member_labels_are_the_closed_form(tmp_path):
    ds = pm.export_dataset(tmp_path / "p.npz", {"kind": "parity", "m": 3, "d": 5, "secret": [1, 4]}, 40, 0,
                           n_test=16)
    back = pm.load_dataset(tmp_path / "p.npz")
    assert back.card["instance"] == {"kind": "parity", "m": 3, "d": 5, "k": 2, "secret": [1, 4], "a_max": 40.0}
    assert np.abs(back.Y_train - parity_closed_form(back.X_train, (1, 4))).max() < 1e-12
    assert np.abs(back.Y_test - parity_closed_form(back.X_test, (1, 4))).max() < 1e-12
    cond = back.card["conditions"]
    assert cond["passed"] is False and cond["k"] == 2  # hard instances violate the conditions, and say so
    assert {c["name"]: c["value"] for c in cond["conditions"]}["sum_w_conditioning"] == "inf"
    assert back.digest == ds.digest


def test_digest_is_a_function_of_the_content(tmp_path):
    a = pm.export_dataset(tmp_path / "a.npz", PLANTED, 10, 3, n_test=5)
    b = pm.export_dataset(tmp_path / "b.npz", PLANTED, 10, 3, n_test=5)
    c = pm.export_dataset(tmp_path / "c.npz", PLANTED, 10, 4, n_test=5)
    assert a.digest == b.digest != c.digest
    assert dsm.content_digest(a.card, a.arrays) == a.digest


def test_custom_layer_and_fresh_seed_are_recorded(tmp_path):
    layer = pm.random_layer(1, 4, rng=0)
    ds = pm.export_dataset(tmp_path / "c.npz", layer, 5, None, k=2, n_test=5)
    assert ds.card["instance"] == {"kind": "custom", "m": 1, "d": 4, "k": 2}
    seed = ds.card["parameters"]["seed"]  # drawn from OS entropy, recorded so the draw is reproducible
    stream = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    assert np.array_equal(ds.X_train, pm.sample_boolean(5, 2, 4, stream))
    assert pm.load_dataset(tmp_path / "c.npz").layer == layer


def test_a_bare_layer_is_exported_with_the_default_k(tmp_path):
    """``pm.export_dataset(path, instance, n, rng)``: a layer does not carry k; the default is 4."""
    from provable_mha.datasets import DEFAULT_K

    ds = pm.export_dataset(tmp_path / "l.npz", pm.random_layer(1, 3, rng=0), 5, 0)
    assert DEFAULT_K == 4 and ds.card["instance"]["k"] == 4 and ds.X_train.shape == (5, 4, 3)


@pytest.mark.parametrize("kwargs, message", [
    ({"instance": pm.random_layer(1, 3, rng=0), "k": 0}, "k must be >= 1"),
    ({"rng": np.random.default_rng(0)}, "rng must be an int seed"),
    ({"rng": -1}, "rng must be >= 0"),
    ({"n": 0}, "n must be >= 1"),
    ({"noise": -0.1}, "noise must be"),
    ({"noise": float("nan")}, "noise must be"),
    ({"noise": True}, "noise must be"),
    ({"rng": 1.0}, "rng must be an int seed"),
    ({"k": 5}, "contradicts"),
    ({"instance": {**PLANTED, "temperature": 1}}, "unknown instance field 'temperature'"),
    ({"instance": {"kind": "gaussian"}}, "kind 'planted' or 'parity'"),
    ({"instance": {"kind": "parity", "m": 2, "d": 4, "secret": [1], "k": 3}}, "k = 2 tokens"),
    ({"instance": {"kind": "parity", "m": 3, "d": 4, "secret": [0, 1]}}, "subset of"),
    ({"path": "/nonexistent-dir/x.npz"}, "does not exist"),
])
def test_export_validates_its_arguments(tmp_path, kwargs, message):
    args = {"path": tmp_path / "x.npz", "instance": PLANTED, "n": 5, "rng": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        pm.export_dataset(args.pop("path"), args.pop("instance"), args.pop("n"), args.pop("rng"), **args)
    assert not (tmp_path / "x.npz").exists()


# -- the card schema ------------------------------------------------------------------------------
def _broken(card, edit):
    card = copy.deepcopy(card)
    edit(card)
    return card


BROKEN = [  # (edit, message); all but the last two are violations of the schemas themselves
    (lambda c: c.pop("license"), "card: missing required field 'license'"),
    (lambda c: c["parameters"].pop("seed"), "card.parameters: missing required field 'seed'"),
    (lambda c: c["parameters"].update(m="2"), r"card.parameters.m: expected integer, got string"),
    (lambda c: c["parameters"].update(n=True), r"card.parameters.n: expected integer, got boolean"),
    (lambda c: c["parameters"].update(noise=-1.0), r"card.parameters.noise: must be >= 0"),
    (lambda c: c["arrays"]["X_train"].update(shape="20x3x6"), r"card.arrays.X_train.shape: expected array"),
    (lambda c: c["conditions"]["conditions"][0].update(passed="yes"), r"conditions\[0\].passed: expected boolean"),
    (lambda c: c.update(license="MIT"), r"card.license: expected one of \['CC0-1.0'\]"),
    (lambda c: c.update(extra=1), "card: unknown field 'extra'"),
    (lambda c: c["integrity"].update(digest="xyz"), r"card.integrity.digest: 'xyz' does not match"),
    (lambda c: c["integrity"].update(algorithm="md5"), "card.integrity.algorithm: expected 'sha256'"),
    (lambda c: c.update(format_version=2), "format version 2; this build reads 1"),
    (lambda c: c.update(format="other"), "not a provable_mha dataset"),
    (lambda c: c["instance"].update(rank=0), "card.instance.rank: must be >= 1"),
    (lambda c: c["instance"].update(m=3), r"card.instance.m = 3 but card.parameters.m = 2"),
    (lambda c: c["parameters"].update(n=21), r"card.arrays.X_train.shape = \[20, 3, 6\] but the parameters"),
]


@pytest.mark.parametrize("edit, message", BROKEN)
def test_broken_cards_fail_with_a_clear_error(planted, edit, message):
    _, ds = planted
    dsm.validate_card(ds.card, ds.arrays)  # the valid card passes, with its arrays
    with pytest.raises(pm.FormatError, match=message):
        dsm.validate_card(_broken(ds.card, edit), ds.arrays)


def test_schema_agrees_with_a_standard_json_schema_validator(planted, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")  # not a dependency; present with the test extras
    parity = pm.export_dataset(tmp_path / "p.npz", {"kind": "parity", "m": 2, "d": 4, "secret": [3]}, 4, 0, n_test=4)
    for card in (planted[1].card, parity.card):
        jsonschema.Draft202012Validator.check_schema(dsm.CARD_SCHEMA)
        jsonschema.validate(card, dsm.CARD_SCHEMA)
        jsonschema.validate(card["instance"], dsm.INSTANCE_SCHEMAS[card["instance"]["kind"]])
    for edit, _ in BROKEN[:-2]:
        card = _broken(planted[1].card, edit)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(card, dsm.CARD_SCHEMA)
            jsonschema.validate(card["instance"], dsm.INSTANCE_SCHEMAS["planted"])


def test_bad_digest_fails(planted):
    _, ds = planted
    flipped = "0" if ds.digest[0] != "0" else "1"
    card = _broken(ds.card, lambda c: c["integrity"].update(digest=flipped + ds.digest[1:]))
    dsm.validate_card(card)  # well-formed ...
    with pytest.raises(pm.FormatError, match="content hash mismatch"):
        dsm.validate_card(card, ds.arrays)  # ... but it does not match the content


# -- tampering with the file ----------------------------------------------------------------------
def _tamper_array(arrays, text):
    arrays["Y_test"][0, 0, 0] = np.nextafter(arrays["Y_test"][0, 0, 0], np.inf)  # one ulp
    return arrays, text


def _tamper_card(arrays, text):
    card = json.loads(text)
    card["parameters"]["noise"] = 0.0  # claim the training labels are clean
    card["arrays"]["Y_train"]["drawn"] = "F(X_train)"
    return arrays, json.dumps(card)


@pytest.mark.parametrize("tamper, message", [
    (_tamper_array, "content hash mismatch"),
    (_tamper_card, "content hash mismatch"),
    (lambda a, t: ({**a, "extra": np.zeros(2)}, t), "differ from the documented keys"),
    (lambda a, t: ({**a, "ws": a["ws"].astype(np.float32)}, t), "array 'ws' is float32"),
    (lambda a, t: (a, t[:-5]), "not valid JSON"),
    (lambda a, t: (a, t.replace('"noise": 0.05', '"noise": NaN')), "NaN is not valid JSON"),
])
def test_tampering_is_detected_on_load(planted, tamper, message):
    path, _ = planted
    _rewrite(path, *tamper(*_raw(path)))
    with pytest.raises(pm.FormatError, match=message) as info:
        pm.load_dataset(path)
    assert str(path) in str(info.value)


def test_foreign_and_broken_files(tmp_path, planted):
    path, _ = planted
    arrays, _ = _raw(path)
    np.savez(tmp_path / "nocard.npz", **arrays)
    with pytest.raises(pm.FormatError, match="no 'card' text entry"):
        pm.load_dataset(tmp_path / "nocard.npz")
    (tmp_path / "text.npz").write_text("x,y\n1,2\n")
    with pytest.raises(pm.FormatError, match="not an .npz archive"):
        pm.load_dataset(tmp_path / "text.npz")
    data = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(pm.FormatError):
        pm.load_dataset(tmp_path / "trunc.npz")
    with pytest.raises(FileNotFoundError):
        pm.load_dataset(tmp_path / "missing.npz")


# -- atomic export --------------------------------------------------------------------------------
@pytest.mark.parametrize("fail_at", ["write", "fsync", "replace", "interrupt"])
def test_failed_export_leaves_the_previous_file_intact(planted, monkeypatch, fail_at):
    path, old = planted
    before = path.read_bytes()
    real_savez = np.savez_compressed

    def savez_then_fail(fh, **arrays):
        real_savez(fh, **{k: arrays[k] for k in list(arrays)[:2]})  # a partial archive hits the disk
        raise KeyboardInterrupt if fail_at == "interrupt" else OSError("disk full (simulated)")

    def fail(*args):
        raise OSError(f"{fail_at} failed (simulated)")

    if fail_at in ("fsync", "replace"):
        monkeypatch.setattr(dsm.os, fail_at, fail)
    else:
        monkeypatch.setattr(dsm.np, "savez_compressed", savez_then_fail)
    with pytest.raises(KeyboardInterrupt if fail_at == "interrupt" else OSError):
        pm.export_dataset(path, PLANTED, 30, 99, n_test=30)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert pm.load_dataset(path).digest == old.digest
    assert sorted(os.listdir(path.parent)) == ["planted.npz"]  # no temporary file left behind


def test_export_replaces_an_existing_file_with_usual_permissions(planted):
    path, old = planted
    new = pm.export_dataset(path, PLANTED, 8, 1, n_test=4)
    assert pm.load_dataset(path).digest == new.digest != old.digest
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)


# -- scoring ------------------------------------------------------------------------------------
def test_score_on_a_known_perturbation(planted):
    _, ds = planted
    Y = ds.Y_test
    P = Y.copy()
    P[0, 0, 0] += 1e-3
    P[1, 2, 3] += 0.5
    P[2] += 1e-8  # a whole example off by 1e-8: still an exact match at tol 1e-6
    s = dsm.score_predictions(ds, P)
    n = Y.shape[0]
    assert s["n_test"] == n == 30 and s["tol"] == 1e-6 and s["digest"] == ds.digest
    assert s["max_residual"] == pytest.approx(0.5, rel=1e-12)
    expected = np.sqrt(1e-6 + 0.25 + Y[2].size * 1e-16) / np.linalg.norm(Y)
    assert s["relative_error"] == pytest.approx(expected, rel=1e-6)
    assert s["exact_match_rate"] == (n - 2) / n
    assert dsm.score_predictions(ds, P, tol=1e-2)["exact_match_rate"] == (n - 1) / n
    assert dsm.score_predictions(ds, P, tol=1.0)["exact_match_rate"] == 1.0
    exact = dsm.score_predictions(ds, ds.layer(ds.X_test), tol=0.0)
    assert exact["relative_error"] == 0.0 and exact["max_residual"] == 0.0 and exact["exact_match_rate"] == 1.0


@pytest.mark.parametrize("make, message", [
    (lambda Y: Y[:5], r"shape \(5, 3, 6\) but the test split Y_test has shape \(30, 3, 6\)"),
    (lambda Y: Y.reshape(30, -1), "shape"),
    (lambda Y: np.where(np.arange(Y.size).reshape(Y.shape) == 7, np.nan, Y), r"1 NaN or inf entries .*\(0, 1, 1\)"),
    (lambda Y: Y * np.inf, "NaN or inf"),
    (lambda Y: Y.astype(str), "real numeric array"),
    (lambda Y: Y.astype(complex), "real numeric array"),
])
def test_score_rejects_bad_predictions(planted, make, message):
    _, ds = planted
    with np.errstate(invalid="ignore"):
        P = make(ds.Y_test.copy())
    with pytest.raises(ValueError, match=message):
        dsm.score_predictions(ds, P)


def test_load_predictions_formats(tmp_path):
    P = np.arange(6.0).reshape(1, 2, 3)
    np.save(tmp_path / "p.npy", P)
    np.savez(tmp_path / "one.npz", whatever=P)
    np.savez(tmp_path / "named.npz", predictions=P, other=np.zeros(2))
    np.savez(tmp_path / "two.npz", a=P, b=P)
    for name in ("p.npy", "one.npz", "named.npz"):
        assert np.array_equal(dsm.load_predictions(tmp_path / name), P)
    with pytest.raises(ValueError, match="name one 'predictions'"):
        dsm.load_predictions(tmp_path / "two.npz")
    (tmp_path / "fake.npy").write_text("1,2,3\n")
    with pytest.raises(ValueError, match="wrong signature"):
        dsm.load_predictions(tmp_path / "fake.npy")
    (tmp_path / "p.csv").write_text("1,2,3\n")
    with pytest.raises(ValueError, match=".npy or .npz"):
        dsm.load_predictions(tmp_path / "p.csv")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="cannot read predictions"):
        dsm.load_predictions(tmp_path / "obj.npy")


# -- long table and CSV -------------------------------------------------------------------------
def test_long_table_and_csv_round_trip(tmp_path):
    ds = pm.export_dataset(tmp_path / "d.npz", PLANTED, 4, 0, n_test=3, noise=0.1, csv=tmp_path / "d.csv")
    t = ds.long_table()
    rows = (4 + 3) * 3 * 6
    assert all(len(col) == rows for col in t.values())
    i = np.flatnonzero((t["split"] == "test") & (t["example"] == 2) & (t["token"] == 1) & (t["coord"] == 5))
    assert i.size == 1 and t["x"][i[0]] == ds.X_test[2, 1, 5] and t["y"][i[0]] == ds.Y_test[2, 1, 5]
    with open(tmp_path / "d.csv", newline="") as fh:
        read = list(csv.DictReader(fh))
    assert len(read) == rows and list(read[0]) == ["split", "example", "token", "coord", "x", "y"]
    y = np.array([float(r["y"]) for r in read])
    assert np.array_equal(y, t["y"])  # repr floats parse back exactly
    pd = pytest.importorskip("pandas")
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}  # see docs
    df = pd.read_csv(tmp_path / "d.csv", **exact)
    assert np.array_equal(df["y"].to_numpy(), t["y"]) and np.array_equal(df["x"].to_numpy(), t["x"])
    train = pd.DataFrame(t).query("split == 'train'")
    assert np.array_equal(train["y"].to_numpy().reshape(4, 3, 6), ds.Y_train)


# -- command line -------------------------------------------------------------------------------
def test_cli_export_and_score(tmp_path, capsys):
    out = tmp_path / "data.npz"
    assert main(["export", "--kind", "planted", "--m", "2", "--d", "6", "--k", "3", "--n", "20", "--n-test", "25",
                 "--seed", "0", "--out", str(out), "--csv", str(tmp_path / "data.csv")]) == 0
    text = capsys.readouterr().out
    ds = pm.load_dataset(out)
    assert ds.digest in text and "conditions at k=3: PASS" in text and (tmp_path / "data.csv").exists()
    assert ds.card["instance"] == {"kind": "planted", "m": 2, "d": 6, "k": 3, "scale": 1.0, "rank": None, "seed": 0}
    P = ds.Y_test.copy()
    P[3, 0, 0] += 0.25
    np.save(tmp_path / "preds.npy", P)
    assert main(["score", "--dataset", str(out), "--predictions", str(tmp_path / "preds.npy"), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s == {"dataset": str(out), "predictions": str(tmp_path / "preds.npy"),
                 **dsm.score_predictions(ds, P)}
    assert s["exact_match_rate"] == 24 / 25 and s["max_residual"] == pytest.approx(0.25)
    assert main(["score", "--dataset", str(out), "--predictions", str(tmp_path / "preds.npy")]) == 0
    assert "exact-match rate" in capsys.readouterr().out


def test_cli_export_parity(tmp_path, capsys):
    out = tmp_path / "par.npz"
    assert main(["export", "--kind", "parity", "--m", "3", "--d", "6", "--n", "10", "--n-test", "10",
                 "--seed", "5", "--out", str(out)]) == 0
    ds = pm.load_dataset(out)
    secrets = pm.hardness.parity_secrets(3, 6)
    drawn = list(secrets[int(np.random.default_rng(5).integers(len(secrets)))])
    assert ds.card["instance"]["secret"] == drawn and ds.card["parameters"]["k"] == 2
    assert f"secret {drawn}" in capsys.readouterr().out and "drawn uniformly" in ds.card["description"]
    assert main(["export", "--kind", "parity", "--m", "3", "--d", "6", "--secret", "2,5", "--n", "4",
                 "--out", str(out)]) == 0
    assert pm.load_dataset(out).card["instance"]["secret"] == [2, 5]


def test_cli_usage_errors_exit_2_with_one_line(tmp_path, capsys, monkeypatch):
    good = tmp_path / "d.npz"
    ds = pm.export_dataset(good, PLANTED, 5, 0, n_test=4)
    np.save(tmp_path / "short.npy", ds.Y_test[:2])
    np.save(tmp_path / "nan.npy", np.full(ds.Y_test.shape, np.nan))
    (tmp_path / "notes.txt").write_text("hello")
    arrays, text = _raw(good)
    arrays["X_test"] = -arrays["X_test"]
    _rewrite(tmp_path / "tampered.npz", arrays, text)
    np.save(tmp_path / "ok.npy", ds.Y_test)
    cases = [
        (["score", "--dataset", str(good), "--predictions", str(tmp_path / "short.npy")], "have shape (2, 3, 6)"),
        (["score", "--dataset", str(good), "--predictions", str(tmp_path / "nan.npy")], "NaN or inf"),
        (["score", "--dataset", str(good), "--predictions", str(tmp_path / "notes.txt")], ".npy or .npz"),
        (["score", "--dataset", str(good), "--predictions", str(tmp_path / "none.npy")], "does not exist"),
        (["score", "--dataset", str(tmp_path / "notes.txt"), "--predictions", str(tmp_path / "ok.npy")],
         "not an .npz archive"),
        (["score", "--dataset", str(tmp_path / "tampered.npz"), "--predictions", str(tmp_path / "ok.npy")],
         "content hash mismatch"),
        (["score", "--dataset", str(good), "--predictions", str(tmp_path / "ok.npy"), "--tol", "-1"],
         "--tol: must be a finite number >= 0"),
        (["export", "--kind", "parity", "--k", "3", "--out", str(tmp_path / "x.npz")], "k = 2 tokens"),
        (["export", "--kind", "parity", "--scale", "2", "--out", str(tmp_path / "x.npz")], "--scale applies"),
        (["export", "--secret", "1", "--out", str(tmp_path / "x.npz")], "--secret applies"),
        (["export", "--kind", "parity", "--m", "3", "--d", "6", "--secret", "1", "--out", str(tmp_path / "x.npz")],
         "|S| must be m - 1"),
        (["export", "--out", str(tmp_path / "x.npz"), "--csv", str(tmp_path / "x.npz")], "--csv must differ"),
        (["export", "--out", str(tmp_path / "missing" / "x.npz")], "does not exist"),
        (["export", "--out", str(tmp_path)], "is a directory"),
        (["export"], "required: --out"),
    ]

    def no_work(*args, **kwargs):
        raise AssertionError("export_dataset called although the arguments are invalid")

    monkeypatch.setattr(dsm, "export_dataset", no_work)
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err, (argv, err)
        if argv[0] == "score" or "--out" in argv:
            assert err.strip().count("\n") == 0 or err.startswith("usage:"), err
    assert not (tmp_path / "x.npz").exists()


def test_cli_help_shows_defaults_and_an_example(capsys):
    for command in ("export", "score"):
        assert main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert "example" in text and f"provable-mha {command} --" in text
    assert main(["export", "--help"]) == 0
    text = capsys.readouterr().out
    assert "(default: 400)" in text and "(default: None)" not in text



# -- the documentation matches the code ---------------------------------------------------------
DOC = (Path(__file__).resolve().parents[1] / "docs" / "datasets.md").read_text()


def _schema_paths(schema, prefix=""):
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        yield path
        if path != "arrays" and path != "conditions.conditions":
            yield from _schema_paths(sub, path + ".")


def test_docs_list_every_card_field():
    missing = [p for p in _schema_paths(dsm.CARD_SCHEMA) if f"`{p}`" not in DOC]
    fields = set(dsm.CARD_SCHEMA["properties"]["conditions"]["properties"]["conditions"]["items"]["properties"])
    fields |= {f for schema in dsm.INSTANCE_SCHEMAS.values() for f in schema["properties"]}
    fields |= set(dsm.CARD_SCHEMA["properties"]["arrays"]["properties"]["X_train"]["properties"])
    missing += [f for f in sorted(fields) if f"`{f}`" not in DOC and f"`arrays.<key>.{f}`" not in DOC]
    missing += [k for k in dsm.ARRAY_KEYS if f"`{k}`" not in DOC]
    assert not missing, missing


def test_docs_digest_snippet_verifies_files(planted):
    path, _ = planted
    code = DOC.split("<!-- verify-digest -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    scope = {}
    exec(code, scope)  # the snippet needs only numpy and the standard library
    assert scope["verify"](path) is True
    _rewrite(path, *_tamper_array(*_raw(path)))
    assert scope["verify"](path) is False
