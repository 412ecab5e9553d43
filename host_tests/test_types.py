"""The firmware type-checked against each port's stubs (micropython-<port>-stubs 1.25,
pinned in host_tests/stubs-<port>.txt, one directory each under build/stubs by
`make stubs`): a module, class, function, constant or argument the port does not have
fails here, not on a board.  mypy with host_tests/mypy.ini (what is switched off there,
and why), `--platform <port>` so that a `sys.platform == "esp32"` branch counts only on
the ESP32, and the stubs' stdlib/ as typeshed."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from test_boards import BOARDS, resolve

STUBS = ROOT / "build" / "stubs"
CONFIG = ROOT / "host_tests" / "mypy.ini"

# Gaps in the stubs, by file and exact message (mypy's config can switch a check off only
# for a whole module), each with where the port has it:
STUB_GAPS = [
    # the stubs list dir(tls.SSLContext); verify_mode is in its attr handler on both ports
    # (extmod/modtls_axtls.c, modtls_mbedtls.c) and a property of micropython-lib's ssl.py
    ("firmware/lib/smartyreader/tls.py", '"SSLContext" has no attribute "verify_mode"'),
]


def board_files(board):
    """main.py and the application modules the board's manifest freezes, from the root."""
    files, _ = resolve(board, BOARDS[board])
    ours = sorted(
        target
        for _, target in files
        if target.endswith(".py") and target.split("/")[0] in ("smarty", "smartyreader")
    )
    return ["firmware/main.py"] + [f"firmware/lib/{target}" for target in ours]


def mypy(port, paths):
    """mypy's error lines for `paths` against the port's stubs, and how many files it
    checked."""
    stubs = STUBS / port
    assert (stubs / ".installed").exists(), f"{stubs} missing: run 'make stubs'"
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(CONFIG)]
    cmd += ["--custom-typeshed-dir", str(stubs), "--platform", port]
    cmd += ["--cache-dir", str(ROOT / "build" / "mypy-cache" / port), *map(str, paths)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, MYPYPATH=str(stubs))
    )
    checked = re.search(r"(\d+) source files?\)?$", proc.stdout.strip())
    # 0: no errors, 1: errors; anything else is mypy failing to run
    assert proc.returncode in (0, 1) and checked, proc.stdout + proc.stderr
    return [line for line in proc.stdout.splitlines() if ": error: " in line], int(checked[1])


def is_stub_gap(line):
    path, _, rest = line.partition(":")
    return any(
        path == gap_path and f"error: {message}  [" in rest for gap_path, message in STUB_GAPS
    )


@pytest.mark.parametrize("board", BOARDS)
def test_the_firmware_calls_only_what_the_port_has(board):
    files = board_files(board)
    assert "firmware/lib/smartyreader/hw.py" in files and len(files) > 20
    errors, checked = mypy(BOARDS[board], files)
    assert checked == len(files)
    errors = [line for line in errors if not is_stub_gap(line)]
    assert not errors, f"{board} ({BOARDS[board]}):\n" + "\n".join(errors)


# (id, code, {port: the error it gets there, or None: accepted}): what one port has and
# the other does not, read in the 1.25 port sources.
SNIPPETS = [
    # the ESP8266's axTLS context cannot take CA certificates (extmod/modtls_axtls.c)
    (
        "load_verify_locations",
        "import ssl\n\n"
        'ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=b"")\n',
        {"esp8266": '"SSLContext" has no attribute "load_verify_locations"', "esp32": None},
    ),
    # no invert option on the ESP8266's UART (ports/esp8266/machine_uart.c)
    (
        "UART.INV_RX",
        "import machine\n\nmachine.UART(1, invert=machine.UART.INV_RX)\n",
        {"esp8266": '"type[UART]" has no attribute "INV_RX"', "esp32": None},
    ),
    # the esp32 module is the ESP32's own
    (
        "esp32",
        'import esp32\n\nesp32.NVS("smarty")\n',
        {
            "esp8266": 'Cannot find implementation or library stub for module named "esp32"',
            "esp32": None,
        },
    ),
    # esp.deepsleep is the ESP8266's (ports/esp8266/modesp.c; the ESP32 has machine.deepsleep)
    (
        "esp.deepsleep",
        "import esp\n\nesp.deepsleep(0)\n",
        {"esp8266": None, "esp32": 'Module has no attribute "deepsleep"'},
    ),
    # arguments are checked too
    (
        "arguments",
        "import time\n\ntime.sleep_ms()\n",
        {port: 'Too few arguments for "sleep_ms"' for port in ("esp8266", "esp32")},
    ),
]


@pytest.mark.parametrize("port", sorted(set(BOARDS.values())))
@pytest.mark.parametrize(
    "code, expected", [pytest.param(code, expected, id=name) for name, code, expected in SNIPPETS]
)
def test_a_call_the_port_lacks_fails(port, code, expected, tmp_path):
    snippet = tmp_path / "snippet.py"
    snippet.write_text(code)
    errors, _ = mypy(port, [snippet])
    if expected[port] is None:
        assert errors == []
    else:
        assert len(errors) == 1 and expected[port] in errors[0], errors
