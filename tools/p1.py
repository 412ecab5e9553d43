#!/usr/bin/env python3
"""SmartyReader host tool.

p1.py decode [--key HEX] [--auth-key HEX] [--runtime R] [--backend B] FILE...
    Decode captured P1 bytes (raw, or hex text if FILE ends in .hex): one JSON
    object per frame or error.  --runtime cpython (default), micropython or
    micropython32 (the built unix ports) runs the very same core.
p1.py simulate --telegram FILE --key HEX --pty LINK [--interval S] [faults]
    A Smarty on a pty: encrypted frames at 115200 pace, timestamp and counters
    advancing; faults on every Nth frame (--noise, --truncate, --wrong-key,
    --replay, --oversize).
p1.py run --config FILE [--runtime micropython|micropython32|micropython32-stock]
          [--setup] [--setup-port N]
    The firmware (firmware/main.py) on the unix port, its P1 port the serial
    device or pty given as uart.device in the config.  micropython32-stock is a
    stock image's counterpart (no aesgcm, nothing of ours frozen: give it the
    application as .mpy files with --path).  Setup mode (the setup
    shell on TCP and on this terminal) with --setup or while the config is not
    complete; the config file need not exist yet.
"""

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "firmware" / "lib"
TOOLS = ROOT / "tools"
BIN = ROOT / "build" / "bin"
RUNTIMES = ("cpython", "micropython", "micropython32", "micropython32-stock")


def micropython_env():
    return dict(os.environ, MICROPYPATH=f".frozen:{LIB}:{TOOLS}")


def decode(args):
    argv = []
    for option, value in (
        ("--key", args.key),
        ("--auth-key", args.auth_key),
        ("--backend", args.backend),
    ):
        if value:
            argv += [option, value]
    argv += args.files
    if args.runtime == "cpython":
        sys.path[:0] = [str(LIB), str(TOOLS)]
        import p1decode

        return p1decode.main(argv)
    binary = BIN / args.runtime
    if not binary.exists():
        sys.exit(f"p1 decode: {binary} is missing: run 'make micropython' first")
    return subprocess.call([str(binary), str(TOOLS / "p1decode.py"), *argv], env=micropython_env())


def firmware_path(extra=(), frozen=False):
    """MICROPYPATH for the firmware on the unix port: the application's source (or, with
    frozen, the application frozen into micropython32, as on a board), the frozen
    asyncio, umqtt and ssl (micropython-lib's, as the boards freeze them)."""
    app = [".frozen", str(LIB)] if frozen else [str(LIB), ".frozen"]
    return ":".join([*map(str, extra), *app])


def run(args):
    binary = BIN / args.runtime
    if not binary.exists():
        sys.exit(f"p1 run: {binary} is missing: run 'make micropython' first")
    cmd = [str(binary)]
    if args.heapsize:
        cmd += ["-X", f"heapsize={args.heapsize}"]
    board = ROOT / "boards" / args.board / "board.json"
    cmd += [str(ROOT / "firmware" / "main.py"), str(Path(args.config).resolve()), str(board)]
    if args.setup:
        cmd.append("--setup")
    if args.setup_port:
        cmd.append(f"--setup-port={args.setup_port}")
    env = dict(os.environ, MICROPYPATH=firmware_path(args.path or (), args.frozen))
    try:
        while True:
            status = subprocess.call(cmd, env=env)
            # a board model's machine.reset() kills the runtime: the board starts again
            if status != -signal.SIGKILL or not os.getenv("SMARTY_MODEL"):
                return status
            print("p1 run: the board model was reset: starting again", flush=True)
    except KeyboardInterrupt:
        return 130


def simulate(args):
    sys.path[:0] = [str(TOOLS)]
    import p1sim

    return p1sim.run(args)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("decode", help="decode captured P1 bytes to JSON lines")
    p.add_argument("--key", help="meter key (32 hex digits), for encrypted frames")
    p.add_argument("--auth-key", help="authentication key if not Luxembourg's")
    p.add_argument("--runtime", choices=RUNTIMES, default="cpython")
    p.add_argument(
        "--backend",
        help="force a GCM backend (aesgcm, cryptolib+viper, cryptography, pure-python)",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(run=decode)

    p = commands.add_parser("simulate", help="a simulated Smarty meter on a pty")
    sys.path[:0] = [str(TOOLS)]
    import p1sim

    p1sim.add_arguments(p)
    p.set_defaults(run=simulate)

    p = commands.add_parser("run", help="the firmware on the MicroPython unix port")
    p.add_argument("--config", required=True, help="config.json (uart.device: the P1 line)")
    p.add_argument("--runtime", choices=RUNTIMES[1:], default="micropython")
    p.add_argument("--board", default="unix", help="board description (boards/NAME/board.json)")
    p.add_argument("--heapsize", help="MicroPython heap, e.g. 36k")
    p.add_argument(
        "--path",
        action="append",
        help="a directory put first on the module path (e.g. the application compiled to .mpy)",
    )
    p.add_argument(
        "--frozen",
        action="store_true",
        help="run the application frozen into the "
        "runtime (micropython32), as on a board, rather than its source",
    )
    p.add_argument("--setup", action="store_true", help="start in setup mode (the setup shell)")
    p.add_argument(
        "--setup-port", type=int, help="TCP port of the setup shell (default: setup.port, 23)"
    )
    p.set_defaults(run=run)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
