#!/usr/bin/env python3
"""SmartyReader board tool (host, CPython; esptool and mpremote from build/venv).

flash.py flash --board B --port P [--firmware FILE]
    Erase the board and write a MicroPython image: a stock one you downloaded, or a
    custom build (make firmware; build/firmware/B.bin is the default).
flash.py deploy --board B (--port P | --target DIR) [--config FILE]
    Compile the application with mpy-cross for the board's architecture and copy it
    with board.json, the aesgcm natmod (when built for that architecture) and umqtt
    (when the firmware lacks it); --config also writes a checked config.json.  The
    setup access point's password is made here if the board has none, and shown.
flash.py config --port P [--write FILE]
    Show the board's config (secrets masked) and its problems, or write a checked one.
flash.py setup HOST [--shell-port 23]
    The setup shell over TCP (what telnet or nc would do).
flash.py monitor --port P
    What the board prints on its serial console (Ctrl-C ends).

--dry-run prints every command instead of running it.  B is a folder in boards/.
"""

import argparse
import glob
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
LIB = ROOT / "firmware" / "lib"
sys.path.insert(0, str(LIB))
from smartyreader import config as configuration  # noqa: E402
from smartyreader.setup import AP_PASSWORD_FILE, ap_password  # noqa: E402

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


class Failure(Exception):
    """A problem the user can act on; printed without a traceback."""


class Runner:
    """Runs commands, or with dry_run prints them."""

    def __init__(self, dry_run):
        self.dry_run = dry_run

    def run(self, cmd, cwd=None, capture=False, what=None):
        shown = " ".join(map(str, cmd))
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


# ---- flash ----


def flash(args):
    board = load_board(args.board)
    if "flash" not in board:
        raise Failure(f"{args.board} is not flashed: it runs on the unix port")
    spec = board["flash"]
    image = Path(args.firmware or BUILD / "firmware" / f"{args.board}.bin")
    if not image.exists():
        raise Failure(
            f"no firmware image {image}: download MicroPython 1.25 for "
            f"{spec['chip'].upper()}_GENERIC, or build one (make firmware "
            f"BOARD={args.board}), and give it with --firmware"
        )
    if image.read_bytes()[:1] != b"\xe9":
        raise Failure(f"{image} is not an ESP firmware image (it must start with 0xE9)")
    check_port(args.port, args.dry_run)
    esptool = [
        *tool("esptool", "esptool"),
        "--chip",
        spec["chip"],
        "--port",
        args.port,
        "--baud",
        str(args.baud or spec["baud"]),
    ]
    runner = Runner(args.dry_run)
    why = f"esptool on {args.port}: is it a {spec['chip'].upper()} (hold BOOT/FLASH if it waits)"
    runner.run([*esptool, "erase_flash"], what=why)
    runner.run(
        [
            *esptool,
            "write_flash",
            "--flash_mode",
            spec["mode"],
            "--flash_size",
            spec["size"],
            spec["offset"],
            image,
        ],
        what=why,
    )
    if not args.dry_run:
        print(
            f"flashed {image.name}; next: tools/flash.py deploy --board {args.board} "
            f"--port {args.port}"
        )


# ---- deploy ----


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
    mpy_cross = BUILD / "bin" / "mpy-cross"
    if not mpy_cross.exists() and not args.dry_run:
        raise Failure(f"{mpy_cross} is missing: run 'make micropython' first")
    sources = [] if found["frozen_app"] else [(LIB / f, f) for f in app_files()]
    if not found["umqtt"]:
        sources.append((BUILD / "umqtt" / "umqtt" / "simple.py", "umqtt/simple.py"))
    for source, relative in sources:
        target = (out / "lib" / relative).with_suffix(".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        runner.run([mpy_cross, f"-march={arch}", "-s", relative, "-o", target, source])
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


def read_config(path):
    try:
        return json.loads(Path(path).read_text())
    except OSError as e:
        raise Failure(f"cannot read {path}: {e.strerror}")
    except ValueError as e:
        raise Failure(f"{path} is not valid JSON: {e}")


def deploy(args):
    board = load_board(args.board)
    if not args.target:
        check_port(args.port, args.dry_run)
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
        f"deployed {args.board} to {where}"
        + ("" if args.dry_run else f" ({sum(1 for _ in out.rglob('*.mpy'))} .mpy files)")
    )
    if password:
        print(
            f"setup access point password: {password}  (kept on the board in "
            f"{AP_PASSWORD_FILE}; write it down)"
        )


# ---- config, setup, monitor ----


