# WiFi: the station, the setup access point, scans.  The only module that uses
# `network`.  On a host (no `network` module) the machine's own network is used as it
# is, and what needs a radio says so.

import time

try:
    import network
except ImportError:
    network = None

NO_RADIO = "this platform has no WiFi radio: the host's own network is used"

# network.STAT_* of a failed association, as a user reads it
_STATUS = (
    ("STAT_WRONG_PASSWORD", "wrong wifi.password"),
    ("STAT_NO_AP_FOUND", "no network named wifi.ssid in reach (2.4 GHz only)"),
    ("STAT_CONNECT_FAIL", "the network refused the connection"),
    ("STAT_BEACON_TIMEOUT", "the network stopped answering"),
    ("STAT_HANDSHAKE_TIMEOUT", "no answer to the WPA handshake: wrong wifi.password?"),
)


class WiFi:
    """The station: `hostname` is the name the board gives the router (DHCP), `static`
    (ip, netmask, gateway, dns) a fixed address instead of DHCP's."""

    def __init__(self, ssid, password, hostname=None, static=None):
        self._ssid, self._password = ssid, password
        self._wlan = None
        if network is not None and ssid:
            if hostname and hasattr(network, "hostname"):
                network.hostname(hostname)  # 1.25: before the interface is up
            self._wlan = network.WLAN(network.STA_IF)
            self._wlan.active(True)
            if static:
                self._wlan.ifconfig(tuple(static))

    def connected(self):
        return self._wlan is None or self._wlan.isconnected()

    def connect(self):
        """Starts connecting (unless connected, or connecting already); call connected()
        to see when it is.  What went wrong, or None.  The ESP32's driver goes on
        reconnecting by itself, and connect() meanwhile raises OSError "Wifi Internal
        State Error" (ESP_ERR_WIFI_STATE, ports/esp32/network_common.c in 1.25)."""
        if self._wlan is None or self._wlan.isconnected():
            return None
        if self._wlan.status() == getattr(network, "STAT_CONNECTING", None):
            return None
        try:
            self._wlan.connect(self._ssid, self._password)
        except OSError as e:
            return "WiFi: %s" % e
        return None

    def address(self):
        """The station's IP address, or None."""
        if self._wlan is None or not self._wlan.isconnected():
            return None
        return self._wlan.ifconfig()[0]

    def join(self, timeout_s=20):
        """Connects and waits: (True, address) or (False, what went wrong)."""
        if self._wlan is None:
            return (True, NO_RADIO) if network is None else (False, "wifi.ssid is not set")
        self._wlan.disconnect()
        self._wlan.connect(self._ssid, self._password)
        deadline = time.ticks_add(time.ticks_ms(), timeout_s * 1000)
        while time.ticks_diff(deadline, time.ticks_ms()) > 0:
            if self._wlan.isconnected():
                return True, "connected to %s, address %s" % (self._ssid, self.address())
            status = self._wlan.status()
            for name, meaning in _STATUS:
                if getattr(network, name, None) == status:
                    return False, meaning
            time.sleep_ms(200)
        return False, "no connection to %s after %d s" % (self._ssid, timeout_s)


def mac_suffix():
    """The last 4 hex digits of the MAC (names the access point and the node)."""
    if network is None:
        return "0000"
    mac = network.WLAN(network.STA_IF).config("mac")
    return "%02x%02x" % (mac[-2], mac[-1])


def start_access_point(essid, password):
    """Opens a WPA2 access point; its address, or None where there is no radio."""
    if network is None:
        return None
    ap = network.WLAN(network.AP_IF)
    ap.active(True)
    ap.config(essid=essid, password=password, authmode=network.AUTH_WPA2_PSK)
    return ap.ifconfig()[0]


def stop_access_point():
    if network is not None:
        network.WLAN(network.AP_IF).active(False)


def scan():
    """[(ssid, rssi dBm, secured)] strongest first, or None where there is no radio."""
    if network is None:
        return None
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    found = {}
    for entry in wlan.scan():
        ssid = entry[0].decode("utf-8", "replace") if entry[0] else "(hidden)"
        if ssid not in found or entry[3] > found[ssid][1]:
            found[ssid] = (ssid, entry[3], entry[4] != 0)
    return sorted(found.values(), key=lambda network_: -network_[1])
