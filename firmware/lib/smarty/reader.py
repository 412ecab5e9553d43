# The decode path in one object: UART bytes -> framer -> decryptor -> CRC -> parser.
#
#   reader = Reader(key)                       # key: 16 bytes, or None for plaintext meters
#   for item in reader.feed(chunk, now_ms):   # a Telegram or a P1Error, in order
#       ...                                    # use a Telegram before the next feed()
#
# Errors are yielded, not raised, and counted in reader.counters.  Frames are decrypted
# in place in the framer's buffer (no second buffer).  After a wrong tag, or a wrong CRC
# of a plaintext telegram, the framer rescans the frame's bytes: a frame hiding behind
# a lying header is not lost.  A frame whose tag verified is not rescanned.

from . import const
from .dsmr import parse
from .errors import AuthError, ChecksumError, P1Error
from .framer import Framer
from .gcm import LUXEMBOURG_AUTH_KEY, Decryptor

_GLO_CIPHERING = const(0xDB)
_COUNTER = {
    "frame": "frame_errors",
    "auth": "auth_failures",
    "crc": "crc_failures",
    "parse": "parse_errors",
}


class Reader:
    def __init__(
        self,
        key=None,
        auth_key=LUXEMBOURG_AUTH_KEY,
        buffer_size=2048,
        timeout_ms=500,
        backend=None,
        winter="+01:00",
        summer="+02:00",
        buffer=None,
    ):
        self.framer = Framer(buffer_size, timeout_ms, buffer)
        self.decryptor = Decryptor(key, auth_key, backend) if key is not None else None
        self.backend = self.decryptor.backend if self.decryptor else None
        self._offsets = (winter, summer)
        self.counters = {
            "frames_ok": 0,
            "frame_errors": 0,
            "auth_failures": 0,
            "crc_failures": 0,
            "parse_errors": 0,
        }

    def decode(self, frame):
        """A Telegram from one whole frame (bytes); raises a P1Error."""
        buf = bytearray(frame)
        return self._decode(buf, 0, len(buf))

    def _decode(self, buf, start, end):
        if buf[start] != _GLO_CIPHERING:
            return parse(buf, start, end, *self._offsets)
        if self.decryptor is None:
            raise AuthError("the meter sends encrypted frames but no meter key is configured")
        title, counter, start, end = self.decryptor.decrypt_in_place(buf, start, end)
        telegram = parse(buf, start, end, *self._offsets)
        telegram.system_title = title
        telegram.frame_counter = counter
        return telegram

    def _items(self, framer_items):
        """The Telegram each framer item makes, or the P1Error (counted) it turned out to
        be.  A frame found while rescanning a rejected frame's bytes must decode: if it
        does not, it was a chance pattern in those bytes, already reported."""
        framer = self.framer
        for item in framer_items:
            if not isinstance(item, P1Error):
                encrypted = framer.buf[framer.start] == _GLO_CIPHERING
                try:
                    telegram = self._decode(framer.buf, framer.start, framer.end)
                    self.counters["frames_ok"] += 1
                    yield telegram
                    continue
                except P1Error as e:
                    quiet = framer.rescanning()
                    if isinstance(e, AuthError) or (
                        isinstance(e, ChecksumError) and not encrypted
                    ):
                        framer.reject()
                    if quiet:
                        continue
                    item = e
            self.counters[_COUNTER[item.kind]] += 1
            yield item

    def feed(self, data, now_ms=None):
        return self._items(self.framer.feed(data, now_ms))

    def flush(self):
        """End of input: what the bytes held still make."""
        return self._items(self.framer.flush())

    def frames(self):
        """For callers that fill framer.space() themselves (then framer.received(n))."""
        return self._items(self.framer.frames())
