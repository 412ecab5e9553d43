#!/usr/bin/env python3
"""Runs test modules again and again while CPU hogs keep every core busy: does the
suite still pass on a loaded CI machine?  `make stress` (10 runs of the firmware and
setup tests) or:

    build/venv/bin/python tools/stress.py [--runs N] [--hogs N] host_tests/test_x.py ...

Prints each run's result and, at the end, "N passed, M failed" (runs, not tests).
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("modules", nargs="+")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--hogs", type=int, default=os.cpu_count() or 2, help="busy loops (one a core)")
    p.add_argument("--log-dir", default=str(ROOT / "build" / "stress"))
    args = p.parse_args(argv)
    # stopped (SIGTERM: `timeout`, kill), it still ends its hogs and the run under way
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logs = Path(args.log_dir)
    logs.mkdir(parents=True, exist_ok=True)
    hogs = [
        subprocess.Popen(["yes"], stdout=subprocess.DEVNULL, start_new_session=True)
        for _ in range(args.hogs)
    ]
    passed = failed = 0
    try:
        for run in range(1, args.runs + 1):
            start = time.monotonic()
            log = logs / f"run-{run}.log"
            with open(log, "w") as out:
                code = subprocess.call(
                    [sys.executable, "-m", "pytest", "-q", *args.modules],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=ROOT,
                )
            summary = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
            ok = code == 0
            passed, failed = passed + ok, failed + (not ok)
            print(
                f"run {run}: {'pass' if ok else 'FAIL'} in {time.monotonic() - start:.0f} s "
                f"({summary[0]}; {log})",
                flush=True,
            )
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    print(f"stress ({args.hogs} CPU hogs): {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
