# Once per start: setup mode (WiFi access point and setup shell) when asked, when the
# setup button is held at boot or while the config is not complete; else the validated
# config the meter reader is put together from (assemble.py).  start.py drops this
# module once it has decided (and config.py goes too, unless the station shell needs
# it): with the application as .mpy files in RAM, their code is heap the reader needs,
# and setup mode's.  Setup mode loads none of the reader's code.
#
# With the application as .mpy files, config.py's names stay on the heap once it is
# loaded (about 80, and they bring the names past a pool boundary: 640 more entries,
# py/qstr.c).  So the config a start validated is remembered (REMEMBERED), and the
# starts after it, while config.json, board.json and config.mpy are the bytes they were
# then, do without config.py; on a board, the start that validated it restarts into one
# of those.

import json
import sys
import time

from smarty import const

from . import beside, forget, hw, log, log_to, write_whole
from .net import station
from .start import AGAIN, FALLBACKS, READER, SETUP, set_fallbacks

REMEMBERED = "validated.json"  # beside config.json: {"key", "board", "config"}
# config.py as an .mpy file beside this one (the application as .mpy files), if it is
_CONFIG_MPY = beside(globals().get("__file__", ""), "config.mpy")

_NO_WIFI_REASON = const("no home WiFi for wifi.fallback_min minutes")
_MAX_DOUBLINGS = const(4)  # fallback_min, x2, x4 ... x16 (10 min: up to 160 min)


def read_board(path):
    """board.json, or None (logged) if it is not a valid board description."""
    from . import config

    try:
        return config.read_board(path)
    except config.ConfigError as e:
        log(e.problems[0] + ": deploy the board's files again (tools/flash.py deploy)")
        return None


def begin(config_path, board_path, setup=False, setup_port=None):
    """(the board description, what prepare() decides), or (None, None) if board.json is
    not valid.  With the application as .mpy files: the board and config an earlier
    start validated, if their files are as they were then (config.py not loaded); and
    after a validation, the config remembered and, on a board, (AGAIN,): start again."""
    key, memo = remembered(config_path, board_path)
    board = memo["board"] if memo else read_board(board_path)
    if board is None:
        return None, None
    hw.MCU = board.get("mcu") or hw.MCU
    return board, prepare(config_path, board, setup, setup_port, memo and memo["config"], key)


def remembered(config_path, board_path):
    """(key, {"board", "config"} as an earlier start validated them, or None): the key is
    a digest of config.json, board.json and config.mpy, the memo is used while it is the
    same.  (None, None) when config.py is not an .mpy file of the application: frozen
    into the image (its names are the image's) or Python source (a host)."""
    key = _digest((_CONFIG_MPY, config_path, board_path))
    if key is None:
        return None, None
    try:
        with open(beside(config_path, REMEMBERED)) as f:
            memo = json.load(f)
        if memo["key"] == key and "board" in memo and "config" in memo:
            return key, memo
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or not whole
        pass
    return key, None


def _digest(paths):
    """A SHA-256 of the files' bytes, in hex; None if one cannot be read."""
    import binascii
    import hashlib

    digest = hashlib.sha256()
    chunk = bytearray(256)
    for path in paths:
        try:
            f = open(path, "rb")
        except OSError:
            return None
        with f:
            while True:
                n = f.readinto(chunk)
                if not n:
                    break
                digest.update(chunk if n == len(chunk) else chunk[:n])
        digest.update(b"\0")
    return binascii.hexlify(digest.digest()).decode()


def prepare(config_path, board, setup=False, setup_port=None, known=None, key=None):
    """What this start runs: (SETUP, the setup shell's TCP port, the home WiFi when
    setup mode stands in for it, else None), or (READER, what assemble.reader() makes
    the meter reader of: the validated config, its home WiFi, the station shell's port
    or None; then no_wifi_s: how long without the home WiFi before setup mode stands
    in, and the setup fallbacks so far); or (AGAIN,) once the config is remembered.
    `known`: the config as validated before, if it is still; `key`: the digest to
    remember a config validated now by (begin())."""
    fallbacks = _fallbacks(config_path)
    reason, cfg, settings = _setup_reason(config_path, board, setup, fallbacks, known)
    if reason:
        log("setup mode: " + reason)
        home = None
        if reason == _NO_WIFI_REASON:  # setup mode until the home WiFi is back
            home = station(settings["wifi"])
        return SETUP, setup_port or settings["setup"]["port"], home
    settings = None
    if key and known is None and _remember(config_path, key, board, cfg) and hw.resets():
        log("starting again without config.py's code")
        return (AGAIN,)  # a host goes on: its next start does without
    if cfg["log"]["tx"] is not None:
        log_to(log_line(**cfg["log"]))
    log("starting; board %s, topic %s" % (board.get("name"), cfg["mqtt"]["topic"]))
    if any(m["uart"]["detach_repl"] for m in cfg["meters"]):  # the console's line:
        log("the meter's line takes the REPL's pins in 3 s (Ctrl-C now to keep the REPL)")
        time.sleep(3)  # a way back in first
        detach_repl()
    wifi = station(cfg["wifi"])
    setup = cfg["setup"]
    shell_port = setup_port or setup["port"]
    station_shell = setup["station_shell"] and setup["password"]
    if setup["station_shell"] and not station_shell:
        log("setup.station_shell needs a setup.password: the shell stays off")
    count = fallbacks[0]
    no_wifi_s = 0
    if cfg["wifi"]["ssid"]:  # after a fallback, the next one waits twice as long
        no_wifi_s = cfg["wifi"]["fallback_min"] * 60 << min(count, _MAX_DOUBLINGS)
    if not station_shell:  # its code and tables are the reader's heap
        forget("smartyreader.config")
    return READER, cfg, wifi, shell_port if station_shell else None, no_wifi_s, count


