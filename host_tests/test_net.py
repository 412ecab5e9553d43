"""net.WiFi and hw.Watchdog against the ports as MicroPython 1.25 behaves (models: no
radio or watchdog here).  On the ESP32, connect() while the driver is still connecting
raises OSError("Wifi Internal State Error") (ports/esp32/network_common.c,
ESP_ERR_WIFI_STATE, from network_wlan.c's esp_wifi_connect()): the reader must neither
call it then nor die of it."""

import sys

import pytest

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
        monkeypatch.setattr(hw, "MCU", platform)
        hw.Watchdog().feed()
        assert Machine.created == armed, platform
    assert hw.WATCHDOG_MS > 11_000 + 3 * 10_000  # a first TLS connect: NTP, TCP, TLS, CONNACK


class RecordingNetwork(Esp32Network):
    """network as 1.25 has it for these calls: network.hostname(name) (extmod/
    modnetwork.c: before the interface is up), WLAN.ifconfig((ip, mask, gateway, dns))."""

    calls = []

    @staticmethod
    def hostname(name):
        RecordingNetwork.calls.append(("hostname", name))

    class WLAN(Esp32Network.WLAN):
        def active(self, on=None):
            RecordingNetwork.calls.append(("active", on))
            return True

        def ifconfig(self, settings=None):
            RecordingNetwork.calls.append(("ifconfig", settings))


def test_hostname_and_a_static_address(monkeypatch):
    from smartyreader import config

    monkeypatch.setattr(net, "network", RecordingNetwork)
    tree = {
        "meter": {"key": "00" * 16},
        "mqtt": {"host": "b"},
        "uart": {"device": "/dev/null"},
        "wifi": {"ssid": "home", "ip": "192.168.1.50", "netmask": "255.255.255.0"},
    }
    with pytest.raises(config.ConfigError) as e:
        config.validate(tree)
    assert e.value.problems == ["wifi.ip, wifi.netmask, wifi.gateway and wifi.dns go together"]
    tree["wifi"].update(gateway="192.168.1.1", dns="192.168.1.1")
    values = config.validate(tree)
    assert values["wifi"]["hostname"] == "SmartyReader"
    RecordingNetwork.calls = []
    net.station(values["wifi"])
    assert RecordingNetwork.calls == [
        ("hostname", "SmartyReader"),
        ("active", True),
        ("ifconfig", ("192.168.1.50", "255.255.255.0", "192.168.1.1", "192.168.1.1")),
    ]
    tree["wifi"] = {"ssid": "home", "hostname": "smarty reader!", "ip": "192.168.1.300"}
    with pytest.raises(config.ConfigError) as e:
        config.validate(tree)
    assert any("wifi.hostname must be up to 32 letters" in p for p in e.value.problems)
    assert any("wifi.ip must be an IPv4 address" in p for p in e.value.problems)
