# Readings waiting for the broker: a small RAM front of preallocated slots while the
# broker takes them promptly, and a bounded queue on the board's filesystem (LittleFS)
# while it does not, so that an outage of a day, a reset or a power cut lose nothing.
#
# On flash, a folder of segment files named by sequence number ("00000001", ...), each
# up to SEGMENT_READINGS records appended one after the other:
#
#   state length (2 bytes, big-endian)  meter (3 bits) and legacy length (13 bits)
#   CRC16/ARC of each (2 + 2)  state JSON  legacy payload
#
# The meter is the reading's meter among several (0: the first, or the only one).
#
# and "head": "<segment> <offset>" of the oldest record not yet published, replaced
# (temporary file, then rename) after each one that is.  A record cut short by a reset is
# recognised by its length or CRC at boot: the rest of its segment is dropped (counted in
# `lost`) and appends go on in a new segment.  Full (max_readings, or the filesystem
# nearly so): the oldest segment is dropped, its readings counted in `dropped`.
#
# Order: once a reading is on flash, every newer one goes there too (the RAM front is
# spilled first), so the queue is always "flash, then RAM" and readings leave in order.
# Nothing is written while the broker is connected and the RAM front has room.

import os

from smarty import const
from smarty.dsmr import crc16

from . import write_whole


_HEADER = const(8)
SEGMENT_READINGS = const(64)  # about 100 KB a segment with a Smarty with gas
_RESERVE_BYTES = const(65536)  # flash left free for the config and the filesystem itself


SLOT_BYTES = const(2048)  # a Smarty with gas and water: a 1.5 KB state and its legacy