def _remember(config_path, key, board, cfg):
    """Whether the config just validated is remembered (REMEMBERED) for the starts
    after this one."""
    path = beside(config_path, REMEMBERED)
    try:
        write_whole(path, json.dumps({"key": key, "board": board, "config": cfg}))
        with open(path) as f:  # read back: a start again must find it, or starts forever
            if json.load(f)["key"] != key:
                raise ValueError("read back otherwise")
    except (OSError, ValueError, KeyError) as e:  # a full filesystem: validated each start
        log("cannot remember the validated config: %r" % e)
        return False
    log("config validated and remembered")
    return True


def _setup_reason(config_path, board, asked, fallbacks=None, known=None):
    """(why setup mode starts or None, the config when the firmware can run, or else the
    saved settings as far as they are valid, in sections: setup mode's port and WiFi).
    `fallbacks`: _fallbacks(config_path), if read already; `known`: the config as
    validated before, if it is still (then config.py is not loaded)."""
    if known is None:
        from . import config

        try:
            tree, problems = config.read_tree(config_path), None
        except config.ConfigError as e:
            tree, problems = {}, e.problems
        merged = config.merge(tree, board)  # once: validate() goes on from it
        button = merged[0]["setup_button.pin"]
    else:
        button = known["setup_button"]["pin"]
    if asked:
        reason = asked if isinstance(asked, str) else "asked for"
    elif button_held(button):
        reason = "the setup button is held"
    else:
        count, pending = fallbacks or _fallbacks(config_path)
        if pending:  # once: a reset in setup mode brings the reader back
            set_fallbacks(config_path, count, False)
            reason = _NO_WIFI_REASON
        elif known is not None:
            return None, known, None
        else:
            if problems is None:
                try:
                    return None, config.validate(tree, board, merged), None
                except config.ConfigError as e:
                    problems = e.problems
            for problem in problems:
                log("config: " + problem)
            reason = "the config is not complete"
    return reason, None, known or config.sections(merged[0])


def _fallbacks(config_path):
    """(setup fallbacks since the home WiFi was last seen, whether setup mode is next)."""
    try:
        with open(beside(config_path, FALLBACKS)) as f:
            count, pending = f.read().split()
        return int(count), pending == "1"
    except (OSError, ValueError):
        return 0, False


# ---- the board at start-up: the setup button, the REPL's pins, the log line ----


def detach_repl():
    """Frees the meter's pins from the REPL.  ESP8266: UART0 is the meter's line; the
    REPL sits in dupterm slot 1 (ports/esp8266/boards/manifest.py's boot: os.dupterm(
    machine.UART(0), 1); the port has slots 0 and 1).  ESP32: the REPL is the IDF console
    on UART0, not a dupterm slot (the port has one, slot 0, and os.dupterm(None, 1)
    raises ValueError); the meter's UART1 simply takes GPIO1 from it: nothing to do."""
    import os

    if hw.MCU == "esp8266":
        os.dupterm(None, 1)


def log_line(tx, baudrate):
    """The transmit-only UART for the log on pin `tx`: the ESP8266's UART1, whose TX is
    GPIO2 only (ports/esp8266/uart.c); the ESP32's UART2 (UART1 is the meter's).  None
    where there is none (a host: the log is on the console)."""
    if hw.machine is None or not hasattr(hw.machine, "UART"):
        return None
    if hw.MCU == "esp8266":
        return hw.machine.UART(1, baudrate)
    if hw.MCU == "esp32" and sys.platform != "esp8266":
        return hw.machine.UART(2, baudrate, tx=tx)
    return None


def button_held(number):
    """Whether the button on pin `number` (to ground, pulled up) is pressed now."""
    if number is None or hw.machine is None or not hasattr(hw.machine, "Pin"):
        return False
    try:
        pin = hw.machine.Pin
        return pin(number, pin.IN, pin.PULL_UP).value() == 0
    except ValueError:  # no such pin, or no pull-up (GPIO16 on the ESP8266): no button
        return False
