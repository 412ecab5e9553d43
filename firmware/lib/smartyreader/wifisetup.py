# WiFi in setup mode: the access point, scans, and the connection test of the shell's
# `test wifi`.  Not loaded by the meter reader (net.py has its station).

import time

try:
    import network
except ImportError:
    network = None

NO_RADIO = "this platform has no WiFi radio: the host's own network is used"

_NOT_IN_REACH = "no network named wifi.ssid in reach (2.4 GHz only)"

# network.STAT_* of a failed association, as a user reads it
_STATUS = (
    ("STAT_WRONG_PASSWORD", "wrong wifi.password"),
    ("STAT_NO_AP_FOUND", _NOT_IN_REACH),
    ("STAT_CONNECT_FAIL", "the network refused the connection"),
    ("STAT_BEACON_TIMEOUT", "the network stopped answering"),
    ("STAT_HANDSHAKE_TIMEOUT", "no answer to the WPA handshake: wrong wifi.password?"),
)


# How often the shell took the station off what it was trying (`scan`, `test wifi`):
# a net.WiFi that had asked must ask again.  The ESP32's status() then says "idle" only
# if ESP-IDF posts an "assoc leave" disconnect, which it does for a station that was
# associated; otherwise it goes on saying why the last attempt failed
# (ports/esp32/network_wlan.c), and a net.WiFi takes that for a driver still at it.
released = 0


def _release(wlan):
    global released
    wlan.disconnect()
    released += 1


def join(wifi, timeout_s=20):
    """Connects a net.WiFi and waits: (True, address) or (False, what went wrong).  A
    failure's status counts once the driver said "connecting": the ESP32 keeps the last
    attempt's reason through disconnect() and a new connect() until it has an address
    (ports/esp32/network_wlan.c).  A status that never says why (the ESP32 keeps saying
    "connecting" after a wrong WPA2 password: ESP-IDF 5's reason 15 is not among those
    it passes on) is told apart by a scan: a network in reach that did not let the
    board in."""
    wlan = wifi._wlan
    if wlan is None:
        return (True, NO_RADIO) if network is None else (False, "wifi.ssid is not set")
    _release(wlan)
    wlan.connect(wifi._ssid, wifi._password)
    deadline = time.ticks_add(time.ticks_ms(), timeout_s * 1000)
    meaning = trying = None
    while meaning is None and time.ticks_diff(deadline, time.ticks_ms()) > 0:
        if wlan.isconnected():
            return True, "connected to %s, address %s" % (wifi._ssid, wifi.address())
        status = wlan.status()
        if trying:
            for name, text in _STATUS:
                if getattr(network, name, None) == status:
                    meaning = text
        trying = trying or status == network.STAT_CONNECTING
        time.sleep_ms(200)
    _release(wlan)  # not left trying: an ESP32 refuses to scan meanwhile
    if meaning is None:
        in_reach = any(ssid == wifi._ssid for ssid, _, _ in scan())
        meaning = (
            "%s is in reach but did not let the board in within %d s: wrong wifi.password?"
            % (wifi._ssid, timeout_s)
            if in_reach
            else _NOT_IN_REACH
        )
    return False, meaning


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


def _text(name):
    """A network's name as text: UTF-8, else "?" for each byte outside printable ASCII
    (MicroPython's decode() ignores "replace" and raises UnicodeError; py/objstr.c)."""
    try:
        return name.decode()
    except UnicodeError:
        return bytes(c if 32 <= c < 127 else 63 for c in name).decode()


def scan():
    """[(ssid, rssi dBm, secured)] strongest first, or None where there is no radio."""
    if network is None:
        return None
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        _release(wlan)  # an ESP32 refuses to scan while its station tries to connect
    found = {}
    for entry in wlan.scan():
        ssid = _text(entry[0]) if entry[0] else "(hidden)"
        if ssid not in found or entry[3] > found[ssid][1]:
            found[ssid] = (ssid, entry[3], entry[4] != 0)
    return sorted(found.values(), key=lambda network_: -network_[1])
