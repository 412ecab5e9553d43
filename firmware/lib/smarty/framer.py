# Stream framer: bytes as a UART delivers them (any chunking, noise, gaps) in,
# complete frames out.  Two kinds of frame are recognised by their first bytes:
#
#   DLMS general-glo-ciphering (Smarty):  DB 08 <system title 8> <BER length> 30 ...
#       the length says where the frame ends;
#   plaintext DSMR telegram:  "/" + three letters ... "!" + CRC (0..4 hex digits) + CRLF.
#
# One preallocated buffer holds everything; frames are memoryviews into it, valid
# until the next space()/feed().  Bytes that cannot be part of a frame are counted in
# `noise_bytes`; a frame that cannot be completed raises FrameError and the framer
# resynchronises on the next frame start, without losing that frame.  Kept to few
# functions: each costs RAM when loaded as .mpy on an ESP8266.

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


try:
    from time import ticks_diff
except ImportError:  # CPython

    def ticks_diff(a, b):
        return a - b


from .errors import FrameError

_IDLE = const(0)
_DLMS = const(1)
_TEXT = const(2)
_SLASH = const(0x2F)
_CR = const(0x0D)
_LF = const(0x0A)


def dlms_frame_length(frame):
    """(header length, total length) of the general-glo-ciphering frame at the start of
    `frame`; None while too few bytes are there to tell; FrameError for a bad header."""
    if len(frame) < 11:
        return None
    first = frame[10]  # BER length: short form, or 81 xx, or 82 xx xx
    header = 11 if first < 0x80 else 12 if first == 0x81 else 13 if first == 0x82 else 0
    if not header:
        raise FrameError("unsupported DLMS length field 0x%02X" % first)
    if len(frame) <= header:  # the security byte is needed too
        return None
    length = first if header == 11 else frame[11] if header == 12 else frame[11] << 8 | frame[12]
    if length < 17:  # security byte + frame counter (4) + tag (12)
        raise FrameError("DLMS length %d is too short for a ciphered frame" % length)
    if frame[header] != 0x30:  # security control: encrypted and authenticated
        raise FrameError(
            "DLMS security byte 0x%02X: only 0x30 (encrypted and "
            "authenticated) is supported" % frame[header]
        )
    return header, header + length


