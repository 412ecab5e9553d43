# Stream framer: bytes as a UART delivers them (any chunking, noise, gaps) in,
# complete frames out.  Two kinds of frame are recognised by their first bytes:
#
#   DLMS general-glo-ciphering (Smarty):  DB 08 <system title 8> <BER length> ...
#       the length says where the frame ends;
#   plaintext DSMR telegram:  "/XXX..." up to "!" + CRC (0..4 hex digits) + CRLF.
#
# One preallocated buffer holds everything; frames are memoryviews into it, valid
# until the next space()/feed().  Bytes that cannot be part of a frame are counted in
# `noise_bytes`; a frame that cannot be completed raises FrameError and the framer
# resynchronises on the next frame start, without losing that frame.

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

_GLO_CIPHERING = const(0xDB)  # DLMS general-glo-ciphering APDU tag
_TITLE_LENGTH = const(8)  # the byte after the tag: length of the system title
_MIN_DLMS_LENGTH = const(17)  # security byte + frame counter (4) + tag (12)
_ENCRYPTED_AND_AUTHENTICATED = const(0x30)  # DLMS security control byte
_SLASH = const(0x2F)
_CR = const(0x0D)
_LF = const(0x0A)


def dlms_header_length(first_length_byte):
    """Bytes from the tag to the end of the BER length field, 0 if unsupported."""
    if first_length_byte < 0x80:
        return 11  # DB 08 <title 8> <length>
    if first_length_byte == 0x81:
        return 12  # ... 81 <length>
    if first_length_byte == 0x82:
        return 13  # ... 82 <length high> <length low>
    return 0


def dlms_frame_length(frame):
    """(header length, total length) of a general-glo-ciphering frame whose first
    dlms_header_length() + 1 bytes are in `frame`; FrameError if the header is invalid
    or the security byte is not 0x30 (encrypted and authenticated, as Smarty sends)."""
    header = dlms_header_length(frame[10])
    if not header:
        raise FrameError("unsupported DLMS length field 0x%02X" % frame[10])
    if header == 11:
        length = frame[10]
    elif header == 12:
        length = frame[11]
    else:
        length = frame[11] << 8 | frame[12]
    if length < _MIN_DLMS_LENGTH:
        raise FrameError("DLMS length %d is too short for a ciphered frame" % length)
    if frame[header] != _ENCRYPTED_AND_AUTHENTICATED:
        raise FrameError("DLMS security byte 0x%02X: only 0x30 (encrypted and "
                         "authenticated) is supported" % frame[header])
    return header, header + length


def _is_letter(c):
    return 65 <= c <= 90 or 97 <= c <= 122


def _is_hex(c):
    return 48 <= c <= 57 or 65 <= c <= 70 or 97 <= c <= 102


