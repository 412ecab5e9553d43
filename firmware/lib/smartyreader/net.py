# WiFi as the meter reader needs it: the station.  Setup mode's access point, scans and
# connection test are in wifisetup.py (their code is heap the reader does without).
# These two are the only modules that use `network` (but for assemble.py turning the
# access point off).  On a host (no `network` module) the machine's own network is used
# as it is, and what needs a radio says so.

try:
    import network
except ImportError:
    network = None


class WiFi:
    """The station: `hostname` is the name the board gives the router (DHCP), `static`
    (ip, netmask, gateway, dns) a fixed address instead of DHCP's."""

    def __init__(self, ssid, password, hostname=None, static=None):
        self._ssid, self._password = ssid, password
        self._wlan = None
        self._asked = False  # connect() asked the driver: it goes on by itself
        if network is not None and ssid:
            if hostname and hasattr(network, "hostname"):
                network.hostname(hostname)  # 1.25: before the interface is up
            self._wlan = network.WLAN(network.STA_IF)
            self._wlan.active(True)
            if static:
                self._wlan.ifconfig(tuple(static))

    def connected(self):
        return self._wlan is None or self._wlan.isconnected()

    def connect(self, again=False):
        """Asks the driver to connect (once, and again only when it is idle, or `again`:
        someone took the station off since); call connected() to see when it is.  What
        went wrong, or None.

        Both drivers, once asked, go on trying by themselves for ever and say
        "connecting" or a last reason meanwhile: the ESP32's event handler calls
        esp_wifi_connect() at each disconnect, and connect() then raises OSError "Wifi
        Internal State Error" (ESP_ERR_WIFI_STATE; ports/esp32/network_wlan.c in 1.25);
        the ESP8266 SDK reconnects on its own.  The first call asks whatever the driver
        does: at boot the ESP8266 SDK already joins the network its flash keeps from an
        earlier connect(), which may be an old password, and only connect() gives it
        the config's (and the hostname; ports/esp8266/network_wlan.c)."""
        wlan = self._wlan
        if wlan is None:
            return None
        if (
            self._asked
            and not again
            and (wlan.isconnected() or wlan.status() != network.STAT_IDLE)
        ):
            return None
        try:
            wlan.connect(self._ssid, self._password)
        except OSError as e:
            return "WiFi: %s" % e
        self._asked = True
        return None

    def address(self):
        """The station's IP address, or None."""
        if self._wlan is None or not self._wlan.isconnected():
            return None
        return self._wlan.ifconfig()[0]


def station(wifi):
    """The WiFi of a config's wifi section: a fixed address if wifi.ip is set, else
    DHCP's."""
    static = (wifi["ip"], wifi["netmask"], wifi["gateway"], wifi["dns"]) if wifi["ip"] else None
    return WiFi(wifi["ssid"], wifi["password"], wifi["hostname"], static)


def mac_suffix():
    """The last 4 hex digits of the MAC (names the access point and the node)."""
    if network is None:
        return "0000"
    mac = network.WLAN(network.STA_IF).config("mac")
    return "%02x%02x" % (mac[-2], mac[-1])
