"""``provable-mha sweep``: a resumable grid of ``learn`` runs appended to a CSV file.

Checked before any work: the output paths, the grid's size (``--max-cells``), the memory of the
largest cell times the workers running at once (``--max-memory``) and, for a Dask address,
that the scheduler answers within a few seconds. Ctrl-C ends with one line and exit code 130;
the CSV keeps every finished cell, so the same command resumes.
"""

from __future__ import annotations

import functools
import math
import socket
import sys
import threading
from urllib.parse import urlsplit

from .args import (
    add_command,
    add_run_options,
    check_memory,
    figure_path,
    float_list,
    int_at_least,
    learner_options,
    nonneg_float,
    positive_ints,
    seeds,
    show_progress,
    writable_path,
)

__all__ = ["register", "run", "connect_scheduler"]

#: Seconds allowed for reaching a Dask scheduler (TCP connect and its greeting, then the Dask handshake).
CONNECT_TIMEOUT, HANDSHAKE_TIMEOUT = 1.5, 3.0


def _greets_like_dask(host: str, port: int, timeout: float) -> str | None:
    """``None`` if ``host:port`` accepts a TCP connection and greets like a Dask scheduler, else why.

    A Dask server writes its handshake as soon as a connection opens; its first 8 bytes are the
    little-endian number of message frames, a small positive integer. A port that says nothing
    (or something else) would leave ``distributed.Client`` waiting with no time limit, so it is
    refused here. Runs in a daemon thread so that a slow name lookup cannot hold the command
    past ``timeout``.
    """
    outcome: list[str | None] = []

    def attempt():
        try:
            conn = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:  # refused, unknown host, or no connection within the timeout
            outcome.append(str(exc) or type(exc).__name__)
            return
        head = b""
        try:
            with conn:
                while len(head) < 8:
                    chunk = conn.recv(8 - len(head))
                    if not chunk:
                        break
                    head += chunk
        except TimeoutError:
            outcome.append(f"the port is open but sent no Dask greeting within {timeout:g} s")
            return
        except OSError as exc:
            outcome.append(str(exc) or type(exc).__name__)
            return
        frames = int.from_bytes(head, "little") if len(head) == 8 else 0
        outcome.append(None if 1 <= frames <= 64 else "the port answers, but not with the Dask protocol")

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


def connect_scheduler(address: str):
    """A ``distributed.Client`` for ``tcp://host:port``, or :class:`ValueError` within ~5 s."""
    parts = urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "tcp" or not parts.hostname or port is None:
        raise ValueError(f"--scheduler must be 'local' or an address like tcp://host:8786, got {address!r}")
    why = _greets_like_dask(parts.hostname, port, CONNECT_TIMEOUT)
    if why is not None:
        raise ValueError(f"cannot reach a Dask scheduler at {address}: {why}")
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError("the Dask back end needs the optional extra: "
                          "pip install 'provable_mha[distributed]'") from exc
    try:
        return Client(address, timeout=f"{HANDSHAKE_TIMEOUT}s")
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"no Dask scheduler answered at {address} within {HANDSHAKE_TIMEOUT:g} s: "
                         f"{exc}") from None


def _check(args):
    """Every check that needs no computation; returns the grid."""
    from ..resources import estimate_memory
    from ..sweep import grid

    writable_path(args.out, "--out")
    figure_path(args.plot, "--plot")
    axes = (args.m, args.d, args.k, args.n, args.scale, args.seed)
    size = math.prod(len(a) for a in axes)
    if size > args.max_cells:
        raise ValueError(f"the grid has {size} cells ({' x '.join(str(len(a)) for a in axes)} over "
                         f"m, d, k, n, scale, seed), over the limit {args.max_cells}; "
                         "use fewer values or raise --max-cells")
    # the estimate increases in each of m, d, k, n: the largest cell takes the largest of each
    per_cell = estimate_memory(max(args.m), max(args.d), max(args.k), max(args.n), args.n_test)
    workers = min(args.jobs, size)
    check_memory(per_cell * workers, args, f"the largest cell ({workers} at once)")
    if args.scheduler not in (None, "local") and "://" not in args.scheduler:
        raise ValueError(f"--scheduler must be 'local' or an address like tcp://host:8786, "
                         f"got {args.scheduler!r}")
    return grid(args.m, args.d, args.k, args.n, args.scale, args.seed, method=args.method,
                noise=args.noise)


