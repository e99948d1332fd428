"""Run every benchmark, then regenerate the README results block (``make bench``).

Each script writes its CSVs under ``benchmarks/results/`` and prints its tables; with ``--quick``
each runs its smoke mode (nothing committed is overwritten). The full run takes hours on a 2-core
machine (learner_vs_baselines ~25 min, frontier ~40 min, sample_complexity ~11 min, structured
~10 min, the rest minutes); the README block is regenerated only after a full run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = ["lsq_core.py", "learner_vs_baselines.py", "structured.py", "noise_cramer_rao.py",
           "sample_complexity.py", "frontier.py", "local_identifiability.py", "start_scales.py",
           "continuation.py", "precision.py", "gd_step_vs_torch.py"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke mode of every script")
    p.add_argument("--only", nargs="*", default=None, help="run only these scripts")
    args = p.parse_args(argv)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    failed = []
    for script in args.only or SCRIPTS:
        if not (HERE / script).exists():
            print(f"== {script}: not present, skipped", flush=True)
            continue
        t0 = time.perf_counter()
        print(f"== {script}", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / script)] + (["--quick"] if args.quick else []), env=env)
        print(f"== {script}: exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
        if rc:
            failed.append(script)
    if not args.quick and not failed:
        subprocess.call([sys.executable, str(HERE / "update_readme.py")])
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
