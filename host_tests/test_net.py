"""net.WiFi and hw.Watchdog against the ports as MicroPython 1.25 behaves (models: no
radio or watchdog here).  On the ESP32, connect() while the driver is still connecting
raises OSError("Wifi Internal State Error") (ports/esp32/network_common.c,
ESP_ERR_WIFI_STATE, from network_wlan.c's esp_wifi_connect()): the reader must neither
call it then nor die of it."""

import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "firmware" / "lib"))
from smartyreader import net  # noqa: E402


class Esp32Network:
    STA_IF = 0
    STAT_IDLE, STAT_CONNECTING, STAT_GOT_IP = 1000, 1001, 1010  # ports/esp32/modnetwork.h

    class WLAN:
        def __init__(self, interface):
            self.state = Esp32Network.STAT_IDLE
            self.calls = 0

        def active(self, on=None):
            return True

        def isconnected(self):
            return self.state == Esp32Network.STAT_GOT_IP

        def status(self):
            return self.state

        def connect(self, ssid, password):
            self.calls += 1
            if self.state == Esp32Network.STAT_CONNECTING:
                raise OSError("Wifi Internal State Error")
            self.state = Esp32Network.STAT_CONNECTING


def test_no_second_connect_while_connecting(monkeypatch):
    monkeypatch.setattr(net, "network", Esp32Network)
    wifi = net.WiFi("home", "secret")
    assert wifi.connect() is None and wifi._wlan.calls == 1
    assert wifi.connect() is None and wifi._wlan.calls == 1  # still connecting: not again
    wifi._wlan.state = Esp32Network.STAT_GOT_IP
    assert wifi.connected() and wifi.connect() is None and wifi._wlan.calls == 1


def test_a_driver_error_is_reported_not_raised(monkeypatch):
    monkeypatch.setattr(net, "network", Esp32Network)
    wifi = net.WiFi("home", "secret")
    wifi._wlan.connect = lambda ssid, password: (_ for _ in ()).throw(
        OSError("Wifi Internal Error")
    )
    assert wifi.connect() == "WiFi: Wifi Internal Error"


class Machine:
    """machine.WDT as the ports take it: the ESP8266's accepts only its fixed 5 s
    (ports/esp8266/machine_wdt.c), the ESP32's a timeout in ms."""

    created = []

    class WDT:
        def __init__(self, id=0, timeout=5000):
            Machine.created.append(timeout)

        def feed(self):
            pass


def test_the_watchdog_is_armed_on_the_esp32_only(monkeypatch):
    from smartyreader import hw

    monkeypatch.setattr(hw, "machine", Machine)
    for platform, armed in (("esp8266", []), ("esp32", [hw.WATCHDOG_MS])):
        Machine.created = []
        monkeypatch.setattr(hw.sys, "platform", platform)
        hw.Watchdog().feed()
        assert Machine.created == armed, platform
    assert hw.WATCHDOG_MS > 2 * 10_000  # above the connect and TLS timeouts