def _summary_table(summary) -> str:
    lines = [f"{'m':>2} {'d':>3} {'k':>3} {'n':>5} {'scale':>5} {'seeds':>5} {'success':>7} "
             f"{'med.test err':>12} {'mean s':>7}"]
    for s in summary:
        lines.append(f"{s['m']:>2} {s['d']:>3} {s['k']:>3} {s['n']:>5} {s['scale']:>5g} "
                     f"{s['seeds']:>5} {s['success_rate']:>7.2f} {s['median_test_error']:>12.2e} "
                     f"{s['mean_seconds']:>7.2f}")
    return "\n".join(lines)


def run(args) -> int:
    """Run (or resume) the grid, print the summary table, optionally plot it."""
    from .. import sweep as sw

    cells = _check(args)
    client = connect_scheduler(args.scheduler) if args.scheduler not in (None, "local") else None
    func = functools.partial(sw.run_cell, n_test=args.n_test, restarts=args.restarts)
    try:
        new = sw.run_sweep(cells, args.out, func=func, n_jobs=args.jobs,
                           scheduler=client or args.scheduler, progress=show_progress(args))
    except sw.SweepInterrupted as exc:
        print(f"provable-mha sweep: {exc}", file=sys.stderr)
        return 130
    finally:
        if client is not None:
            client.close()
    rows = sw.read_results(args.out)
    print(f"{len(cells)} cells: {len(new)} computed now, {len(cells) - len(new)} already in "
          f"{args.out}")
    keys = {c.key for c in cells}
    summary = sw.summarize([r for r in rows if sw.cell_key(r) in keys], tol=args.tol)
    print(_summary_table(summary))
    if args.plot:
        from ..plotting import plot_sweep

        plot_sweep(summary, args.plot, tol=args.tol)
        print(f"wrote {args.plot}")
    return 0


def register(sub) -> None:
    """Add ``sweep`` to the subparsers ``sub``."""
    sw = add_command(
        sub, "sweep", help="resumable grid of learn runs, appended to a CSV file",
        description="A grid over m, d, k, n, scale and seed (each: 3, a range 2..5 or a list 2,3,5) "
                    "of\nplanted problems, each learned as by 'provable-mha learn'. One CSV row is "
                    "appended per\nfinished cell; rerunning the same command skips finished cells, "
                    "so an interrupted\nsweep resumes. Progress (cells done/total, ETA, best test "
                    "error) goes to stderr.",
        example_lines=["provable-mha sweep --m 1..3 --n 20,40,80 --seed 0..4 --out runs.csv",
                        "provable-mha sweep --m 2 --n 40,80 --out runs.csv --jobs 2 --plot runs.png",
                        "provable-mha sweep --m 2 --n 40 --out runs.csv --scheduler tcp://host:8786"])
    sw.add_argument("--m", type=positive_ints, default="2", help="heads")
    sw.add_argument("--d", type=positive_ints, default="8", help="token dimension")
    sw.add_argument("--k", type=positive_ints, default="4", help="tokens per example")
    sw.add_argument("--n", type=positive_ints, default="40,80",
                    help="examples per problem, 20%% of them held out")
    sw.add_argument("--scale", type=float_list, default="1.0",
                    help="logit scales ||Theta_i||_F of the planted heads (dimensionless)")
    sw.add_argument("--seed", type=seeds, default="0..2", help="seeds, one problem each")
    sw.add_argument("--noise", type=nonneg_float, default=0.0,
                    help="standard deviation of the Gaussian label noise (label units)")
    learner_options(sw, n_test=500)
    sw.add_argument("--out", required=True, metavar="PATH",
                    help="CSV file, created or resumed (required; its directory must exist)")
    sw.add_argument("--jobs", type=int_at_least(1), default=1,
                    help="worker processes (joblib/loky), or LocalCluster workers with --scheduler local")
    sw.add_argument("--scheduler", default=None,
                    help="Dask: 'local' for a LocalCluster or tcp://host:port of a running scheduler "
                         "(default: no Dask)")
    sw.add_argument("--tol", type=nonneg_float, default=1e-6,
                    help="a cell succeeds when its relative test error is at most this")
    sw.add_argument("--max-cells", type=int_at_least(1), default=100_000,
                    help="refuse a grid with more cells than this")
    sw.add_argument("--plot", metavar="PATH", default=None,
                    help="save a figure of the summary here, format from the suffix (default: no figure)")
    add_run_options(sw)
    sw.set_defaults(func=run)
