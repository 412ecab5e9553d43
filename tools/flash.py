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
import json
import os
import selectors
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boardio import (  # noqa: E402
    BUILD,
    Failure,
    Runner,
    check_port,
    configuration,
    load_board,
    mpremote,
    read_config,
    tool,
)
import deploy  # noqa: E402


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


def deploy_command(args):
    board = load_board(args.board)
    if not args.target:
        check_port(args.port, args.dry_run)
    deploy.deploy(args, board)


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
    p.set_defaults(run=deploy_command)

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
