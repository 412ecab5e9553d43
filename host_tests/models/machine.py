# A model of `machine` as MicroPython 1.25's ESP8266 and ESP32 ports have it, for
# running the firmware on the unix port as on a board (tools/p1.py run --model).  Only
# what the firmware touches; each rule cites the port source it mirrors.  The board is
# SMARTY_MODEL (esp8266 | esp32); a UART's line is the pty named in SMARTY_UART<id>.
# `machine` is an extensible built-in (extmod/modmachine.c), so this file on the path
# takes its place; `umachine` would still give the unix port's own.

import os
import time

import termios

MCU = os.getenv("SMARTY_MODEL")
if MCU not in ("esp8266", "esp32"):
    raise ImportError("SMARTY_MODEL must be esp8266 or esp32, not %r" % MCU)


def _event(text):
    """What the model saw that a board would show (a reset, a dropped byte): one line
    on the console, where the tests look for it."""
    print("model %s: %s" % (MCU, text))


# ---- Pin: ports/esp8266/machine_pin.c (pin_obj[]: GPIO 0-5, 9, 10, 12-16; GPIO16 has
# no pull), ports/esp32/machine_pin.c (GPIO 34-39 input only, no pulls) ----

if MCU == "esp8266":
    _GPIO = (0, 1, 2, 3, 4, 5, 9, 10, 12, 13, 14, 15, 16)
    _INPUT_ONLY = ()
else:
    _GPIO = tuple(range(0, 6)) + tuple(range(12, 20)) + (21, 22, 23, 25, 26, 27)
    _GPIO += tuple(range(32, 40))
    _INPUT_ONLY = (34, 35, 36, 37, 38, 39)


# What the output pins drive, for the tests to see: <model dir>/gpio, byte <id> "0" or
# "1" (never driven: "-").  Open from the start and written in place: on a board
# value() is C and leaves no garbage on the heap, and the model's would take heap the
# firmware has there.  (Open now, its cost is the model's, given back by
# BoardModel.heapsize.)
_levels = open("%s/gpio" % (os.getenv("SMARTY_MODEL_DIR") or "."), "wb")
_levels.write(b"-" * (max(_GPIO) + 1))


class Pin:
    IN, OUT, OPEN_DRAIN = 0, 1, 2
    PULL_UP = 1
    if MCU == "esp32":
        PULL_DOWN = 2  # the ESP8266 port has no PULL_DOWN

    def __init__(self, id, mode=-1, pull=None, value=None):
        if id not in _GPIO:
            raise ValueError("invalid pin")
        if MCU == "esp8266" and id == 16 and pull is not None:
            raise ValueError("Pin(16) doesn't support pull")
        if id in _INPUT_ONLY and mode == Pin.OUT:
            raise ValueError("pin can only be input")  # esp32 machine_pin.c
        self.id, self.mode = id, mode
        # nothing drives an input here: pulled up it reads 1 (a button not pressed).  A
        # pull on GPIO 34-39 is taken without a word (esp32 machine_pin.c calls
        # gpio_pullup_en(), which those pins, without pull resistors, ignore): the pin
        # floats, and the model reads it 0, the level that fools a button check
        if value is None:
            value = id not in _INPUT_ONLY
        self._value = int(bool(value))

    def value(self, v=None):
        if v is None:
            return self._value
        if self.mode == Pin.OUT and int(bool(v)) != self._value:
            _levels.seek(self.id)  # what the pin drives, for the tests to see
            _levels.write(b"1" if v else b"0")
        self._value = int(bool(v))


# ---- UART ----
# ESP8266 (ports/esp8266/machine_uart.c): UART 0 and 1; no `invert`; tx/rx only 1/3 or
# 15/13; UART(1) can't read; rxbuf is a ring of rxbuf+1 bytes from the GC heap (m_new),
# bytes that find it full are dropped (uart.c's interrupt handler).
# ESP32 (ports/esp32/machine_uart.c): UART 0-2, `invert` a mask of INV_*; the ring is
# the IDF driver's (rxbuf, at least 256), not on the GC heap: held here, and given back
# in the heap a test runs with (tools/p1harness.py BoardModel.heapsize).

_UART_ARGS = ("baudrate", "bits", "parity", "stop", "tx", "rx", "rxbuf", "timeout", "timeout_char")
if MCU == "esp32":
    _UART_ARGS += ("rts", "cts", "txbuf", "invert", "flow")


def _repl_has_a_uart():
    """Whether a dupterm slot holds a UART (the ESP8266's boot puts UART(0) in slot 1);
    os is the model's (host_tests/models/os.py)."""
    return any(t == "UART(0)" or isinstance(t, UART) for t in getattr(os, "_terms", ()))