def config_command(args):
    check_port(args.port, args.dry_run)
    runner = Runner(args.dry_run)
    if args.write:
        tree = read_config(args.write)
        board = json.loads(
            runner.run(mpremote(args.port, "fs", "cat", ":board.json"), capture=True) or "{}"
        )
        try:
            configuration.validate(tree, board or None)
        except configuration.ConfigError as e:
            raise Failure("\n  ".join([f"{args.write} not written:", *e.problems]))
        rename = (
            "import os\ntry:\n os.rename('config.json.tmp','config.json')\n"
            "except OSError:\n os.remove('config.json')\n"
            " os.rename('config.json.tmp','config.json')"
        )
        runner.run(
            mpremote(args.port, "fs", "cp", args.write, ":config.json.tmp", "+", "exec", rename)
        )
        print(f"wrote config.json on {args.port}; it applies at the next reset")
        return
    tree = json.loads(
        runner.run(
            mpremote(args.port, "fs", "cat", ":config.json"),
            capture=True,
            what="reading config.json",
        )
        or "{}"
    )
    board = json.loads(
        runner.run(mpremote(args.port, "fs", "cat", ":board.json"), capture=True) or "{}"
    )
    values, _ = configuration.merge(tree, board)
    print(configuration.show(values))
    try:
        configuration.validate(tree, board)
        print("complete")
    except configuration.ConfigError as e:
        print("\n".join("problem: " + p for p in e.problems))


def setup(args):
    if args.dry_run:
        print(f"connect to {args.host}:{args.shell_port} (TCP) and relay this terminal")
        return
    try:
        sock = socket.create_connection((args.host, args.shell_port), timeout=10)
    except OSError as e:
        raise Failure(
            f"cannot reach the setup shell at {args.host}:{args.shell_port} ({e}): "
            "joined the SmartyReader-xxxx WiFi? (the board is 192.168.4.1 there)"
        )
    sock.settimeout(None)
    events = selectors.DefaultSelector()
    events.register(sock, selectors.EVENT_READ)
    stdin = sys.stdin.fileno()
    events.register(stdin, selectors.EVENT_READ)
    while True:  # until the shell ends the session (exit, reboot)
        for key, _ in events.select():
            if key.fileobj is sock:
                data = sock.recv(4096)
                if not data:
                    return
                sys.stdout.write(data.decode(errors="replace").replace("\r\n", "\n"))
                sys.stdout.flush()
            else:
                data = os.read(stdin, 4096)
                if data:
                    sock.sendall(data)
                else:  # the end of the input: what the shell still says is read
                    events.unregister(stdin)
                    sock.shutdown(socket.SHUT_WR)


def monitor(args):
    check_port(args.port, args.dry_run)
    if args.dry_run:
        print(f"read {args.port} at {args.baud or 115200} baud and print it")
        return
    import serial

    with serial.Serial(args.port, args.baud or 115200, timeout=0.5) as line:
        try:
            while True:
                data = line.read(256)
                if data:
                    sys.stdout.write(data.decode(errors="replace"))
                    sys.stdout.flush()
        except KeyboardInterrupt:
            pass


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2],
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dry-run", action="store_true", help="print the commands only")
    common.add_argument("--baud", type=int, help="serial speed (default: the board's)")

    p = commands.add_parser("flash", parents=[common], help="write a MicroPython image")
    p.add_argument("--board", required=True)
    p.add_argument("--port", required=True)
    p.add_argument("--firmware", help="the image (default: build/firmware/BOARD.bin)")
    p.set_defaults(run=flash)

    p = commands.add_parser("deploy", parents=[common], help="copy the application")
    p.add_argument("--board", required=True)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="the board's serial port")
    where.add_argument("--target", help="a directory instead (the unix port boots it)")
    p.add_argument("--config", help="also write this config.json (checked first)")
    p.add_argument(
        "--micropython",
        default=str(BUILD / "bin" / "micropython"),
        help="with --target: the MicroPython that will run it",
    )
    p.set_defaults(run=deploy)

    p = commands.add_parser("config", parents=[common], help="show or write config.json")
    p.add_argument("--port", required=True)
    p.add_argument("--write", metavar="FILE", help="write this config (checked first)")
    p.set_defaults(run=config_command)

    p = commands.add_parser("setup", parents=[common], help="the setup shell over TCP")
    p.add_argument("host", help="the board's address (192.168.4.1 on its access point)")
    p.add_argument("--shell-port", type=int, default=23)
    p.set_defaults(run=setup)

    p = commands.add_parser("monitor", parents=[common], help="the serial console")
    p.add_argument("--port", required=True)
    p.set_defaults(run=monitor)

    args = parser.parse_args(argv)
    try:
        args.run(args)
    except Failure as e:
        print(f"flash.py {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