class Queue:
    def __init__(self, directory, slots=2, slot_size=SLOT_BYTES, max_readings=8640, buf=None):
        # buf: slots * slot_size bytes allocated early, before the heap fragments
        self.dir = directory
        self.count, self.size = slots, slot_size
        self.buf = bytearray(self.count * slot_size) if buf is None else buf
        self._mv = memoryview(self.buf)
        self._lengths = [(0, 0, 0)] * self.count  # (state, legacy, meter) of each slot
        self._oldest = 0
        self.used = 0  # readings in RAM
        self.max_readings = max_readings
        self.online = False  # the publisher says whether the broker takes readings now
        self.dropped = 0  # oldest readings dropped because the queue was full
        self.lost = 0  # records found damaged on flash (a reset while writing one)
        self.written = 0  # bytes written to flash since boot
        self._segments = []  # [[sequence, records waiting, records written]], oldest first
        self.segment_readings = max(1, min(SEGMENT_READINGS, max_readings // 4))
        self._head = 0  # offset of the oldest unpublished record in the first segment
        self._append_new = False  # the last segment ends in a damaged record: start anew
        self._read = (0, 0, 0)  # lengths and meter of the record oldest() read from flash
        self.state_span = (0, 0)
        self.meter = 0  # the meter of the reading oldest() returned
        self._header = bytearray(_HEADER)
        self._recover()

    # ---- what the reader and the publisher call ----

    @property
    def waiting(self):
        """Readings waiting, in RAM and on flash."""
        return self.used + self.on_flash

    @property
    def on_flash(self):
        return sum(s[1] for s in self._segments)

    def slot(self):
        """A memoryview to write the next reading's payloads into (then commit())."""
        if self.used == self.count:
            self._spill()
        return self._mv[self._index(self.used) * self.size :][: self.size]

    def commit(self, state_length, legacy_length=0, meter=0):
        """Keeps the reading written into slot(): in RAM while the broker takes readings
        and nothing waits on flash, else on flash (after whatever RAM holds)."""
        i = self._index(self.used)
        self._lengths[i] = (state_length, legacy_length, meter)
        self.used += 1
        if self._segments or not self.online:
            self._spill()

    def oldest(self):
        """(state, legacy) memoryviews of the oldest reading, or None; valid until the
        next slot() (the publisher's oldest() .. pop() has no await between).  One read
        from flash lands in the first free slot: while anything waits on flash, the
        RAM front is empty."""
        if self.used:
            return self._views(self._oldest)
        while self._segments:
            if self._read_head(self._oldest):
                return self._views(self._oldest)
        return None

    def pop(self):
        """The oldest reading is published: forget it."""
        if self.used:
            self._oldest = self._index(1)
            self.used -= 1
        elif self._segments:
            self._head += _HEADER + self._read[0] + self._read[1]
            self._segments[0][1] -= 1
            if self._segments[0][1] <= 0:
                self._drop_segment(count=False)
            else:
                self._write_head()

    # ---- RAM ----

    def _index(self, n):
        return (self._oldest + n) % self.count

    def _views(self, i):
        state, legacy, self.meter = self._lengths[i]
        base = i * self.size
        self.state_span = (base, base + state)  # the state's place in self.buf
        return self._mv[base : base + state], self._mv[base + state : base + state + legacy]

    def _spill(self):
        """Moves the RAM front to flash, oldest first."""
        while self.used:
            state, legacy = self._views(self._oldest)
            self._append(state, legacy, self.meter)
            self._oldest = self._index(1)
            self.used -= 1

    # ---- flash ----

    def _path(self, sequence):
        return "%s/%08d" % (self.dir, sequence)

    def _append(self, state, legacy, meter):
        last = self._segments[-1] if self._segments else None
        if self._append_new or last is None or last[2] >= self.segment_readings:
            self._new_segment()
        header = self._header
        n, m = len(state), len(legacy)
        crc, crc_legacy = crc16(state, 0, n), crc16(legacy, 0, m)
        header[0], header[1], header[2], header[3] = n >> 8, n & 255, meter << 5 | m >> 8, m & 255
        header[4], header[5], header[6], header[7] = (
            crc >> 8,
            crc & 255,
            crc_legacy >> 8,
            crc_legacy & 255,
        )
        with open(self._path(self._segments[-1][0]), "ab") as f:
            f.write(header)
            f.write(state)
            f.write(legacy)
        self.written += _HEADER + n + m
        self._segments[-1][1] += 1
        self._segments[-1][2] += 1
        while len(self._segments) > 1 and (
            self.on_flash > self.max_readings or _free_bytes(self.dir) < _RESERVE_BYTES
        ):
            self._drop_segment(count=True)

    def _new_segment(self):
        sequence = self._segments[-1][0] + 1 if self._segments else 1
        self._segments.append([sequence, 0, 0])
        self._append_new = False
        if len(self._segments) == 1:
            self._head = 0
            self._write_head()

    def _drop_segment(self, count):
        """Removes the oldest segment (published, or dropped when count is true)."""
        sequence, records, _ = self._segments.pop(0)
        if count:
            self.dropped += records
        _remove(self._path(sequence))
        self._head = 0
        if self._segments:
            self._write_head()
        else:
            _remove(self.dir + "/head")

    def _write_head(self):
        write_whole(self.dir + "/head", "%d %d" % (self._segments[0][0], self._head))

    def _read_head(self, i):
        """Reads the oldest record on flash into slot i; False (and the damaged rest of
        its segment dropped) if it is not whole."""
        base = i * self.size
        try:
            with open(self._path(self._segments[0][0]), "rb") as f:
                f.seek(self._head)
                h = f.read(_HEADER)
                if len(h) == _HEADER:
                    n, m = h[0] << 8 | h[1], (h[2] & 31) << 8 | h[3]
                    if (
                        n + m <= self.size
                        and f.readinto(self._mv[base : base + n + m]) == n + m
                        and crc16(self.buf, base, base + n) == h[4] << 8 | h[5]
                        and crc16(self.buf, base + n, base + n + m) == h[6] << 8 | h[7]
                    ):
                        self._lengths[i] = self._read = (n, m, h[2] >> 5)
                        return True
        except OSError:
            pass
        self.lost += self._segments[0][1]
        self._drop_segment(count=False)
        return False

    def _recover(self):
        """The queue as a reset left it: segments, head, a damaged last record."""
        try:
            names = os.listdir(self.dir)
        except OSError:
            os.mkdir(self.dir)
            names = []
        sequences = sorted(int(n) for n in names if len(n) == 8 and n.isdigit())
        head_sequence, self._head = None, 0
        try:
            with open(self.dir + "/head") as f:
                head_sequence, self._head = (int(x) for x in f.read().split())
        except (OSError, ValueError):
            pass
        for sequence in sequences:
            if head_sequence is not None and sequence < head_sequence:
                _remove(self._path(sequence))  # published before the reset
                continue
            start = self._head if sequence == head_sequence else 0
            records, written, whole = self._scan(sequence, start)
            self._segments.append([sequence, records, written])
            self._append_new = not whole
        if not self._segments or self._segments[0][0] != head_sequence:
            self._head = 0
        while self._segments and not self._segments[0][1]:
            self._drop_segment(count=False)
        if not self._segments:
            _remove(self.dir + "/head")
            self._append_new = False

    def _scan(self, sequence, start):
        """(whole records from start, records in the segment, whether it ends with a
        whole record)."""
        records = written = 0
        position = 0
        try:
            with open(self._path(sequence), "rb") as f:
                size = f.seek(0, 2)
                while position < size:
                    f.seek(position)
                    h = f.read(_HEADER)
                    if len(h) < _HEADER:
                        break
                    length = _HEADER + (h[0] << 8 | h[1]) + ((h[2] & 31) << 8 | h[3])
                    if position + length > size:
                        break
                    position += length
                    written += 1
                    records += position > start
        except OSError:
            return 0, 0, False
        whole = position == size
        if not whole:
            self.lost += 1  # the record a reset cut short
        return records, written, whole


def _free_bytes(directory):
    try:
        st = os.statvfs(directory)
        return st[0] * st[3]
    except (AttributeError, OSError):
        return _RESERVE_BYTES


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
