# The firmware's hardware and WiFi code (smartyreader.hw, .net) on a board model
# (host_tests/models; SMARTY_MODEL esp8266 | esp32): prints one "name: result" line per
# check, which host_tests/test_board_models.py compares with what the port does.

import os

import machine
import network

from smartyreader import boot, hw, net

MCU = os.getenv("SMARTY_MODEL")
hw.MCU = MCU


def check(name, f):
    try:
        result = f()
    except Exception as e:  # what the port raises is the result
        result = "%s(%s)" % (type(e).__name__, e)
    print("%s: %s" % (name, result))


check("pin 16 pulled up", lambda: machine.Pin(16, machine.Pin.IN, machine.Pin.PULL_UP))
check("button on GPIO16", lambda: boot.button_held(16))
check("button on GPIO0", lambda: boot.button_held(0))
check("UART(2)", lambda: machine.UART(2) and "ok")
check("UART(1) read", lambda: machine.UART(1).readinto(bytearray(1)))
check("UART invert", lambda: machine.UART(1, invert=machine.UART.INV_RX) and "ok")
check("UART0 on 3/1", lambda: machine.UART(0, rx=3, tx=1) and "ok")
check("dupterm slot 1", lambda: os.dupterm(None, 1) and "ok")
check("detach_repl", lambda: boot.detach_repl() or "ok")
check("WDT(1)", lambda: machine.WDT(1))
check("watchdog armed", lambda: hw.Watchdog()._wdt is not None)


def connect_twice():
    wifi = net.WiFi("home", "secret123", "SmartyReader")
    with open(os.getenv("SMARTY_MODEL_DIR") + "/wifi", "w") as f:
        f.write("down")
    first = wifi.connect()
    second = wifi.connect()  # still connecting: the firmware does not ask again
    raw = None
    try:
        network.WLAN(network.STA_IF).connect("home", "secret123")
    except OSError as e:
        raw = str(e)
    return "%s %s %s %s" % (first, second, raw, network.hostname())


check("connect twice", connect_twice)
check("wlan status", lambda: network.WLAN(network.STA_IF).status() == network.STAT_CONNECTING)


def broker_lookups():
    """The broker's name, looked up through the port's DNS; a failed lookup keeps the
    address known; with none known it is a BrokerError."""
    from smartyreader.broker import Broker, BrokerError

    broker = Broker("broker.home", 1883, "c", "s")
    broker.look_up()
    found = broker._address
    broker.host = "gone.home"  # the DNS knows it no more
    broker.look_up()
    try:
        Broker("gone.home", 1883, "c", "s").look_up()
        unknown = "no error"
    except BrokerError as e:
        unknown = "BrokerError" if "cannot look up" in str(e) else repr(e)
    return "%s %s %s" % (found, broker._address, unknown)


check("broker lookups", broker_lookups)
