"""resources: memory estimates are above the measured peak (tracemalloc), sizes parse and print."""

import tracemalloc

import pytest

from provable_mha.resources import (
    DEFAULT_MAX_MEMORY,
    check_memory,
    estimate_gd_memory,
    estimate_memory,
    format_size,
    parse_size,
)
from provable_mha.sweep import Cell, run_trial


def _peak(func) -> int:
    func()  # warm up: imports and caches are not the job's memory
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("m, d, k, n, n_test", [(2, 8, 4, 400, 1000), (1, 16, 4, 200, 100)])
def test_learn_estimate_is_above_the_measured_peak(m, d, k, n, n_test):
    peak = _peak(lambda: run_trial(Cell(m, d, k, n, 1.0, 0), n_test=n_test, restarts=2))
    est = estimate_memory(m, d, k, n, n_test)
    assert peak <= est <= 4 * peak, (format_size(peak), format_size(est))


def test_gd_estimate_is_above_the_measured_peak():
    from provable_mha.gd.experiment import heads_experiment

    peak = _peak(lambda: heads_experiment([8], n=400, n_test=400, T=8, d=16, steps=3, seeds=1))
    est = estimate_gd_memory(8, 400, 400, 8, 16)
    assert peak <= est <= 4 * peak, (format_size(peak), format_size(est))


def test_estimates_grow_with_every_size():
    base = estimate_memory(2, 8, 4, 100, 10)
    for bigger in ((3, 8, 4, 100, 10), (2, 9, 4, 100, 10), (2, 8, 5, 100, 10), (2, 8, 4, 101, 10),
                   (2, 8, 4, 100, 11)):
        assert estimate_memory(*bigger) > base
    assert estimate_memory(2, 8, 1_000_000, 400, 1000) > 2**50  # the refused `learn --k 1000000`
    with pytest.raises(ValueError, match="k must be >= 1"):
        estimate_memory(2, 8, 0, 10)


@pytest.mark.parametrize("text, value", [("4GiB", 4 * 2**30), ("500MB", 5 * 10**8), ("2.5G", 25 * 10**8),
                                         ("1e9", 10**9), ("123", 123), (" 1 kib ", 1024), (7, 7)])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "GiB", "4 XB", "-1GB", "0", "nan", "inf", "1e400", True])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_format_and_check():
    assert format_size(1536) == "1.5 KiB" and format_size(DEFAULT_MAX_MEMORY) == "4 GiB"
    assert format_size(3 * 2**50) == "3 PiB"
    check_memory(2**30, "4GiB")
    with pytest.raises(ValueError, match=r"needs an estimated 5 GiB of memory, over the limit 4 GiB"):
        check_memory(5 * 2**30, "4GiB", what="this run")