class Framer:
    def __init__(self, size=2048, timeout_ms=500):
        # 2048: a Smarty frame with gas is 1234 bytes; the rest is room for the next
        # frame's first bytes and for longer telegrams of other DSMR meters.
        self.buf = bytearray(size)
        self._mv = memoryview(self.buf)
        self.timeout_ms = timeout_ms
        self.noise_bytes = 0
        self._head = 0  # first byte not consumed
        self._tail = 0  # end of the bytes held
        self._state = _IDLE
        self._frame_end = 0  # DLMS: end of the frame (0: header not read); TEXT: scan position
        self._cut = -1  # a silence (or end of input) came after this many bytes
        self._cut_reported = False
        self._last_ms = None
        self._yielded = -1  # start of the frame frame() returned last, for reject()
        self.start = self.end = 0  # where in buf the last frame lies

    # ---- filling ----

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
            if self._cut >= 0:
                self._cut = self._cut - head if self._cut > head else -1
            self._yielded = -1
        return self._mv[self._tail :]

    def received(self, n, now_ms=None):
        """Registers n bytes written into space().  With now_ms (time.ticks_ms()), a gap
        of more than timeout_ms since the last bytes ends any frame still incomplete."""
        if n <= 0:
            return
        if now_ms is not None:
            last = self._last_ms
            if last is not None and self._tail > self._head and ticks_diff(now_ms, last) > self.timeout_ms:
                self._silence()
            self._last_ms = now_ms
        self._tail += n

    def _silence(self):
        self._cut = self._tail
        self._cut_reported = False

    def feed(self, data, now_ms=None):
        """Copies data in and yields each complete frame (memoryview) or FrameError."""
        data = memoryview(data)
        pos = 0
        while pos < len(data):
            space = self.space()
            n = min(len(space), len(data) - pos)
            space[:n] = data[pos : pos + n]
            self.received(n, now_ms)
            pos += n
            yield from self.frames()

    def flush(self):
        """End of input: yields what the held bytes still make (a telegram without CRLF,
        errors for incomplete frames); the rest is noise."""
        if self._tail > self._head:
            self._silence()
            yield from self.frames()
            self.noise_bytes += self._tail - self._head
            self._head = self._tail
            self._state = _IDLE

    def frames(self):
        while True:
            try:
                frame = self.frame()
            except FrameError as e:
                yield e
                continue
            if frame is None:
                return
            yield frame

    # ---- framing ----

    def reject(self):
        """The last frame proved bad (tag or CRC): rescan from its second byte, in case
        its header lied about its length and hides the next frame."""
        if self._yielded >= 0:
            self._head = self._yielded + 1
            self._state = _IDLE
            self._yielded = -1

    def pending(self):
        """Bytes held that are not yet a frame."""
        return self._tail - self._head

    def _find_start(self, pos, limit):
        """The first position in [pos, limit) that starts a frame, or that might once more
        bytes arrive; limit if none."""
        buf = self.buf
        while True:
            slash = buf.find(b"/", pos, limit)
            glo = buf.find(b"\xdb", pos, limit)
            if slash < 0 and glo < 0:
                return limit
            start = glo if slash < 0 or 0 <= glo < slash else slash
            if start == slash:  # "/" + three letters: a DSMR manufacturer id
                end = min(start + 4, limit)
                ok = all(_is_letter(buf[i]) for i in range(start + 1, end))
            else:
                ok = start + 1 >= limit or buf[start + 1] == _TITLE_LENGTH
            if ok:
                return start
            pos = start + 1

    def _skip(self):
        """Give up the candidate at head; rescan from the byte after its start."""
        self._head += 1
        self.noise_bytes += 1
        self._state = _IDLE
        self._frame_end = 0

    def _truncated(self, message):
        """The candidate at head was cut short by a silence: skip it, and report it
        unless it is only a rescan inside bytes already reported."""
        self._skip()
        if not self._cut_reported:
            self._cut_reported = True
            raise FrameError(message)

    def frame(self):
        """The next complete frame (a memoryview into the buffer), or None when more bytes
        are needed.  A FrameError leaves the framer ready to go on."""
        buf = self.buf
        while True:
            head, tail, cut = self._head, self._tail, self._cut
            if 0 <= cut <= head:
                self._cut = cut = -1
            # A candidate that starts before a silence must end before it.
            limit = cut if cut > head else tail
            if self._state == _IDLE:
                start = self._find_start(head, limit)
                self.noise_bytes += start - head
                self._head = start
                if start >= limit:
                    if limit == cut:  # the bytes before the silence are used up
                        continue
                    return None
                first = buf[start]
                need = 4 if first == _SLASH else 11
                if start + need > limit:
                    if limit == cut:  # no more bytes will come for it
                        self._skip()
                        continue
                    return None
                self._state = _TEXT if first == _SLASH else _DLMS
                self._frame_end = start + 1 if first == _SLASH else 0
                continue

            start = head
            if self._state == _DLMS:
                if not self._frame_end:
                    header = dlms_header_length(buf[start + 10])
                    if header and start + header + 1 > limit:  # and the security byte
                        if limit == cut:
                            self._truncated("DLMS frame cut short in its header")
                            continue
                        return None
                    try:
                        header, total = dlms_frame_length(self._mv[start:limit])
                    except FrameError:
                        self._skip()
                        raise
                    if total > len(buf):
                        self._skip()
                        raise FrameError(
                            "a %d-byte frame does not fit the %d-byte buffer" % (total, len(buf))
                        )
                    self._frame_end = start + total
                end = self._frame_end
                if end <= limit:
                    return self._take(start, end)
                if limit == cut:
                    self._truncated(
                        "incomplete DLMS frame: %d of %d bytes, then silence"
                        % (cut - start, end - start)
                    )
                    continue
                return None

            # _TEXT: look for "!" and for the start of another frame before it.
            scan = self._frame_end
            bang = buf.find(b"!", scan, limit)
            stop = bang if bang >= 0 else limit
            restart = self._find_start(scan, stop)
            if restart < stop:
                if restart + 4 > limit and limit != cut:  # undecided: wait for more bytes
                    self._frame_end = restart
                    return None
                self._head = restart
                self._state = _IDLE
                self.noise_bytes += restart - start
                raise FrameError(
                    "incomplete telegram: %d bytes, then the start of another frame"
                    % (restart - start)
                )
            if bang < 0:
                self._frame_end = limit
                if limit == cut:
                    self._truncated(
                        "incomplete telegram: %d bytes without an end mark '!'" % (cut - start)
                    )
                    continue
                if start == 0 and tail == len(buf):
                    self._skip()
                    raise FrameError("telegram longer than the %d-byte buffer" % len(buf))
                return None
            # "!" + up to four hex digits (none in DSMR 2.2/3) + CR LF
            self._frame_end = bang
            end = bang + 1
            while end < limit and end <= bang + 4 and _is_hex(buf[end]):
                end += 1
            if end < limit and buf[end] != _CR:
                return self._take(start, end)
            if end + 1 < limit:  # CR, then LF or another byte
                return self._take(start, end + (2 if buf[end + 1] == _LF else 1))
            if limit == cut:  # silence after "!XXXX" (some meters send no CRLF)
                if end < limit and buf[end] == _CR:
                    end += 1
                return self._take(start, end)
            return None

    def _take(self, start, end):
        self.start, self.end = start, end
        self._head = end
        self._state = _IDLE
        self._frame_end = 0
        self._yielded = start
        return self._mv[start:end]
