# A model of `network` as MicroPython 1.25's ESP8266 and ESP32 ports have it (the unix
# port has none), for the firmware on the unix port as on a board.  The radio's world is
# a file the test writes: SMARTY_MODEL_DIR/wifi holds "up" (the home network in reach,
# the default) or "down".  The traffic itself goes over the host's loopback; the tests
# cut it where the radio would (p1harness.Link) when they take the WiFi down.

import os
import time

MCU = os.getenv("SMARTY_MODEL")
_DIR = os.getenv("SMARTY_MODEL_DIR") or "."

STA_IF, AP_IF = 0, 1
AUTH_OPEN, AUTH_WEP, AUTH_WPA_PSK, AUTH_WPA2_PSK, AUTH_WPA_WPA2_PSK = 0, 1, 2, 3, 4

if MCU == "esp8266":  # the SDK's station_status_t (ports/esp8266/network_wlan.c)
    STAT_IDLE, STAT_CONNECTING, STAT_WRONG_PASSWORD = 0, 1, 2
    STAT_NO_AP_FOUND, STAT_CONNECT_FAIL, STAT_GOT_IP = 3, 4, 5
else:  # ports/esp32/modnetwork.h and modnetwork_globals.h (IDF wifi_err_reason_t)
    STAT_IDLE, STAT_CONNECTING, STAT_GOT_IP = 1000, 1001, 1010
    STAT_BEACON_TIMEOUT, STAT_NO_AP_FOUND, STAT_WRONG_PASSWORD = 200, 201, 202
    STAT_CONNECT_FAIL, STAT_HANDSHAKE_TIMEOUT = 203, 204

_REASON_HANDSHAKE = 15  # ESP-IDF 5's WIFI_REASON_4WAY_HANDSHAKE_TIMEOUT: a wrong password
_ATTEMPT_MS = 3000  # an ESP32's attempt (a scan of the channels) before it has a reason
_JOIN_MS = 500  # association, WPA2 handshake and DHCP of a network in reach
HOME, HOME_PASSWORD = "home", "secret123"  # the home network of the tests' configs

_hostname = "mpy-esp8266" if MCU == "esp8266" else "mpy-esp32"


def hostname(name=None):
    """extmod/modnetwork.c (1.25): set before the interface comes up."""
    global _hostname
    if name is None:
        return _hostname
    if len(name) > 32:
        raise ValueError("hostname too long")
    _hostname = name


# The radio's file open from the start, read in place: on a board isconnected() and
# status() are C and leave no garbage, and the model's would take heap the firmware has
# there.  (Open now, its cost is the model's, given back: BoardModel.heapsize.)
try:
    _radio = open(_DIR + "/wifi", "rb")
except OSError:
    _radio = None
_first = bytearray(1)


def _air():
    """ "up" or "down", as the file says now ("up" without one)."""
    if _radio is None:
        return "up"
    _radio.seek(0)
    return "down" if _radio.readinto(_first) and _first[0] == 0x64 else "up"  # b"d"


def _kept(name):
    """What the ESP8266 SDK keeps in flash under `name` (a file here), or None."""
    try:
        with open(_DIR + "/" + name) as f:
            return f.read()
    except OSError:
        return None


def _keep(name, text):
    with open(_DIR + "/" + name, "w") as f:
        f.write(text)


_interfaces = {}


