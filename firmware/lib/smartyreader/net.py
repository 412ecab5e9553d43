# The WiFi station: the only module that uses `network`.  On a host (no `network`
# module) the machine's own network is used as it is.

try:
    import network
except ImportError:
    network = None


class WiFi:
    def __init__(self, ssid, password):
        self._ssid, self._password = ssid, password
        self._wlan = None
        if network is not None and ssid:
            self._wlan = network.WLAN(network.STA_IF)
            self._wlan.active(True)

    def connected(self):
        return self._wlan is None or self._wlan.isconnected()

    def connect(self):
        """Starts connecting (if not connected); call connected() to see when it is."""
        if self._wlan is not None and not self._wlan.isconnected():
            self._wlan.connect(self._ssid, self._password)

    def mac_suffix(self):
        """The last 4 hex digits of the MAC (names the access point and the node)."""
        if network is None:
            return "0000"
        mac = network.WLAN(network.STA_IF).config("mac")
        return "%02x%02x" % (mac[-2], mac[-1])
