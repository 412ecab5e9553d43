# Readings waiting for the broker: a ring of slots preallocated at boot, so a day
# without WiFi fragments nothing.  Each slot holds one reading's payloads one after
# another (state JSON, legacy payload).  Full: the oldest reading is dropped and counted.


class Ring:
    def __init__(self, count, size=2048):
        self.count, self.size = count, size
        self.buf = bytearray(count * size)
        self._mv = memoryview(self.buf)
        self._lengths = [()] * count  # the payloads' lengths in each slot
        self._oldest = 0
        self.used = 0
        self.dropped = 0

    def slot(self):
        """The memoryview to write the next reading into (commit() keeps it); makes room
        by dropping the oldest reading if the ring is full."""
        if self.used == self.count:
            self.pop()
            self.dropped += 1
        i = (self._oldest + self.used) % self.count
        return self._mv[i * self.size : (i + 1) * self.size]

    def commit(self, *lengths):
        """Keeps the reading written into slot(): the lengths of its payloads."""
        i = (self._oldest + self.used) % self.count
        self._lengths[i] = lengths
        self.used += 1

    def oldest(self):
        """Where the oldest reading's payloads are: [(start, end)] in self.buf."""
        start = self._oldest * self.size
        spans = []
        for length in self._lengths[self._oldest]:
            spans.append((start, start + length))
            start += length
        return spans

    def view(self, span):
        return self._mv[span[0] : span[1]]

    def pop(self):
        self._oldest = (self._oldest + 1) % self.count
        self.used -= 1
