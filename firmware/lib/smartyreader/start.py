# Start-up: setup mode (WiFi access point and setup shell) when asked, when the setup
# button is held at boot or while the config is not complete; else the meter reader
# (app.App) with the board's and the user's settings.  Setup mode loads none of the
# reader's code: on an ESP8266 with the application in RAM (.mpy) that is what fits.

import gc
import time

import asyncio

from . import beside, hw, log, log_to

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from .net import WiFi


def _setup_reason(config_path, board, asked):
    """(why setup mode starts or None, the config when the firmware can run, the saved
    settings as far as they are valid: setup mode's button and port)."""
    from . import config

    try:
        tree, problems = config.read_tree(config_path), None
    except config.ConfigError as e:
        tree, problems = {}, e.problems
    settings = config.merge(tree, board)[0]
    if asked:
        return (asked if isinstance(asked, str) else "asked for"), None, settings
    if hw.button_held(settings["setup_button.pin"]):
        return "the setup button is held", None, settings
    fallbacks, pending = _fallbacks(config_path)
    if pending:  # once: a reset in setup mode brings the reader back
        _set_fallbacks(config_path, fallbacks, False)
        return _NO_WIFI_REASON, None, settings
    if problems is None:
        try:
            return None, config.validate(tree, board), settings
        except config.ConfigError as e:
            problems = e.problems
    for problem in problems:
        log("config: " + problem)
    return "the config is not complete", None, settings


def _read_board(path):
    from . import config

    try:
        return config.read_board(path)
    except config.ConfigError as e:
        log(e.problems[0] + ": deploy the board's files again (tools/flash.py deploy)")
        return None


_STOP = const(0)
_REBOOT = const(1)
_P1_FAILED = const(2)  # the P1 port cannot be opened: its settings must change
_NO_WIFI_REASON = "no home WiFi for wifi.fallback_min minutes"
_FALLBACKS = "wifi_fallback.txt"  # beside config.json: "<fallbacks> <pending>"
_MAX_DOUBLINGS = const(4)  # fallback_min, x2, x4 ... x16 (10 min: up to 160 min)


def _fallbacks(config_path):
    """(setup fallbacks since the home WiFi was last seen, whether setup mode is next)."""
    try:
        with open(beside(config_path, _FALLBACKS)) as f:
            count, pending = f.read().split()
        return int(count), pending == "1"
    except (OSError, ValueError):
        return 0, False


def _set_fallbacks(config_path, count, pending):
    with open(beside(config_path, _FALLBACKS), "w") as f:
        f.write("%d %d\n" % (count, pending))


def main(config_path="config.json", board_path="board.json", setup=False, setup_port=None):
    """The firmware: setup mode when asked, when the setup button is held or the config
    is not valid; else read the meter and publish.  Returns an exit status (host)."""
    board = _read_board(board_path)
    if board is None:
        return 2
    hw.MCU = board.get("mcu") or hw.MCU
    while True:
        action = _once(config_path, board, setup, setup_port)
        setup = "the P1 port cannot be opened" if action == _P1_FAILED else False
        if action == _STOP:
            return 0
        if action == _REBOOT:
            hw.reset()


