"""Shared fixtures: where things are, and how to run code on the built MicroPython."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "build" / "bin"
NATMOD = ROOT / "build" / "natmod"
VECTORS = ROOT / "host_tests" / "vectors"
MP_SCRIPTS = Path(__file__).resolve().parent / "mp"

# (runtime binary, natmod arch it loads)
RUNTIMES = {"micropython": "x64", "micropython32": "x86"}


def run_micropython(runtime, script, *args, heapsize=None, path=(), timeout=900, micropypath=None):
    """Runs `script` on build/bin/<runtime>; returns stdout, fails the test on error.
    The module path: `path` then the frozen modules then host_tests/mp, unless
    `micropypath` gives it whole."""
    cmd = [str(BIN / runtime)]
    if heapsize:
        cmd += ["-X", f"heapsize={heapsize}"]
    if micropypath is None:
        micropypath = [*path, ".frozen", MP_SCRIPTS]
    env = dict(os.environ, MICROPYPATH=":".join(map(str, micropypath)))
    proc = subprocess.run(
        cmd + [str(script), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{runtime} {Path(script).name} exited {proc.returncode}:\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc.stdout


def run_firmware_script(name, *args, heapsize=None):
    """host_tests/mp/<name> on micropython32 with the firmware's modules from source (the
    frozen ones after them): a part of the runtime on its own, stdout returned."""
    return run_micropython(
        "micropython32",
        MP_SCRIPTS / name,
        *args,
        heapsize=heapsize,
        micropypath=[ROOT / "firmware" / "lib", ".frozen"],
    )


@pytest.fixture(
    params=[(rt, form) for rt in RUNTIMES for form in ("builtin", "natmod")],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def aesgcm_runtime(request, tmp_path):
    """(runtime, module name, path): the built-in aesgcm, or the natmod for the
    runtime's arch loaded under another name (the built-in would shadow it)."""
    runtime, form = request.param
    if form == "builtin":
        return runtime, "aesgcm", []
    natmod = NATMOD / f"aesgcm_{RUNTIMES[runtime]}.mpy"
    assert natmod.exists(), f"{natmod} missing: run 'make natmod'"
    (tmp_path / "aesgcm_natmod.mpy").write_bytes(natmod.read_bytes())
    return runtime, "aesgcm_natmod", [tmp_path]
