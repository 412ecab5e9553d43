"""Shared by tools/flash.py and tools/deploy.py: where things are, running commands (or
printing them: --dry-run), errors a user can act on, the board descriptions."""

import glob
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
LIB = ROOT / "firmware" / "lib"
sys.path.insert(0, str(LIB))
from smartyreader import config as configuration  # noqa: E402


# mpy-cross's options for the application as .mpy files (stock firmware, where the code
# is loaded into RAM): -O3 leaves out line numbers (a traceback still names each module
# and function, at "line 1"), 2 KB of heap the meter reader needs on an ESP32.
MPY_CROSS_OPTIONS = ("-O3",)


def mpy_cross(arch, source, relative, target):
    """The command that compiles `source` (`relative`: its path under lib/) to the .mpy
    file `target` for `arch`, as deployed.  Tracebacks name the file by its module
    ("smartyreader.queue"): a name the import has interned already, where a path
    ("smartyreader/queue.py") would be one more entry of the heap's qstr pools a module,
    about 30 of them."""
    mpy_cross = BUILD / "bin" / "mpy-cross"
    module = relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    return [mpy_cross, f"-march={arch}", *MPY_CROSS_OPTIONS, "-s", module, "-o", target, source]


class Failure(Exception):
    """A problem the user can act on; printed without a traceback."""


class Runner:
    """Runs commands, or with dry_run prints them."""

    def __init__(self, dry_run):
        self.dry_run = dry_run

    def run(self, cmd, cwd=None, capture=False, what=None):
        shown = shlex.join(map(str, cmd))  # as a shell would take it
        if self.dry_run:
            print(f"{'(cd ' + str(cwd) + ') ' if cwd else ''}{shown}")
            return ""
        proc = subprocess.run(
            list(map(str, cmd)), cwd=cwd, capture_output=capture, text=True, timeout=600
        )
        if proc.returncode != 0:
            detail = (
                (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] if capture else []
            )
            raise Failure(
                f"{what or shown} failed (exit {proc.returncode})"
                + (f": {detail[0]}" if detail else "")
            )
        return proc.stdout


def tool(module, package):
    """[python, -m, module] from this Python, which must have it (build/venv does)."""
    try:
        __import__(module)
    except ImportError:
        raise Failure(
            f"{package} is not installed for {sys.executable}: run 'make venv' and "
            f"use build/venv/bin/python tools/flash.py"
        )
    return [sys.executable, "-m", module]


def load_board(name):
    path = ROOT / "boards" / name / "board.json"
    if not path.exists():
        names = sorted(p.parent.name for p in (ROOT / "boards").glob("*/board.json"))
        raise Failure(f"no board {name}: --board one of {', '.join(names)}")
    try:
        return configuration.read_board(str(path))
    except configuration.ConfigError as e:
        raise Failure("; ".join(e.problems))


def check_port(port, dry_run):
    if dry_run or os.path.exists(port):
        return
    found = sorted(glob.glob("/dev/ttyUSB*") + glob.glob("/dev/ttyACM*"))
    raise Failure(
        f"no serial port {port}: is the board plugged in (a data cable, not a "
        f"charging one)? Ports here: {', '.join(found) or 'none'}"
    )


def mpremote(port, *args):
    return [*tool("mpremote", "mpremote"), "connect", port, *args]


def read_config(path):
    try:
        return json.loads(Path(path).read_text())
    except OSError as e:
        raise Failure(f"cannot read {path}: {e.strerror}")
    except ValueError as e:
        raise Failure(f"{path} is not valid JSON: {e}")