def _once(config_path, board, setup, setup_port):
    """Setup mode, or the meter reader, once: what to do next."""
    reason, cfg, settings = _setup_reason(config_path, board, setup)
    if reason:
        from . import setup as setup_mode  # only now: its heap is the meter reader's

        log("setup mode: " + reason)
        port = setup_port or settings["setup.port"]
        home = None
        if reason == _NO_WIFI_REASON:  # setup mode until the home WiFi is back
            home = WiFi(
                settings["wifi.ssid"],
                settings["wifi.password"],
                settings["wifi.hostname"],
                _static_address(settings),
            )
        settings = None  # the shell reads the config itself: this copy is heap it needs
        gc.collect()
        asked = setup_mode.run(config_path, board, port, log, home)
        return _REBOOT if asked == setup_mode.REBOOT else _STOP
    settings = None
    address = _static_address(cfg)
    if not cfg["setup.station_shell"]:  # checked: its code and tables are the reader's heap
        _forget("config")
    if cfg["log.tx"] is not None:
        log_to(hw.log_line(cfg["log.tx"], cfg["log.baudrate"]))
    log("starting; board %s, topic %s" % (board.get("name"), cfg["mqtt.topic"]))
    meters = cfg["meters"]
    if any(m["uart.detach_repl"] for m in meters):  # a meter's line is the console's:
        log("the meter's line takes the REPL's pins in 3 s (Ctrl-C now to keep the REPL)")
        time.sleep(3)  # a way back in first
        hw.detach_repl()
    gc.collect()  # the config's garbage, before the reader's buffers are made
    from .app import App  # only now: setup mode does without the meter reader's code

    buffers = App.buffers(cfg)  # the big ones first, while the heap is in one piece
    ports = []
    for n, m in enumerate(meters, 1):
        try:
            ports.append(
                hw.P1Port(
                    m["uart.device"],
                    m["uart.id"],
                    m["uart.rx"],
                    m["uart.tx"],
                    m["uart.baudrate"],
                    m["uart.invert"],
                    m["uart.rxbuf"],
                    hw.Output(m["data_request.pin"], m["data_request.active_low"]),
                    n == 1,
                )
            )
        except (OSError, ValueError, TypeError) as e:  # the settings must change: setup mode
            log("cannot open the P1 port%s: %s" % (" of meters.%d" % n if n > 1 else "", e))
            return _P1_FAILED
        if len(meters) > 1:
            log(
                "meters.%d: %s, on %s"
                % (n, m["uart.device"] or "UART %s" % m["uart.id"], m["topic"])
            )
    meters = None
    app = App(
        cfg,
        ports,
        WiFi(
            cfg["wifi.ssid"],
            cfg["wifi.password"],
            cfg["wifi.hostname"],
            address,
        ),
        hw.Output(cfg["status_led.pin"], cfg["status_led.active_low"]),
        hw.Watchdog(),
        config_path,
        buffers,
    )
    log("GCM backend: %s" % app.backend)
    shell_port = setup_port or cfg["setup.port"]
    shell = None
    if cfg["setup.station_shell"]:
        if cfg["setup.password"]:
            gc.collect()  # the reader's start-up garbage, before the shell's code comes in
            from . import setup as setup_mode

            shell = setup_mode.Server(config_path, board, shell_port, station=True)
            log("setup shell on TCP port %d of the home network" % shell.port)
        else:
            log("setup.station_shell needs a setup.password: the shell stays off")
    fallbacks = _fallbacks(config_path)[0]
    no_wifi_ms = 0
    if cfg["wifi.ssid"]:  # after a fallback, the next one waits twice as long
        no_wifi_ms = cfg["wifi.fallback_min"] * 60000 << min(fallbacks, _MAX_DOUBLINGS)
    cfg = None
    if shell is None:
        _forget("config")  # the station shell was asked for, without a password
    gc.collect()
    try:
        from .app import NO_WIFI, REBOOT

        fallback_path = beside(config_path, _FALLBACKS) if fallbacks else None
        ended = asyncio.run(app.run(shell, no_wifi_ms, fallback_path))
        if ended == NO_WIFI:
            log("no home WiFi for %d min: setup mode, the way back in" % (no_wifi_ms // 60000))
            _set_fallbacks(config_path, fallbacks + 1, True)
        return _REBOOT if ended in (REBOOT, NO_WIFI) else _STOP
    finally:
        app.broker.close()
        app.guard.save()


def _static_address(cfg):
    from . import config

    return config.static_address(cfg)


def _forget(name):
    """Drops a module of ours that is done with (import it again to use it)."""
    import sys

    sys.modules.pop("smartyreader." + name, None)
    package = sys.modules.get("smartyreader")
    if package is not None and name in package.__dict__:
        delattr(package, name)


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
