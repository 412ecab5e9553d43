# The receiving side of one meter: P1 port -> reader (framer, decryption, CRC, parse) ->
# replay check -> payloads -> queue.  One asyncio task per meter.  A bad frame, a
# MemoryError, a bug in a payload builder: each is counted and the loop goes on; only
# persistent trouble (no good frame for 10 minutes although bytes arrive, unless they are
# frames with a wrong key, and only if this is the only meter: a restart would cost the
# others their readings; or 5 MemoryErrors in a minute) asks for a restart (Restart:
# main.py resets the board).

import gc
import time

import asyncio

from smarty import const
from smarty.errors import P1Error

from . import forget, log, uptime_s, write_whole


_READ_IDLE_MS = const(20)
_AUTH_STREAK = const(3)  # this many wrong tags in a row, and no good frame: "wrong key?"
# Times that may be days old are uptime_s() seconds, not ticks (see uptime_s()).
NO_FRAME_S = 600  # bytes arrive, but no good frame for 10 minutes: restart
MEMORY_ERRORS = const(5)  # this many MemoryErrors within a minute: restart
_MINUTE_S = const(60)
# a frame ended within the last 1-2 s, or the line has been silent for over 12 s: the
# next frame is seconds away, and the UART's ring holds it whole (see between_frames())
_JUST_ENDED_S = const(1)
_SILENT_S = const(12)


class Restart(Exception):
    """Persistent trouble that a restart may cure (main.py resets the board)."""


class ReplayGuard:
    """Frame counters: a frame whose counter is not above the last accepted one of its
    meter (system title, and the line it came on) is a replay.  Kept in a file, so that
    a reset does not make an old frame new again: written with the first frame after
    boot, with every reading queued on flash (save()) and at most every `interval_s`
    otherwise (a few bytes an hour while the broker takes readings promptly).

    A counter belongs to a key: DLMS starts a meter's invocation counter anew with a new
    key, so each counter is kept under the id of its meter's key (smarty.keys.key_id),
    `keys` by meter number (0: the first).  `last`: the counters kept in the file, read
    at start-up (assemble.kept_counters(), which forgets those of an old key)."""

    def __init__(self, path, keys, last=None, interval_s=3600):
        self.path, self.interval_s = path, interval_s
        # what follows a system title in a frame counter's name, by meter number
        self._suffix = [("/%d " % (n + 1) if n else " ") + key for n, key in enumerate(keys)]
        self.last = last or {}  # "<system title>[/<meter number>] <key id>" -> counter
        self._saved = uptime_s() - interval_s  # the first one: at once
        self._dirty = False

    def replayed(self, title, counter, meter=0):
        """None if a frame is new (its counter is remembered), else the last counter
        accepted: the frame is a replay.  Kept per meter (its number among several, 0
        for the first): each line has its own meter."""
        key = title.hex() + self._suffix[meter]
        last = self.last.get(key)
        if last is not None and counter <= last:
            return last
        self.last[key] = counter
        self._dirty = True
        if uptime_s() - self._saved >= self.interval_s:
            self.save()
        return None

    def save(self):
        if not self._dirty:
            return
        try:
            write_whole(self.path, "".join("%s %d\n" % item for item in self.last.items()))
        except OSError as e:  # a full filesystem: tried again at the next save
            log("cannot keep the frame counters in %s (%s)" % (self.path, e))
            return
        self._saved = uptime_s()
        self._dirty = False