class WLAN:
    """One object per interface, as the ports keep (network.WLAN(STA_IF) twice is the
    same interface).  Once connect() was asked, the driver reconnects by itself when the
    network comes back (the ESP8266 SDK's auto-connect; the ESP32 port's event handler
    calls esp_wifi_connect() again on WIFI_EVENT_STA_DISCONNECTED), and reports
    STAT_CONNECTING meanwhile (the ESP32, after its first attempt, the reason it failed:
    STAT_NO_AP_FOUND, kept until it has an address, through disconnect() and a new
    connect()).  Joining a network in reach takes _JOIN_MS.  The home network in reach
    is HOME with HOME_PASSWORD; another name is a network out of reach, another password
    one that does not let the board in, and neither port ever says so: the ESP8266
    SDK's auto-reconnect goes on saying STATION_CONNECTING (ESP8266_NONOS_SDK#218;
    ports/esp8266/network_wlan.c passes its status on), and ESP-IDF 5 gives a wrong WPA2
    password reason 15 (4WAY_HANDSHAKE_TIMEOUT), which ports/esp32/network_wlan.c
    status() does not pass on while a connection is asked for."""

    def __new__(cls, interface=STA_IF):
        if interface not in (STA_IF, AP_IF):
            raise ValueError("invalid WLAN interface identifier")
        if interface not in _interfaces:
            wlan = object.__new__(cls)
            wlan._if, wlan._active, wlan._wanted = interface, False, False
            wlan._asked_ms = 0
            wlan._reason = 0  # ESP32: the last disconnect event's reason (0: none)
            wlan._joining = (None, None)  # the ssid and password connect() was given
            wlan._config = {"mac": bytes((0x5C, 0xCF, 0x7F, 0x12, 0x34, interface + 0x56))}
            wlan._static = None
            if MCU == "esp8266":  # the SDK starts as its flash says (the ESP32: RAM only)
                wlan._boot_as_kept()
            _interfaces[interface] = wlan
        return _interfaces[interface]

    def __init__(self, interface=STA_IF):
        pass

    def _boot_as_kept(self):
        """The ESP8266 SDK at boot: its access point on unless turned off (a fresh flash
        has it on, ports/esp8266/modules/inisetup.py sets its name and password), and
        the station joining the network its flash keeps (the last connect()'s; the
        port never turns the SDK's auto-connect off)."""
        if self._if == AP_IF:
            self._active = _kept("ap") != "off"
            return
        kept = _kept("sta")
        if kept:
            self._active = self._wanted = True
            self._asked_ms = time.ticks_ms()
            self._joining = tuple(kept.split("\n"))

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        if not on:
            self._wanted = False
        if MCU == "esp8266" and self._if == AP_IF:
            _keep("ap", "on" if on else "off")  # wifi_set_opmode() keeps the mode

    def connect(self, ssid=None, key=None, **kw):
        if not self._active:
            # esp8266: error_check(...,"STA required"); esp32: ESP_ERR_WIFI_NOT_STARTED
            raise OSError("STA required" if MCU == "esp8266" else "Wifi Not Started")
        if MCU == "esp32" and self._wanted and not self._joined():
            # network_wlan.c: esp_wifi_connect() while the driver is at it (it tries
            # again and again) -> ESP_ERR_WIFI_STATE (micropython#17661)
            raise OSError("Wifi Internal State Error")
        self._wanted = True
        self._asked_ms = time.ticks_ms()
        if ssid is not None or key is not None:
            self._joining = (ssid, key)
            if MCU == "esp8266":  # wifi_station_set_config() keeps it in flash (e8 connect)
                _keep("sta", "%s\n%s" % (ssid or "", key or ""))

    def _reach(self):
        """ "up" (joined), "down" (no network of that name in reach) or "refused" (the
        network is there, the password is not its own)."""
        air = _air()
        ssid, key = self._joining
        if air != "up" or ssid not in (None, HOME):
            return "down"
        return "up" if key in (None, HOME_PASSWORD) else "refused"

    def _joined(self):
        """Asked, the network in reach with its password, and time to join it.  On the
        ESP32 also the disconnect events of the attempts since connect(), whose reason
        the port's event handler keeps (ports/esp32/network_wlan.c): none until an
        attempt (a scan of the channels) failed; cleared once joined (GOT_IP).  (No
        allocation: status() is C on a board.)"""
        if not self._active or not self._wanted:
            return False
        reach = self._reach()
        elapsed = time.ticks_diff(time.ticks_ms(), self._asked_ms)
        joined = reach == "up" and elapsed >= _JOIN_MS
        if MCU == "esp32":
            if joined:
                self._reason = 0
            elif reach != "up" and elapsed > _ATTEMPT_MS:
                self._reason = STAT_NO_AP_FOUND if reach == "down" else _REASON_HANDSHAKE
        return joined

    def disconnect(self):
        # ESP32: ESP-IDF posts WIFI_EVENT_STA_DISCONNECTED for an associated station
        # only (its Wi-Fi guide), with reason ASSOC_LEAVE: "idle", as joining left it;
        # an attempt's reason is kept
        self._joined()
        self._wanted = False

    def status(self, param=None):
        if param == "rssi":
            return -60
        if MCU == "esp32":
            # ports/esp32/network_wlan.c status(): got an IP; else the last disconnect's
            # reason if it is "no AP found" (or auth fail), even after disconnect() and
            # while a new connect() tries; else "connecting" while one is asked for;
            # else idle, or any other reason that was kept
            if self._joined():
                return STAT_GOT_IP
            if self._reason == STAT_NO_AP_FOUND:
                return STAT_NO_AP_FOUND
            if self._active and self._wanted:
                return STAT_CONNECTING
            return self._reason or STAT_IDLE
        if not self._active or not self._wanted:
            return STAT_IDLE
        return STAT_GOT_IP if self._joined() else STAT_CONNECTING

    def isconnected(self):
        if self._if == AP_IF:
            return self._active
        return self.status() == STAT_GOT_IP

    def ifconfig(self, config=None):
        if config is not None:
            if len(config) != 4:
                raise ValueError("invalid arguments")  # network_wlan.c: a 4-tuple
            self._static = tuple(config)
            return
        if self._if == AP_IF:
            return ("192.168.4.1", "255.255.255.0", "192.168.4.1", "0.0.0.0")
        if not self.isconnected():
            return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
        return self._static or ("192.168.1.50", "255.255.255.0", "192.168.1.1", "192.168.1.1")

    def config(self, *args, **kw):
        if args:
            if args[0] not in self._config:
                raise ValueError("unknown config param")
            return self._config[args[0]]
        for name, value in kw.items():
            if name == "password" and value is not None and 0 < len(value) < 8:
                raise ValueError("invalid password")  # WPA2 needs 8 or more (the SDK)
            self._config[name] = value

    def scan(self):
        if not self._active:
            raise OSError("STA must be active")
        if MCU == "esp32" and self._wanted and not self._joined():
            # esp_wifi_scan_start() refuses while the station is connecting, and
            # ports/esp32/network_wlan.c scan() then returns an empty list, silently
            return []
        if _air() != "up":
            return []
        return [  # and a neighbour whose name is not UTF-8 (Latin-1)
            (b"home", b"\x11\x22\x33\x44\x55\x66", 6, -60, AUTH_WPA2_PSK, False),
            (b"Caf\xe9", b"\x11\x22\x33\x44\x55\x77", 11, -80, 0, False),
        ]
