# The firmware's hardware and WiFi code (smartyreader.hw, .net) on a board model
# (host_tests/models; SMARTY_MODEL esp8266 | esp32): prints one "name: result" line per
# check, which host_tests/test_board_models.py compares with what the port does.

import os
import time

import machine
import network

from smartyreader import boot, hw, net, wifisetup

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
check("button on GPIO36", lambda: boot.button_held(36))  # config.py refuses it (no_pull)
check("GPIO36 as output", lambda: machine.Pin(36, machine.Pin.OUT))
check("UART(2)", lambda: machine.UART(2) and "ok")
check("UART(1) read", lambda: machine.UART(1).readinto(bytearray(1)))
check("UART invert", lambda: machine.UART(1, invert=machine.UART.INV_RX) and "ok")
check("UART0 on 3/1", lambda: machine.UART(0, rx=3, tx=1) and "ok")
check("dupterm slot 1", lambda: os.dupterm(None, 1) and "ok")
check("detach_repl", lambda: boot.detach_repl() or "ok")


def uart0_read(repl):
    """What reading UART0 gets while a UART is in dupterm slot 1 (`repl`: as before
    boot.detach_repl) or not; the test's line sends bytes with a 0x03 among them."""
    uart = machine.UART(0)
    if repl:
        os.dupterm(uart, 1)
    try:
        for _ in range(200):  # the line sends every 50 ms
            if uart.readinto(bytearray(8)):
                return "read"
            time.sleep_ms(50)
        return "nothing"
    except KeyboardInterrupt:
        return "KeyboardInterrupt"
    finally:
        if repl:
            os.dupterm(None, 1)


check("UART0 under the REPL", lambda: uart0_read(True))
check("UART0 detached", lambda: uart0_read(False))
check("WDT(1)", lambda: machine.WDT(1))
check("WDT timeout", lambda: machine.WDT(timeout=30000) and "ok")
check("watchdog armed", lambda: hw.Watchdog()._wdt is not None)


def air(state):
    """The home network in reach ("up") or not ("down")."""
    with open(os.getenv("SMARTY_MODEL_DIR") + "/wifi", "w") as f:
        f.write(state)


def saved_network():
    """At boot an ESP8266 joins the network its flash keeps (the test left an old
    password there): the config's must reach the driver all the same."""
    before = network.WLAN(network.STA_IF).status()
    wifi = net.WiFi("home", "secret123")
    wifi.connect()
    for _ in range(50):  # joining takes the driver a moment
        joined = wifi.connected()
        if joined:
            break
        time.sleep_ms(100)
    wifi._wlan.disconnect()  # as the next checks expect it
    return "%s %s" % (before, joined)


check("saved network at boot", saved_network)


def connect_twice():
    wifi = net.WiFi("home", "secret123", "SmartyReader")
    air("down")
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


def outage():
    """The home network away: asked, then again after the driver's first attempt."""
    wlan = network.WLAN(network.STA_IF)
    wlan.disconnect()
    wifi = net.WiFi("home", "secret123")
    first = wifi.connect()
    wlan._asked_ms = time.ticks_add(wlan._asked_ms, -4000)  # an attempt later
    return "%s %s %s" % (first, wlan.status(), wifi.connect())


check("outage", outage)


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


def scan():
    air("up")  # the networks in reach again
    return wifisetup.scan()


check("scan", scan)


def test_wifi(ssid, password):
    """The setup shell's `test wifi`: joins, and says what went wrong."""
    return "%s %s" % wifisetup.join(net.WiFi(ssid, password), timeout_s=5)


def scan_while_joining():
    """The setup shell's `scan` while the station tries (setup mode standing in for a
    lost home WiFi keeps asking for it)."""
    net.WiFi("home", "not-the-password").connect()
    return wifisetup.scan()


check("test wifi", lambda: test_wifi("home", "secret123"))
check("test wifi, wrong password", lambda: test_wifi("home", "not-the-password"))
check("test wifi, another network", lambda: test_wifi("elsewhere", "secret123"))
check("scan while joining", scan_while_joining)


def test_wifi_after_a_failure():
    """`test wifi` while the home network is away, then once it is back: the second
    must not go by the first's reason (an ESP32 keeps it)."""
    air("down")
    first = test_wifi("home", "secret123")
    air("up")
    return "%s | %s" % (first, test_wifi("home", "secret123"))


check("test wifi after a failure", test_wifi_after_a_failure)


def home_after_a_scan():
    """Setup mode standing in for a lost home WiFi: the shell's `scan` takes the station
    off its attempts; the watch asks again, and joins the home network once it is back."""
    import asyncio

    from smartyreader import setup

    class Server:
        done, sessions, action = asyncio.Event(), 1, None  # a session open: no window

    async def shell_session(wlan):
        await asyncio.sleep(1)  # the watch asked
        wlan._asked_ms = time.ticks_add(wlan._asked_ms, -4000)  # an attempt later
        wifisetup.scan()
        air("up")
        try:
            await asyncio.wait_for(Server.done.wait(), 30)
        except asyncio.TimeoutError:
            pass

    async def main(home):
        asyncio.create_task(setup._watch_home(Server, home, 300000, lambda line: None))
        await shell_session(home._wlan)

    air("down")
    home = net.WiFi("home", "secret123")
    asyncio.run(main(home))
    return "%s %s" % (Server.action == setup.REBOOT, home.connected())


check("home after a scan", home_after_a_scan)


def ntp_once():
    """TLS's clock from NTP on a board: a short reply is a BrokerError, the first
    success sets it for the boot."""
    import sys

    from smartyreader import tls

    class Ntptime:
        calls = 0

        @classmethod
        def settime(cls):
            cls.calls += 1
            if cls.calls == 1:
                raise ValueError("buffer too small")  # struct.unpack of a short reply

    class Board:
        platform = MCU

    sys.modules["ntptime"], tls.sys = Ntptime, Board
    results = []
    for _ in range(3):
        try:
            tls._set_clock()
            results.append("ok")
        except tls.BrokerError as e:
            results.append("NTP failed" if "NTP failed" in str(e) else repr(e))
    del sys.modules["ntptime"]
    return "%s, %d requests" % (" ".join(results), Ntptime.calls)


check("TLS clock", ntp_once)


def timeouts():
    """A connect that times out says so with ETIMEDOUT as each port numbers it: 110 (the
    ESP8266, MicroPython's own errno; Linux) or 116 (the ESP32, newlib's)."""
    from smartyreader import broker

    class Client:
        def __init__(self, *args, **kw):
            pass

        def set_last_will(self, *args, **kw):
            pass

        def connect(self, timeout):
            raise OSError(Client.errno)

    real, broker.MQTTClient = broker.MQTTClient, Client
    said = []
    for Client.errno in (110, 116, 113):
        try:
            broker.Broker("10.0.0.1", 1883, "c", "s").connect()
        except broker.BrokerError as e:
            said.append("no answer" if "no answer within" in str(e) else str(e))
    broker.MQTTClient = real
    return said


check("connect timeouts", timeouts)
