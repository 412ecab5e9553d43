# A model of the boards' `os` for the firmware on the unix port: the unix port's own
# (files are a real directory, as LittleFS is on the boards) plus os.dupterm with the
# ports' slots: two on the ESP8266 (ports/esp8266/mpconfigport.h, MICROPY_PY_OS_DUPTERM
# (2); the REPL's UART0 in slot 1), one on the ESP32 (MICROPY_PY_OS_DUPTERM (1)); another
# index raises ValueError("invalid dupterm index") (extmod/os_dupterm.c).

from uos import *  # noqa: F403 - the built-in, which this file extends
import uos

_SLOTS = 2 if uos.getenv("SMARTY_MODEL") == "esp8266" else 1
_terms = [None] * _SLOTS
if _SLOTS == 2:
    _terms[1] = "UART(0)"  # the port's boot: os.dupterm(machine.UART(0), 1)


def dupterm(stream=None, index=0):
    if not 0 <= index < _SLOTS:
        raise ValueError("invalid dupterm index")
    previous = _terms[index]
    _terms[index] = stream
    return previous