class UART:
    if MCU == "esp32":  # UART_SIGNAL_TXD_INV, UART_SIGNAL_RXD_INV; the ESP8266 has none
        INV_TX, INV_RX = 1 << 0, 1 << 3

    _VMIN, _VTIME = 6, 5

    def __init__(self, id, baudrate=115200, **kw):
        for name in kw:
            if name not in _UART_ARGS:
                raise TypeError("unexpected keyword argument '%s'" % name)
        if id not in ((0, 1) if MCU == "esp8266" else (0, 1, 2)):
            raise ValueError("UART(%d) does not exist" % id)
        if MCU == "esp8266" and (kw.get("tx", 1), kw.get("rx", 3)) not in ((1, 3), (15, 13)):
            raise ValueError("invalid tx/rx")
        if MCU == "esp32" and kw.get("invert", 0) & ~(UART.INV_TX | UART.INV_RX):
            raise ValueError("invalid inversion mask")
        self.id, self.invert = id, kw.get("invert", 0)
        size = kw.get("rxbuf", 255 if MCU == "esp8266" else 256)
        self._ring = bytearray(max(size, 256 if MCU == "esp32" else 1))
        self._head = self._count = 0
        self.dropped = 0
        self._line = None
        path = os.getenv("SMARTY_UART%d" % id)
        if path:  # the meter's side: a pty, drained at every call as the UART's ISR would
            self._line = open(path, "rb")
            fd = self._line.fileno()
            termios.setraw(fd)
            attrs = termios.tcgetattr(fd)
            attrs[6][UART._VMIN] = attrs[6][UART._VTIME] = 0
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        self._chunk = bytearray(64)

    def _drain(self):
        """What arrived since the last call goes into the ring; what does not fit is
        dropped (the port keeps the oldest bytes)."""
        if self._line is None:
            return
        while True:
            try:
                n = self._line.readinto(self._chunk) or 0
            except OSError:  # EIO: nobody on the meter's side (yet)
                return
            if not n:
                return
            if MCU == "esp8266" and self.id == 0 and _repl_has_a_uart():
                # ports/esp8266/uart.c (uart0_rx_intr_handler): while a UART is in a
                # dupterm slot (modos.c counts them), UART0's bytes go to the REPL's
                # input, none to the UART's ring, and a 0x03 among them is a Ctrl-C
                _event("UART(0) is the REPL's: %d bytes went to it" % n)
                if b"\x03" in self._chunk[:n]:
                    raise KeyboardInterrupt
                continue
            ring, size = self._ring, len(self._ring)
            for i in range(n):
                if self._count == size:
                    self.dropped += n - i
                    _event("UART(%d) ring full: %d bytes dropped" % (self.id, n - i))
                    break
                ring[(self._head + self._count) % size] = self._chunk[i]
                self._count += 1

    def any(self):
        self._drain()
        return self._count

    def readinto(self, buf, nbytes=None):
        if MCU == "esp8266" and self.id == 1:
            raise OSError("UART(1) can't read")
        self._drain()
        n = min(len(buf) if nbytes is None else nbytes, self._count)
        if not n:
            return None  # timeout 0 and nothing there: MP_EAGAIN -> None
        ring, size, head = self._ring, len(self._ring), self._head
        for i in range(n):
            buf[i] = ring[(head + i) % size]
        self._head = (head + n) % size
        self._count -= n
        return n

    def write(self, data):
        """What goes out on TX lands in SMARTY_MODEL_DIR/uart<id>.tx (the log line)."""
        with open("%s/uart%d.tx" % (os.getenv("SMARTY_MODEL_DIR") or ".", self.id), "a") as f:
            f.write(data)
        return len(data)


# ---- WDT ----
# ESP8266 (ports/esp8266/machine_wdt.c): id 0 only, `timeout` 5000 only (the SDK's soft
# watchdog is fixed; any other raises ValueError); creating it sets
# ets_loop_dont_feed_sw_wdt, after which only feed() keeps the SDK's soft watchdog (a
# 1.6 s timer that resets at its second expiry) from firing: reset if feeds are more
# than 3.2 s apart.  ESP32 (ports/esp32/machine_wdt.c): the task watchdog with
# `timeout` ms; reset when it is not fed for that long.  The model sees a gap when the
# next feed comes (a board would have reset in the middle of it: the same verdict).


class WDT:
    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError("WDT(%d) does not exist" % id)
        if MCU == "esp8266" and timeout != 5000:  # its timeout is the SDK's, fixed
            raise ValueError()
        self.timeout = 3200 if MCU == "esp8266" else timeout
        self._fed = time.ticks_ms()
        _event("watchdog armed, %d ms" % self.timeout)

    def feed(self):
        now = time.ticks_ms()
        gap = time.ticks_diff(now, self._fed)
        if gap > self.timeout:
            _event("WATCHDOG RESET: not fed for %d ms (timeout %d ms)" % (gap, self.timeout))
            reset()
        self._fed = now


def reset():
    """The board restarts: here the process ends at once, with nothing cleaned up, as a
    reset would (the unix port has no os._exit: a kill of our own process)."""
    _event("machine.reset()")
    os.system("kill -KILL $PPID")
    while True:
        time.sleep(1)


def freq():
    return 80000000 if MCU == "esp8266" else 160000000


def unique_id():
    return b"\x5c\xcf\x7f\x12\x34\x56"