class Receiver:
    def __init__(
        self,
        port,
        reader,
        guard,
        payloads,
        queue,
        sensors_path=None,
        led=None,
        watchdog=None,
        meter=0,
        alone=True,
        today_path=None,
    ):
        self.port, self.reader, self.guard = port, reader, guard
        self.meter = meter  # this meter's number among several (0: the first)
        self.alone = alone  # the only meter: a line without good frames may restart
        self.payloads, self.queue = payloads, queue
        self.sensors_path = sensors_path  # where the first telegram's sensors go (discovery)
        self.today_path = today_path  # where the energy-today baselines outlive a reset
        self.sensors_ready = False
        self.led, self.watchdog = led, watchdog
        self.counters = {"replays": 0, "too_large": 0, "memory_errors": 0, "errors": 0}
        self.auth_streak = 0
        self.last_error = None
        self.heap_after_gc = None  # free heap right after the collection that follows a frame
        # when (uptime_s()) the last good frame came, the last byte, the last frame ended
        up = uptime_s()
        self.last_good = self.last_bytes = up
        self.frame_end = up - _JUST_ENDED_S - 1
        self._memory_errors = []  # when (uptime_s()) the recent MemoryErrors were

    def on_item(self, item):
        """One thing the reader made of the bytes: a Telegram or a P1Error."""
        if isinstance(item, P1Error):
            if item.kind == "auth":
                self.auth_streak += 1
            self.last_error = "%s: %s" % (item.kind, item)
            log("frame rejected, " + self.last_error)
            return
        last = None
        if item.system_title is not None:
            last = self.guard.replayed(item.system_title, item.frame_counter, self.meter)
        if last is not None:
            self.counters["replays"] += 1
            log(
                "frame counter %d is not above %d, the last accepted: replay rejected"
                % (item.frame_counter, last)
            )
            return
        self.auth_streak = 0
        self.last_good = uptime_s()
        self.accept(item)

    def accept(self, telegram):
        """Queues a telegram's payloads (its bytes are reused by the next frame)."""
        queue = self.queue
        sensors = None
        if self.today_path and self.payloads.meter is None:
            # the first telegram: read now, not at start-up (the heap's peak)
            self.payloads.kept = _today().read(self.today_path)
        if self.sensors_path and not self.sensors_ready:
            try:
                sensors = open(self.sensors_path, "w")
            except OSError as e:  # a full filesystem: readings first, discovery later
                self.last_error = "cannot write %s (%s): no discovery" % (self.sensors_path, e)
                log(self.last_error)
                self.sensors_ready = True
        try:
            state, legacy = self.payloads.write(telegram, queue.slot(), sensors)
        except ValueError as e:  # larger than a slot: say so, count it
            self.failed("too_large", "reading not queued: %s" % e)
            return
        finally:
            if sensors is not None:
                sensors.close()
        self.sensors_ready = True
        queue.commit(state, legacy, self.meter)
        if queue.on_flash:
            self.guard.save()
        if self.payloads.new_baseline and self.today_path:  # a new day (or meter)
            self.payloads.new_baseline = False
            _today().keep(self.today_path, self.payloads)
        if self.led:
            self.led.set(True)

    def hint(self):
        """What the diagnostics suggest: "wrong key?" after wrong tags and no good frame."""
        return "wrong key?" if self.auth_streak >= _AUTH_STREAK else None

    def failed(self, counter, message):
        """Counts a failure the loop survives, says what it was, frees what it left."""
        self.counters[counter] += 1
        self.last_error = message
        gc.collect()
        log(message)

    def between_frames(self, up):
        """Whether the reader may block for up to ~19 s at `up` (uptime_s()) without
        losing a byte: a Smarty's frame (1.1 KB every 10 s) has just ended, so the ring
        (2 KB) holds the next one whole; or the line has been silent for longer than a
        meter's pause."""
        return up - self.frame_end <= _JUST_ENDED_S or up - self.last_bytes > _SILENT_S

    def trouble(self, up):
        """Why the reader should restart at `up` (uptime_s()), or None."""
        if (
            self.alone
            and up - self.last_good > NO_FRAME_S
            and up - self.last_bytes < _MINUTE_S
            and self.auth_streak < _AUTH_STREAK  # a wrong key: no restart cures that
        ):
            return "no good frame for 10 minutes although bytes arrive"
        recent = [t for t in self._memory_errors if up - t < _MINUTE_S]
        self._memory_errors = recent
        if len(recent) >= MEMORY_ERRORS:
            return "%d MemoryErrors within a minute" % len(recent)
        return None

    async def run(self):
        framer = self.reader.framer
        self.port.request(True)
        while True:
            n = self.port.readinto(framer.space()) or 0
            up = uptime_s()
            if n:
                self.last_bytes = up
            # an empty read tells the framer how long the line has been silent
            framer.received(n, time.ticks_ms())
            item = None
            try:
                for item in self.reader.frames():
                    self.frame_end = up
                    self.on_item(item)
                    item = None
                    # A quiet moment (the next frame is seconds away): a telegram leaves
                    # kilobytes of garbage, and collecting now keeps the heap unfragmented.
                    gc.collect()
                    self.heap_after_gc = gc.mem_free()
            except MemoryError:
                item = None  # this reading is lost (counted); the next frame is read
                self._memory_errors.append(up)
                self.failed("memory_errors", "out of memory while reading a frame")
            except Exception as e:  # a bug must not stop the meter being read
                item = None
                self.failed("errors", "reading a frame: %r" % e)
            reason = self.trouble(up)
            if reason:
                raise Restart(reason)
            if n:
                await asyncio.sleep_ms(0)  # let the publisher run, even when bytes keep coming
            else:
                if self.led:
                    self.led.set(False)
                await asyncio.sleep_ms(_READ_IDLE_MS)
            if self.watchdog:
                self.watchdog.feed()


def _today():
    """The today module (the energy-today baselines' file), used once a day at most: out
    of sys.modules at once, its code is freed when the caller is done with it (heap, with
    the application as .mpy files in RAM)."""
    from . import today

    forget("smartyreader.today")
    return today
