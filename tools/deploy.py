"""tools/flash.py deploy: check the target's firmware, compile the application for its
architecture, copy it (with board.json, main.py, the aesgcm natmod, umqtt if missing, a
checked config and the setup access point's password)."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from boardio import (
    BUILD,
    LIB,
    ROOT,
    Failure,
    Runner,
    configuration,
    mpremote,
    mpy_cross,
    read_config,
)
from smartyreader.setup import AP_PASSWORD_FILE, ap_password

# sys.implementation._mpy >> 10: the native architecture (py/persistentcode.h)
ARCHS = (
    "none",
    "x86",
    "x64",
    "armv6",
    "armv6m",
    "armv7m",
    "armv7em",
    "armv7emsp",
    "armv7emdp",
    "xtensa",
    "xtensawin",
    "rv32imc",
)
MPY_VERSION = 6  # what build/bin/mpy-cross (MicroPython 1.25) writes
# Run on the board (or the unix port) before a deploy: what its firmware has.
PROBE = (
    "import sys, json, os\n"
    "def has(m):\n"
    " try:\n  __import__(m); return True\n except ImportError:\n  return False\n"
    "print('PROBE', json.dumps({'mpy': getattr(sys.implementation, '_mpy', 0),"
    " 'umqtt': has('umqtt.simple'), 'aesgcm': has('aesgcm'),"
    " 'frozen_app': has('smartyreader.app'), 'ap': '%s' in os.listdir()}))\n" % AP_PASSWORD_FILE
)


def app_files():
    """The application's modules, as firmware/manifest.py lists them (one source)."""
    collected = []

    def package(name, files=(), base_path="."):
        collected.extend(f"{name}/{file}" for file in files)

    exec((ROOT / "firmware" / "manifest.py").read_text(), {"package": package})
    return collected


def probe(args, runner, board):
    """What the target's firmware has (see PROBE)."""
    if args.dry_run:
        print(f"# check the firmware: {' '.join(map(str, probe_command(args)))} '<probe>'")
        arch = board.get("arch") or "x64"
        return {
            "mpy": MPY_VERSION | (3 << 8) | (ARCHS.index(arch) << 10),
            "umqtt": True,
            "aesgcm": False,
            "frozen_app": False,
            "ap": False,
        }
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "probe.py"
        script.write_text(PROBE)
        if args.target:
            Path(args.target).mkdir(parents=True, exist_ok=True)
            if not Path(args.micropython).exists():
                raise Failure(f"{args.micropython} is missing: run 'make micropython' first")
            cmd = [args.micropython, script]
            env = dict(os.environ, MICROPYPATH=".frozen")
            proc = subprocess.run(
                list(map(str, cmd)),
                capture_output=True,
                text=True,
                cwd=args.target,
                env=env,
                timeout=60,
            )
            out = proc.stdout
        else:
            try:
                out = runner.run(
                    [*probe_command(args), PROBE],
                    capture=True,
                    what=f"talking to the board on {args.port}",
                )
            except Failure as e:
                raise Failure(
                    f"{e}\nthe board on {args.port} does not answer: is MicroPython "
                    "on it (tools/flash.py flash), and no other program on the port?"
                )
    for line in out.splitlines():
        if line.startswith("PROBE "):
            return json.loads(line[6:])
    raise Failure(f"the target did not answer the probe: {out.strip()[-300:]}")


def probe_command(args):
    if args.target:
        return [args.micropython]
    return mpremote(args.port, "exec")


def check_firmware(found, board, board_name):
    version, arch = found["mpy"] & 0xFF, ARCHS[found["mpy"] >> 10]
    if version != MPY_VERSION:
        raise Failure(
            f"the firmware reads .mpy version {version}, our mpy-cross writes "
            f"{MPY_VERSION}: flash MicroPython 1.23 or newer (tools/flash.py flash)"
        )
    if board.get("arch") and arch != board["arch"]:
        raise Failure(
            f"the firmware is for {arch}, but {board_name} is {board['arch']}: wrong "
            f"--board, or flash that board's MicroPython (tools/flash.py flash)"
        )
    return arch


def stage(args, board, found, arch, runner):
    """The tree to copy, in a fresh directory."""
    out = BUILD / "deploy" / args.board
    if out.exists():
        shutil.rmtree(out)
    (out / "lib").mkdir(parents=True)
    compiler = BUILD / "bin" / "mpy-cross"
    if not compiler.exists() and not args.dry_run:
        raise Failure(f"{compiler} is missing: run 'make micropython' first")
    sources = [] if found["frozen_app"] else [(LIB / f, f) for f in app_files()]
    if not found["umqtt"]:
        sources.append(
            (
                BUILD
                / "micropython-lib-1.25.0"
                / "micropython"
                / "umqtt.simple"
                / "umqtt"
                / "simple.py",
                "umqtt/simple.py",
            )
        )
    for source, relative in sources:
        target = (out / "lib" / relative).with_suffix(".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        runner.run(mpy_cross(arch, source, relative, target))
    natmod = BUILD / "natmod" / f"aesgcm_{arch}.mpy"
    if not found["aesgcm"] and natmod.exists():
        shutil.copy(natmod, out / "lib" / "aesgcm.mpy")
    shutil.copy(ROOT / "firmware" / "main.py", out / "main.py")
    shutil.copy(ROOT / "boards" / args.board / "board.json", out / "board.json")
    if args.config:
        tree = read_config(args.config)
        try:
            configuration.validate(tree, board)
        except configuration.ConfigError as e:
            raise Failure(f"{args.config}: " + "\n  ".join(["not deployed:", *e.problems]))
        (out / "config.json").write_text(json.dumps(tree))
    password = None
    if not found["ap"]:
        password = ap_password(str(out / AP_PASSWORD_FILE))
    return out, password


def deploy(args, board):
    """args: the command line of flash.py deploy; board: its board.json, checked."""
    runner = Runner(args.dry_run)
    found = probe(args, runner, board)
    arch = check_firmware(found, board, args.board)
    out, password = stage(args, board, found, arch, runner)
    files = sorted(p.name for p in out.iterdir() if p.name != "lib")
    if args.target:
        target = Path(args.target)
        target.mkdir(parents=True, exist_ok=True)
        runner.run(["cp", "-r", "lib", *files, target], cwd=out)
    else:
        runner.run(
            mpremote(
                args.port, "fs", "cp", "-r", "lib", ":", "+", "fs", "cp", *files, ":", "+", "reset"
            ),
            cwd=out,
            what=f"copying to {args.port}",
        )
    where = args.target or args.port
    print(
        f"{'would deploy' if args.dry_run else 'deployed'} {args.board} to {where}"
        + ("" if args.dry_run else f" ({sum(1 for _ in out.rglob('*.mpy'))} .mpy files)")
    )
    if password:
        print(
            f"setup access point password: {password}  (kept on the board in "
            f"{AP_PASSWORD_FILE}; write it down)"
        )
