# The meter reader (assemble.py puts it together): a receiver per meter (P1 port
# -> reader -> replay check -> queue) and the publisher (queue -> MQTT), asyncio tasks
# sharing the queue, and the diagnostics they report into (one per meter).  Readings
# wait in the queue (a RAM front, then flash) while WiFi or the broker is down and go out
# in order, acknowledged (QoS 1), when it is back.

import gc

import asyncio

from . import log, uptime_s
from .publish import SlotWriter

_WIFI_POLL_S = 5  # how often the WiFi watch looks
REBOOT = 1  # what App.run() ends with: a shell session asked for a reboot
NO_WIFI = 2  # ... the home WiFi was away too long: setup mode


class Meter:
    """One meter's side: its reader and receiver, and where its readings go (the
    publisher's outlet: topic, legacy_topic, name, sensors_path, payloads)."""

    def __init__(self, receiver, topic, legacy_topic=None, name=None):
        # legacy_topic: None for no legacy payload; name: its Home Assistant device's
        self.receiver, self.reader, self.payloads = receiver, receiver.reader, receiver.payloads
        self.topic, self.legacy_topic, self.name = topic, legacy_topic, name
        self.sensors_path = receiver.sensors_path
        self.discovery_sent = False


class App:
    """The meters (Meter, in the queue's meter order), the queue and replay guard they
    share, and the publisher; put together by assemble.py from the validated config."""

    def __init__(self, meters, queue, guard, publisher):
        self.meters, self.queue, self.guard = meters, queue, guard
        self.publisher, self.broker = publisher, publisher.broker
        publisher.diagnostics = self.diagnostics
        self.writer = SlotWriter()

    @property
    def backend(self):
        return self.meters[0].reader.backend

    def diagnostics(self, buf, meter):
        """A meter's diag JSON written into buf (a free queue slot; no dict of it on the
        heap): its length.  The reader's counters are the meter's own; the publisher's,
        the queue's and the heap are the whole reader's."""
        receiver, publisher, queue = meter.receiver, self.publisher, self.queue
        framer = meter.reader.framer
        writer = self.writer
        writer.start(buf)
        writer.open()
        for counters in (meter.reader.counters, receiver.counters):
            for name, value in counters.items():
                if name not in publisher.counters:
                    writer.field(name, value)
        for name, value in publisher.counters.items():
            writer.field(name, value + receiver.counters.get(name, 0))
        up = uptime_s()
        for name, value in (
            ("uptime_s", up),
            # since this meter's last good frame, and its last byte (or the start)
            ("last_frame_s", up - receiver.last_good),
            ("last_bytes_s", up - receiver.last_bytes),
            ("free_heap", gc.mem_free()),
            ("free_heap_after_gc", receiver.heap_after_gc),
            ("backend", meter.reader.backend),
            ("noise_bytes", framer.noise_bytes),
            ("timeouts", framer.timeouts),
            ("overflows", framer.overflows),
            ("dropped_readings", queue.dropped),
            ("lost_readings", queue.lost),
            ("buffered", queue.waiting),
            ("on_flash", queue.on_flash),
            ("flash_bytes_written", queue.written),
            ("buffer_size", queue.max_readings),
            ("last_error", publisher.last_error or receiver.last_error),
            ("hint", receiver.hint()),
        ):
            writer.field(name, value)
        writer.close()
        return writer.length

    async def run(self, shell=None, no_wifi_s=0, fallback_path=None):
        """Reads and publishes until a shell session asks for a reboot (REBOOT), the home
        WiFi has been away for no_wifi_s (NO_WIFI: setup mode, the way back in after a
        WiFi password change), or a task fails (its exception, e.g. Restart).  `shell`:
        the station shell (setup.Server).  `fallback_path`: the setup fallbacks' count,
        forgotten once the home WiFi is back."""
        jobs = [meter.receiver.run() for meter in self.meters] + [self.publisher.run()]
        if shell is not None:  # first: asyncio loads its streams before the reader's garbage
            jobs.insert(0, self._serve(shell))
        if no_wifi_s:
            jobs.append(self._watch_wifi(no_wifi_s, fallback_path))
        tasks = [asyncio.create_task(job) for job in jobs]
        try:
            await asyncio.gather(*tasks)  # the reader's jobs end only by raising
        except _Ended as e:
            return e.args[0]
        finally:  # gather() leaves the others running: on a host they would outlive run()
            for task in tasks:
                task.cancel()

    @staticmethod
    async def _serve(shell):
        """The station shell: _Ended(REBOOT) when a session asks for one.  Out of memory,
        it is off until the next boot; the reader goes on."""
        try:
            if await shell.run(serial=False) == shell.REBOOT:
                raise _Ended(REBOOT)
        except MemoryError:
            log("the station shell ran out of memory: off until the next boot")

    async def _watch_wifi(self, limit_s, fallback_path):
        lost = uptime_s()
        while True:
            await asyncio.sleep(_WIFI_POLL_S)
            if self.publisher.wifi.connected():
                lost = None
                if fallback_path:
                    _remove(fallback_path)
                    fallback_path = None
            elif lost is None:
                lost = uptime_s()
            elif uptime_s() - lost >= limit_s:
                raise _Ended(NO_WIFI)


class _Ended(Exception):
    """What ends App.run() (REBOOT, NO_WIFI), raised through asyncio.gather()."""


def _remove(path):
    import os

    try:
        os.remove(path)
    except OSError:
        pass
