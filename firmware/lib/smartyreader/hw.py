# The hardware: the P1 port (UART and data-request pin), the status LED, the
# watchdog.  With boot.py (the setup button, the REPL's pins and the log line, which only
# a start needs), the only module that uses `machine`.  On a host (the unix port) the P1
# port is a serial device or pty (uart.device: serialdev.py), and a pin or watchdog the platform
# does not have is a no-op: that is the whole of the shim.

import sys

try:
    import machine
except ImportError:
    machine = None

# The board's microcontroller (board.json's "mcu": esp8266, esp32, unix): what the
# port-specific rules below follow.  A board's own sys.platform says the same; on a
# host, a board model (host_tests/models) runs the boards' rules with unix's platform.
MCU = sys.platform


class Output:
    """An output pin (data request, status LED): set(True) drives it active; a no-op
    where there is no pin (none configured, or a host)."""

    def __init__(self, pin, active_low=False):
        self._pin = None
        if pin is not None and machine is not None and hasattr(machine, "Pin"):
            self._pin = machine.Pin(pin, machine.Pin.OUT)
        self._low = active_low

    def set(self, on):
        if self._pin is not None:
            self._pin.value(int(bool(on) != self._low))


class _Uart:
    def __init__(self, uart_id, rx, tx, baudrate, invert, rxbuf):
        kwargs = {"baudrate": baudrate, "rxbuf": rxbuf, "timeout": 0}
        # sys.platform as well: the type check per port (host_tests/test_types.py) then
        # skips this branch on the ESP8266, whose UART has no pins or invert options
        if MCU == "esp32" and sys.platform != "esp8266":
            kwargs["rx"] = rx
            if tx is not None:
                kwargs["tx"] = tx
            if invert:
                kwargs["invert"] = machine.UART.INV_RX
        # ESP8266: UART0 on GPIO3 (no pin or invert options)
        self._uart = machine.UART(uart_id or 0, **kwargs)

    def readinto(self, buf):
        if not self._uart.any():
            return 0
        return self._uart.readinto(buf) or 0


class P1Port:
    """The meter's P1 port: data request (an Output) and the bytes the meter sends, from
    a UART or, on a host, a serial device or pty (`device`)."""

    def __init__(self, uart, request, first=True):
        # uart: a meter's uart section (config.py); first: the first meter's line (a
        # host holds its rxbuf, see serialdev)
        self._request = request
        baudrate, rxbuf = uart["baudrate"], uart["rxbuf"]
        if uart["device"]:  # a host's: its code is not loaded on a board
            from .serialdev import SerialDevice

            self._line = SerialDevice(uart["device"], baudrate, rxbuf if first else 0)
        elif machine is None or not hasattr(machine, "UART"):
            raise OSError("no UART on this platform: set uart.device")
        else:
            self._line = _Uart(uart["id"], uart["rx"], uart["tx"], baudrate, uart["invert"], rxbuf)

    def request(self, on):
        """Asserts (or releases) data request: the meter sends only while it is asserted."""
        self._request.set(on)

    def readinto(self, buf):
        """Bytes received into buf (a memoryview); 0 if none are waiting."""
        return self._line.readinto(buf)


# ESP32: longer than the longest step the publisher takes between two of the reader's
# turns: a connect (at the first with TLS, NTP's lookup and request, 11 s; then TCP, the
# TLS handshake and the CONNACK, 10 s each)
WATCHDOG_MS = 60000


class Watchdog:
    """The ESP32's task watchdog, armed for WATCHDOG_MS: feed() from the reader's loop.

    Not on the ESP8266, on purpose: machine.WDT() there sets ets_loop_dont_feed_sw_wdt
    (ports/esp8266/machine_wdt.c, 1.25), after which only feed() keeps the SDK's soft
    watchdog (a 1.6 s timer that resets at its second tick: 1.6 to 3.2 s) from firing, so
    any DNS lookup, TCP connect or slow broker longer than that resets the board.  Left
    alone, the port's event loop feeds it (ets_alt_task.c) and it still resets a board
    whose system hangs; the reader's own stalls are bounded by socket timeouts."""

    def __init__(self):
        self._wdt = None
        if machine is not None and hasattr(machine, "WDT") and MCU == "esp32":
            try:
                self._wdt = machine.WDT(timeout=WATCHDOG_MS)
            except (TypeError, ValueError, OSError):
                self._wdt = None

    def feed(self):
        if self._wdt:
            self._wdt.feed()


def resets():
    """Whether reset() restarts a board (or returns: a host)."""
    return machine is not None and hasattr(machine, "reset") and MCU in ("esp8266", "esp32")


def reset():
    """Restarts the board; returns on a host, where the caller starts over itself."""
    if resets():
        machine.reset()
