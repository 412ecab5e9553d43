# The P1 port on a host (the unix port): a POSIX serial device or pty as uart.device.
# Imported only then: a board's P1 port is a UART (hw.py).

import time

from . import log

_LOOK_MS = 5000  # how often a silent serial device is looked for anew
_MISSING = (2, 6, 19)  # ENOENT, ENXIO, ENODEV: not there (unplugged), not wrong


class SerialDevice:
    """A POSIX serial device or pty, raw, read without waiting (Linux hosts).  One that
    is not there (a USB adapter unplugged, at boot or later: its node is gone or new)
    reads as a silent line and is opened again once it is back, looked for every 5 s
    while the line is silent."""

    _VTIME, _VMIN = 5, 6  # Linux c_cc indices (MicroPython's termios does not name them)

    def __init__(self, path, baudrate, rxbuf):
        # The ESP8266 port allocates UART0's receive ring from the GC heap (m_new in
        # ports/esp8266/machine_uart.c): hold as much here, so the host runs on the
        # heap that board has left.  (0: a further meter's line; the ESP8266 has one,
        # and the ESP32's rings are the IDF's, outside the GC heap.)
        self._rxbuf = bytearray(rxbuf)
        self.path, self._baudrate = path, baudrate
        self._file = self._node = None
        self._looked = time.ticks_ms()
        try:
            self._open()
        except OSError as e:
            if e.args[0] not in _MISSING:
                raise OSError("uart.device %s is not a serial device or pty (%s)" % (path, e))
            log("uart.device %s is not there: a silent line until it is" % path)

    def _open(self):
        import os
        import termios

        file = open(self.path, "r+b")
        try:
            fd = file.fileno()
            termios.setraw(fd)
            attrs = termios.tcgetattr(fd)
            speed = getattr(termios, "B%d" % self._baudrate, None)
            if speed is not None:
                attrs[4] = attrs[5] = speed
            # VMIN 0, VTIME 0: a read returns at once with what has arrived (MicroPython's
            # readinto would otherwise wait for a full buffer).
            attrs[6][self._VMIN] = 0
            attrs[6][self._VTIME] = 0
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except OSError:
            file.close()
            raise
        self._file = file
        # Its inode: a device plugged in again is a new node.  A pty's number is not
        # reused while this side holds it open (Linux frees it when both sides have
        # closed), so a new pty behind the same path is a new node too.
        self._node = os.stat(self.path)[1]

    def readinto(self, buf):
        if self._file is not None:
            try:
                n = self._file.readinto(buf)
                if n:
                    return n
            except OSError:  # EIO: nothing on the other side (yet, or any more)
                pass
        now = time.ticks_ms()
        if time.ticks_diff(now, self._looked) >= _LOOK_MS:
            self._looked = now
            self._look()
        return 0

    def _look(self):
        """Opens the device anew if it came back (or was replaced) since it was opened."""
        import os

        try:
            node = os.stat(self.path)[1]
        except OSError:
            node = None
        if self._file is not None:
            if node == self._node:
                return  # the same device, just silent
            self._file.close()
            self._file = None
            log("uart.device %s is gone: a silent line until it is back" % self.path)
        if node is not None:
            try:
                self._open()
                log("uart.device %s is back" % self.path)
            except OSError:
                pass  # not ready yet: looked at again in 5 s
