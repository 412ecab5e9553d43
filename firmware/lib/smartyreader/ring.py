# Readings waiting for the broker: a ring of slots preallocated at boot, so a day
# without WiFi fragments nothing.  Each slot holds one reading's state JSON, then its
# legacy payload.  Full: the oldest reading is dropped and counted.


class Ring:
    def __init__(self, count, size=2048):
        self.count, self.size = count, size
        self._buf = bytearray(count * size)
        self._mv = memoryview(self._buf)
        self._lengths = [(0, 0)] * count  # (state, legacy) bytes in each slot
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

    def commit(self, state_length, legacy_length=0):
        i = (self._oldest + self.used) % self.count
        self._lengths[i] = (state_length, legacy_length)
        self.used += 1

    def oldest(self):
        """(state, legacy) memoryviews of the oldest reading (legacy may be empty)."""
        i = self._oldest
        state, legacy = self._lengths[i]
        base = i * self.size
        return self._mv[base : base + state], self._mv[base + state : base + state + legacy]

    def pop(self):
        self._oldest = (self._oldest + 1) % self.count
        self.used -= 1
