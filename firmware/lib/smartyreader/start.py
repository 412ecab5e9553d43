# Start-up: setup mode (WiFi access point and setup shell) when asked, when the setup
# button is held at boot or while the config is not complete; else the meter reader
# (app.App) with the board's and the user's settings.  Setup mode loads none of the
# reader's code: on an ESP8266 with the application in RAM (.mpy) that is what fits.

import gc
import time

import asyncio

from . import config, hw, log
from .net import WiFi


def _setup_reason(config_path, board, asked):
    """(why setup mode starts or None, the config when the firmware can run, the saved
    settings as far as they are valid: setup mode's button and port)."""
    try:
        tree, problems = config.read_tree(config_path), None
    except config.ConfigError as e:
        tree, problems = {}, e.problems
    settings = config.merge(tree, board)[0]
    if asked:
        return (asked if isinstance(asked, str) else "asked for"), None, settings
    if hw.button_held(settings["setup_button.pin"]):
        return "the setup button is held", None, settings
    if problems is None:
        try:
            return None, config.validate(tree, board), settings
        except config.ConfigError as e:
            problems = e.problems
    for problem in problems:
        log("config: " + problem)
    return "the config is not complete", None, settings


def main(config_path="config.json", board_path="board.json", setup=False, setup_port=None):
    """The firmware: setup mode when asked, when the setup button is held or the config
    is not valid; else read the meter and publish.  Returns an exit status (host)."""
    try:
        board = config.read_board(board_path)
    except config.ConfigError as e:
        log(e.problems[0] + ": deploy the board's files again (tools/flash.py deploy)")
        return 2
    while True:
        reason, cfg, settings = _setup_reason(config_path, board, setup)
        setup = False
        if reason:
            from . import setup as setup_mode  # only now: its heap is the meter reader's

            log("setup mode: " + reason)
            port = setup_port or settings["setup.port"]
            if setup_mode.run(config_path, board, port, log) != "reboot":
                return 0
            hw.reset()
            continue
        action = operate(cfg, config_path, board, setup_port)
        if action == "setup":
            setup = "the P1 port cannot be opened"
            continue
        if action != "reboot":
            return 0
        hw.reset()


def operate(cfg, config_path, board, setup_port=None):
    """Reads the meter and publishes until stopped (None), the station shell asks for a
    reboot ("reboot", on a host) or the P1 port cannot be opened ("setup")."""
    log("starting; board %s, topic %s" % (board.get("name"), cfg["mqtt.topic"]))
    if cfg["uart.detach_repl"]:
        log("the REPL leaves UART0 in 3 s (Ctrl-C now to keep it)")
        time.sleep(3)
        hw.detach_repl()
    from .app import App  # only now: setup mode does without the meter reader's code

    gc.collect()  # the config's garbage, before the reader's buffers are made
    try:
        port = hw.P1Port(cfg)
    except OSError as e:  # the settings must change: setup mode
        log("cannot open the P1 port: %s" % e)
        return "setup"
    app = App(
        cfg,
        port,
        WiFi(cfg["wifi.ssid"], cfg["wifi.password"]),
        hw.StatusLed(cfg),
        hw.Watchdog(),
    )
    log("GCM backend: %s" % app.reader.backend)
    shell = None
    if cfg["setup.station_shell"]:
        if cfg["setup.password"]:
            from . import setup as setup_mode

            shell = setup_mode.Server(config_path, board, setup_port or cfg["setup.port"])
            log("setup shell on TCP port %d of the home network" % shell.port)
        else:
            log("setup.station_shell needs a setup.password: the shell stays off")
    try:
        return asyncio.run(app.run(shell))
    except KeyboardInterrupt:
        log("stopped")
    finally:
        app.broker.close()
    return None
