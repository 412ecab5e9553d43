#!/usr/bin/env python3
"""SmartyReader host tool.

  p1.py decode [--key HEX] [--auth-key HEX] [--runtime R] [--backend B] FILE...
      Decode captured P1 bytes (raw, or hex text if FILE ends in .hex): one JSON
      object per frame or error.  --runtime cpython (default), micropython or
      micropython32 (the built unix ports) runs the very same core.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "firmware" / "lib"
TOOLS = ROOT / "tools"
BIN = ROOT / "build" / "bin"
RUNTIMES = ("cpython", "micropython", "micropython32")


def micropython_env():
    return dict(os.environ, MICROPYPATH=f".frozen:{LIB}:{TOOLS}")


def decode(args):
    argv = []
    for option, value in (("--key", args.key), ("--auth-key", args.auth_key),
                          ("--backend", args.backend)):
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("decode", help="decode captured P1 bytes to JSON lines")
    p.add_argument("--key", help="meter key (32 hex digits), for encrypted frames")
    p.add_argument("--auth-key", help="authentication key if not Luxembourg's")
    p.add_argument("--runtime", choices=RUNTIMES, default="cpython")
    p.add_argument("--backend", help="force a GCM backend (aesgcm, cryptolib+viper, "
                   "cryptography, pure-python)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(run=decode)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