class Framer:
    def __init__(self, size=2048, timeout_ms=500, buffer=None):
        # 2048: a Smarty frame with gas is 1234 bytes; the rest is room for the next
        # frame's first bytes and for longer telegrams of other DSMR meters.  `buffer`:
        # a bytearray allocated early, before the heap fragments (ESP8266).
        self.buf = bytearray(size) if buffer is None else buffer
        self._mv = memoryview(self.buf)
        self.timeout_ms = timeout_ms
        self.noise_bytes = 0
        self.timeouts = 0  # frames cut short by a silence
        self.overflows = 0  # frames longer than the buffer
        self._head = 0  # first byte not consumed
        self._tail = 0  # end of the bytes held
        self._state = _IDLE
        self._frame_end = 0  # DLMS: end of the frame (0: not known yet); TEXT: scan position
        self._cut = -1  # a silence (or the end of input) came after this many bytes
        self._cut_reported = False
        self._last_ms = None
        self._yielded = -1  # start of the frame frame() returned last, for reject()
        self._rejected = 0  # bytes before this are a rejected frame's, rescanned quietly
        self.start = self.end = 0  # where in buf the last frame (or candidate) lies

    def space(self):
        """A memoryview of the free space, to read into (then call received(n)).
        Moves unconsumed bytes to the front first; the last frame becomes invalid."""
        head = self._head
        if head:
            held = self._tail - head
            if held:
                self._mv[0:held] = self._mv[head : self._tail]
            self._head = 0
            self._tail = held
            if self._frame_end:
                self._frame_end -= head
            self._cut = self._cut - head if self._cut > head else -1
            self._rejected = self._rejected - head if self._rejected > head else 0
            self.start = self.start - head if self.start > head else 0  # a candidate's
            self._yielded = -1
        return self._mv[self._tail :]

    def received(self, n, now_ms=None):
        """Registers n bytes written into space(), read at now_ms (time.ticks_ms()).
        n == 0 is a read that found nothing: if it comes more than timeout_ms after the
        last bytes, the line was silent that long and any frame still incomplete ends.
        Only an empty read proves a silence: a gap between two reads that both found
        bytes is the reader's own delay (a slow publish, a collection), the UART kept
        the bytes meanwhile, and cutting there would lose a whole frame."""
        if n > 0:
            self._tail += n
            self._last_ms = now_ms
        elif (
            now_ms is not None
            and self._last_ms is not None
            and self._tail > self._head
            and self._cut != self._tail
            and ticks_diff(now_ms, self._last_ms) > self.timeout_ms
        ):
            self._cut = self._tail
            self._cut_reported = False

    def feed(self, data, now_ms=None):
        """Copies data in; yields each complete frame (memoryview) or FrameError."""
        data = memoryview(data)
        if not data:  # a read that found nothing
            self.received(0, now_ms)
            yield from self.frames()
        pos = 0
        while pos < len(data):
            space = self.space()
            n = min(len(space), len(data) - pos)
            space[:n] = data[pos : pos + n]
            self.received(n, now_ms)
            pos += n
            yield from self.frames()

    def flush(self):
        """End of input: yields what the bytes held still make; the rest is noise."""
        if self._tail > self._head:
            self._cut = self._tail
            self._cut_reported = False
            yield from self.frames()
            self.noise_bytes += self._tail - self._head
            self._head = self._tail
            self._state = _IDLE

    def frames(self):
        while True:
            try:
                frame = self.frame()
            except FrameError as e:
                if not self.rescanning():
                    yield e
                continue
            if frame is None:
                return
            yield frame

    def reject(self):
        """The last frame proved bad (tag or CRC): rescan from its second byte, in case
        its header lied about its length and hides the next frame."""
        if self._yielded >= 0:
            self._head = self._yielded + 1
            self._rejected = self.end
            self._state = _IDLE
            self._yielded = -1

    def rescanning(self):
        """Whether the candidate at self.start lies in a rejected frame's bytes: what goes
        wrong there was reported with that frame (a ciphertext is random bytes)."""
        return self.start < self._rejected

    def _find_start(self, pos, limit):
        """The first position in [pos, limit) that starts a frame, or may once more bytes
        come: "/" and three letters (a DSMR manufacturer id), or DB 08; else limit."""
        buf = self.buf
        while True:
            slash = buf.find(b"/", pos, limit)
            glo = buf.find(b"\xdb", pos, limit)
            if slash < 0 and glo < 0:
                return limit
            start = glo if slash < 0 or 0 <= glo < slash else slash
            i = start + 1
            if start == slash:
                while i < limit and i <= start + 3 and 97 <= (buf[i] | 0x20) <= 122:
                    i += 1
                if i == limit or i == start + 4:
                    return start
            elif i == limit or buf[i] == 0x08:
                return start
            pos = start + 1

    def _drop(self, message=None, truncated=False):
        """Gives up the candidate frame at head: rescan from its second byte.  Raises
        FrameError(message), except for repeat truncations by one silence (rescans)."""
        self._head += 1
        self.noise_bytes += 1
        self._state = _IDLE
        self._frame_end = 0
        if truncated:
            if self._cut_reported:
                return
            self._cut_reported = True
            self.timeouts += 1
        if message:
            raise FrameError(message)

    def frame(self):
        """The next complete frame (a memoryview into the buffer), or None when more bytes
        are needed.  After a FrameError the framer is ready to go on."""
        buf = self.buf
        while True:
            head, tail, cut = self._head, self._tail, self._cut
            if 0 <= cut <= head:
                self._cut = cut = -1
            # A candidate that starts before a silence must end before it.
            limit = cut if cut > head else tail
            cut_short = limit == cut
            start = head
            if self._state == _IDLE:
                start = self._find_start(head, limit)
                self.noise_bytes += start - head
                self._head = start
                if start >= limit:
                    if cut_short:  # the bytes before the silence are used up
                        continue
                    return None
                slash = buf[start] == _SLASH
                if start + (4 if slash else 11) > limit:  # too few bytes to tell yet
                    if cut_short:  # and none will come: noise, not worth an error
                        self._drop()
                        continue
                    return None
                self._state = _TEXT if slash else _DLMS
                self.start = start
                self._frame_end = start + 1 if slash else 0

            if self._state == _DLMS:
                if not self._frame_end:
                    try:
                        length = dlms_frame_length(self._mv[start:limit])
                    except FrameError as e:
                        self._drop(str(e))
                    if length is None:
                        if cut_short:
                            self._drop("DLMS frame cut short in its header", True)
                            continue
                        return None
                    if length[1] > len(buf):
                        self.overflows += 1
                        self._drop(
                            "a %d-byte frame does not fit the %d-byte buffer"
                            % (length[1], len(buf))
                        )
                    self._frame_end = start + length[1]
                end = self._frame_end
                if end <= limit:
                    break
                if cut_short:
                    self._drop(
                        "incomplete DLMS frame: %d of %d bytes, then silence"
                        % (cut - start, end - start),
                        True,
                    )
                    continue
                return None

            # _TEXT: look for "!" and for the start of another frame before it.
            scan = self._frame_end
            bang = buf.find(b"!", scan, limit)
            stop = bang if bang >= 0 else limit
            restart = self._find_start(scan, stop)
            if restart < stop:
                if restart + 4 > limit and not cut_short:  # undecided: wait for more bytes
                    self._frame_end = restart
                    return None
                self._head = restart
                self._state = _IDLE
                self.noise_bytes += restart - start
                raise FrameError(
                    "incomplete telegram: %d bytes, then the start of another "
                    "frame" % (restart - start)
                )
            if bang < 0:
                self._frame_end = limit
                if cut_short:
                    self._drop(
                        "incomplete telegram: %d bytes without an end mark '!'" % (cut - start),
                        True,
                    )
                    continue
                if start == 0 and tail == len(buf):
                    self.overflows += 1
                    self._drop("telegram longer than the %d-byte buffer" % len(buf))
                return None
            # "!" + up to four hex digits (none in DSMR 2.2/3) + CR LF
            self._frame_end = bang
            end = bang + 1
            while end < limit and end <= bang + 4 and buf[end] in b"0123456789ABCDEFabcdef":
                end += 1
            if end < limit and buf[end] != _CR:
                if end > bang + 1:  # "!XXXX" then no CR LF: the CRC will tell
                    break
                # "!" then neither a CRC nor CR LF: not an end mark (random bytes, such
                # as a ciphertext rescanned after a wrong tag, must not make a telegram)
                self._frame_end = bang + 1
                continue
            if end + 1 < limit:  # CR, then LF or another byte
                end += 2 if buf[end + 1] == _LF else 1
                break
            if cut_short:  # silence after "!XXXX": some meters send no CR LF
                end += 1 if end < limit else 0
                break
            return None
        # a whole frame: buf[start:end]
        self.start, self.end = start, end
        self._head = end
        self._state = _IDLE
        self._frame_end = 0
        self._yielded = start
        return self._mv[start:end]
