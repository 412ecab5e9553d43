# Start-up and the last line of defence: boot.py decides between setup mode and the
# meter reader, assemble.py puts the reader together, and it runs here, with their code
# (and config.py's) dropped: with the application as .mpy files in RAM, that code is
# heap the reader needs.

import gc
import time

import asyncio

from . import beside, forget, hw, log

STOP = 0  # what a start ends with: stop (a host exits)
REBOOT = 1  # ... reset the board
P1_FAILED = 2  # ... the P1 port cannot be opened: setup mode, its settings must change
FALLBACKS = "wifi_fallback.txt"  # beside config.json: "<fallbacks> <pending>"
SETUP = 0  # what boot.prepare() decides: setup mode ...
READER = 1  # ... or the meter reader ...
AGAIN = 2  # ... or (boot.begin()) a new start: the config is validated and remembered


def main(config_path="config.json", board_path="board.json", setup=False, setup_port=None):
    """The firmware: setup mode when asked, when the setup button is held or the config
    is not valid; else read the meter and publish.  Returns an exit status (host)."""
    while True:
        from . import boot

        board, job = boot.begin(config_path, board_path, setup, setup_port)
        boot = None
        forget("smartyreader.boot")
        if board is None:
            return 2
        if job[0] == AGAIN:
            hw.reset()
            continue
        step = _setup_mode if job[0] == SETUP else _reader
        action = step(config_path, board, *job[1:])
        job = None
        setup = "the P1 port cannot be opened" if action == P1_FAILED else False
        if action == STOP:
            return 0
        if action == REBOOT:
            hw.reset()


def _setup_mode(config_path, board, port, home):
    """Setup mode until a session asks for a reboot (REBOOT) or the serial one ends."""
    from . import setup  # only now: its heap is the meter reader's

    gc.collect()
    return REBOOT if setup.run(config_path, board, port, log, home) == setup.REBOOT else STOP


def _reader(config_path, board, cfg, wifi, shell_port, no_wifi_s, fallbacks):
    """The meter reader put together (assemble.py, dropped after) and run: what to do
    next."""
    from . import assemble

    built = assemble.reader(config_path, board, cfg, wifi, shell_port)
    cfg = wifi = assemble = None
    forget("smartyreader.assemble")
    if built == P1_FAILED:
        return P1_FAILED
    app, shell = built
    built = None
    return _run(config_path, app, shell, no_wifi_s, fallbacks)


def _run(config_path, app, shell, no_wifi_s, fallbacks):
    """The meter reader until it ends: what to do next."""
    from .app import NO_WIFI
    from .app import REBOOT as ASKED

    gc.collect()
    try:
        fallback_path = beside(config_path, FALLBACKS) if fallbacks else None
        ended = asyncio.run(app.run(shell, no_wifi_s, fallback_path))
        if ended == NO_WIFI:
            log("no home WiFi for %d min: setup mode, the way back in" % (no_wifi_s // 60))
            set_fallbacks(config_path, fallbacks + 1, True)
        return REBOOT if ended in (ASKED, NO_WIFI) else STOP
    finally:
        app.broker.close()
        app.guard.save()


def set_fallbacks(config_path, count, pending):
    """Setup fallbacks since the home WiFi was last seen, and whether setup mode is next."""
    with open(beside(config_path, FALLBACKS), "w") as f:
        f.write("%d %d\n" % (count, pending))


def run(*args, **options):
    """main(), and the last line of defence around it: whatever escapes (persistent
    trouble, a bug) is logged, and after a pause the board resets; a host exits with
    status 3.  Ctrl-C stops it (the REPL, where there is one)."""
    try:
        return main(*args, **options)
    except KeyboardInterrupt:
        log("stopped")
        return 0
    except BaseException as e:  # noqa: BLE001 - nothing may leave the board dead
        import sys

        log("restarting after %r" % e)
        if hasattr(sys, "print_exception"):
            sys.print_exception(e)
        time.sleep(5)
        hw.reset()
        return 3
