# A model of the boards' name lookup: getaddrinfo() through lwIP's DNS client, which
# no MicroPython port can bound (extmod/modlwip.c, ESP8266: polls until lwIP's DNS gives
# up after its retries; ports/esp32/modsocket.c: lwip_getaddrinfo() likewise), then
# raises OSError with a negative number.  Names are the test's (SMARTY_HOSTS:
# "name=address,..."); SMARTY_MODEL_DIR/dns holding "hang" makes every lookup of a
# name hang DNS_GIVE_UP_S and fail.  Everything else is the unix port's socket.

import os
import time

from usocket import *  # noqa: F403 - the built-in, which this file extends
import usocket

DNS_GIVE_UP_S = 10  # lwIP: DNS_MAX_RETRIES 4 at DNS_TMR_INTERVAL 1 s, ~7 s per server

_MCU = os.getenv("SMARTY_MODEL")
_DIR = os.getenv("SMARTY_MODEL_DIR") or "."
_HOSTS = dict(
    entry.split("=") for entry in (os.getenv("SMARTY_HOSTS") or "").split(",") if "=" in entry
)


def _dns():
    try:
        with open(_DIR + "/dns") as f:
            return f.read().strip()
    except OSError:
        return "ok"


def getaddrinfo(host, port, *args):
    if host.replace(".", "").isdigit():  # an address: no lookup (dns_gethostbyname)
        return usocket.getaddrinfo(host, port, *args)
    if _dns() == "hang":
        print("model %s: DNS lookup of %s hangs" % (_MCU, host))
        time.sleep(DNS_GIVE_UP_S)
        raise OSError(-2 if _MCU == "esp8266" else -202)
    if host not in _HOSTS:
        raise OSError(-2 if _MCU == "esp8266" else -202)
    return usocket.getaddrinfo(_HOSTS[host], port, *args)
