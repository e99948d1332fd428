"""Checks done before any work: output paths, memory, grid size, ranges, the Dask address."""

import sys
from pathlib import Path

import pytest

import provable_mha.sweep as sweep_module
from provable_mha.cli import main

SMALL_SWEEP = ["sweep", "--m", "1", "--d", "4", "--k", "2", "--n", "40", "--seed", "0"]


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a planted problem is ever run."""
    def boom(*args, **kwargs):
        raise AssertionError("work started although a check should have refused the run")
    monkeypatch.setattr(sweep_module, "run_trial", boom)
    monkeypatch.setattr(sweep_module, "run_sweep", boom)


def _one_line_error(capsys, *needles):
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("argv", [
    ["learn", "--save", "{missing}/r.npz"],
    ["sweep", "--out", "{missing}/s.csv"],
    ["sweep", "--out", "{tmp}/s.csv", "--plot", "{missing}/s.png"],
    ["gd", "--csv", "{missing}/h.csv"],
    ["gd", "--plot", "{missing}/h.png"],
    ["learn", "--save", "/no_such_dir_provable_mha/r.npz"],
    ["sweep", "--out", "/no_such_dir_provable_mha/s.csv"],
])
def test_output_in_a_missing_directory_exits_2_and_creates_nothing(argv, tmp_path, capsys, no_work):
    missing = tmp_path / "missing" / "deeper"
    argv = [a.format(missing=missing, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    _one_line_error(capsys, "does not exist")
    assert not (tmp_path / "missing").exists() and not Path("/no_such_dir_provable_mha").exists()
    assert list(tmp_path.iterdir()) == []


def test_output_that_is_a_directory_or_has_a_bad_suffix(tmp_path, capsys, no_work):
    assert main(["learn", "--save", str(tmp_path)]) == 2
    _one_line_error(capsys, "is a directory")
    assert main([*SMALL_SWEEP, "--out", str(tmp_path / "s.csv"), "--plot", str(tmp_path / "s.xyz")]) == 2
    _one_line_error(capsys, "--plot", ".png")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, needles", [
    (["learn", "--k", "1000000"], ["k=1000000", "PiB", "over the limit 4 GiB", "--max-memory"]),
    (["learn", "--n", "100000000"], ["n=100000000", "over the limit 4 GiB"]),
    (["learn", "--m", "1", "--d", "4", "--k", "2", "--n", "40", "--max-memory", "100KiB"],
     ["KiB of memory", "over the limit 100 KiB"]),
    (["demo", "--d", "4000"], ["d=4000", "over the limit"]),
    (["sweep", "--out", "{tmp}/s.csv", "--k", "4,100000"], ["largest cell", "over the limit 4 GiB"]),
    (["sweep", "--out", "{tmp}/s.csv", "--n", "40", "--jobs", "100000", "--seed", "0..99999",
      "--max-memory", "1GB"], ["100000 at once", "over the limit 954 MiB"]),
    (["gd", "--n", "1000000000"], ["gd with", "over the limit 4 GiB"]),
])
def test_memory_estimate_over_the_limit_exits_2_before_allocating(argv, needles, tmp_path, capsys, no_work):
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    _one_line_error(capsys, "needs an estimated", *needles)
    assert list(tmp_path.iterdir()) == []


def test_grid_and_range_sizes_are_limited(tmp_path, capsys, no_work):
    out = str(tmp_path / "s.csv")
    assert main(["sweep", "--out", out, "--seed", "0..99999", "--n", "10..109"]) == 2
    _one_line_error(capsys, "10000000 cells", "1 x 1 x 1 x 100 x 1 x 100000", "--max-cells")
    assert main(["sweep", "--out", out, "--seed", "0..9", "--max-cells", "5"]) == 2
    _one_line_error(capsys, "20 cells", "over the limit 5")
    assert main(["sweep", "--out", out, "--seed", "0..999999999999"]) == 2
    _one_line_error(capsys, "1000000000000 values, more than 100000")
    assert main(["gd", "--H", ",".join(["1"] * 100_001)]) == 2
    _one_line_error(capsys, "more than 100000 values")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("address, needle", [
    ("tcp://127.0.0.1:1", "cannot reach a Dask scheduler"),
    ("tcp://no-such-host.invalid:8786", "cannot reach a Dask scheduler"),
    ("tcp://127.0.0.1", "address like tcp://host:8786"),
    ("nowhere", "address like tcp://host:8786"),
    ("http://127.0.0.1:8786", "address like tcp://host:8786"),
])
def test_bad_dask_address_exits_2_without_waiting_for_dask(address, needle, tmp_path, capsys, monkeypatch):
    distributed = pytest.importorskip("distributed")

    def never(*args, **kwargs):
        raise AssertionError("a Client (20 s default timeout) was created for an unreachable address")

    monkeypatch.setattr(distributed, "Client", never)
    assert main([*SMALL_SWEEP, "--out", str(tmp_path / "s.csv"), "--scheduler", address]) == 2
    _one_line_error(capsys, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("greeting, needle", [
    (None, "sent no Dask greeting within 0.3 s"),
    (b"SSH-2.0-OpenSSH_9.6\r\n", "not with the Dask protocol"),
])
def test_a_port_that_is_not_a_scheduler_is_refused(greeting, needle, tmp_path, capsys, monkeypatch):
    """An open port that stays silent or speaks another protocol: refused, no Client created."""
    import socket
    import threading

    from provable_mha.cli import sweep as cli_sweep

    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(cli_sweep, "CONNECT_TIMEOUT", 0.3)
    monkeypatch.setattr(distributed, "Client", lambda *a, **k: pytest.fail("Client created"))
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def answer():
            conn, _ = server.accept()
            with conn:
                if greeting:
                    conn.sendall(greeting)
                threading.Event().wait(1.0)

        threading.Thread(target=answer, daemon=True).start()
        assert main([*SMALL_SWEEP, "--out", str(tmp_path / "s.csv"),
                     "--scheduler", f"tcp://127.0.0.1:{port}"]) == 2
    _one_line_error(capsys, needle)


def test_a_real_scheduler_is_used(tmp_path, capsys):
    """The address check lets a real Dask scheduler through (LocalCluster in worker processes)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        out = tmp_path / "s.csv"
        assert main([*SMALL_SWEEP, "--out", str(out), "--scheduler", cluster.scheduler_address]) == 0
    assert "1 cells: 1 computed now" in capsys.readouterr().out


def test_existing_outputs_are_left_alone_on_refusal(tmp_path, capsys, no_work):
    out = tmp_path / "s.csv"
    out.write_text("a,b\n1,2\n")
    save = tmp_path / "r.npz"
    save.write_bytes(b"keep")
    assert main(["learn", "--save", str(save), "--k", "1000000"]) == 2
    assert main(["sweep", "--out", str(out), "--k", "1000000"]) == 2
    capsys.readouterr()
    assert out.read_text() == "a,b\n1,2\n" and save.read_bytes() == b"keep"


def test_foreign_csv_is_refused_with_one_line(tmp_path, capsys):
    out = tmp_path / "other.csv"
    out.write_text("a,b\n1,2\n")
    assert main([*SMALL_SWEEP, "--out", str(out)]) == 2
    _one_line_error(capsys, "columns")
    assert out.read_text() == "a,b\n1,2\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_read_only_directory(tmp_path, capsys, no_work):
    import os

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        assert main(["learn", "--save", str(ro / "r.npz")]) == 2
        _one_line_error(capsys, "not writable")
    finally:
        ro.chmod(0o700)
