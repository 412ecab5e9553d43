# The meter reader, put together from a validated config: a receiver per meter (P1 port
# -> reader -> replay check -> queue) and the publisher (queue -> MQTT), asyncio tasks
# sharing the queue, and the diagnostics they report into (one per meter).  Readings
# wait in the queue (a RAM front, then flash) while WiFi or the broker is down and go out
# in order, acknowledged (QoS 1), when it is back.

import gc
import time

import asyncio

from smarty.gcm import LUXEMBOURG_AUTH_KEY
from smarty.keys import parse_key
from smarty.reader import Reader

from . import beside, broker, log, net
from .publish import Payloads, SlotWriter
from .publisher import Publisher
from .queue import SLOT_BYTES, Queue
from .receiver import Receiver, ReplayGuard

_WIFI_POLL_S = 5  # how often the WiFi watch looks
REBOOT = 1  # what App.run() ends with: a shell session asked for a reboot
NO_WIFI = 2  # ... the home WiFi was away too long: setup mode


class Meter:
    """One meter's side: its line, reader and receiver, and where its readings go (the
    publisher's outlet: topic, legacy_topic, name, sensors_path, payloads)."""

    def __init__(self, number, settings, port, buffer, queue, guard, cfg, led, watchdog, path):
        # number: 0 for the first (or only) meter; settings: its entry of cfg["meters"];
        # buffer: its frame buffer; path: config.json's
        auth = settings["auth_key"]
        self.reader = Reader(
            parse_key(settings["key"]),
            parse_key(auth, "auth key") if auth else LUXEMBOURG_AUTH_KEY,
            buffer=buffer,
        )
        name = "sensors.txt" if number == 0 else "sensors-%d.txt" % (number + 1)
        sensors = beside(path, name)
        self.payloads = Payloads(legacy=cfg["mqtt.legacy"])
        self.receiver = Receiver(
            port,
            self.reader,
            guard,
            self.payloads,
            queue,
            sensors if cfg["mqtt.discovery"] else None,
            led,
            watchdog,
            number,
            len(cfg["meters"]) == 1,
        )
        self.topic = settings["topic"]
        self.legacy_topic = settings["legacy_topic"] if cfg["mqtt.legacy"] else None
        self.name = settings["name"]
        self.sensors_path = sensors
        self.discovery_sent = False


class App:
    def __init__(
        self, cfg, ports, wifi, led=None, watchdog=None, config_path="config.json", buffers=None
    ):
        # ports: one P1Port per entry of cfg["meters"]; buffers: buffers(cfg) made
        # before anything else, while the heap is in one piece
        frames, slots = buffers or App.buffers(cfg)
        self.queue = Queue(
            beside(config_path, "queue"),
            slots=len(slots) // SLOT_BYTES,
            max_readings=cfg["buffer.readings"],
            buf=slots,
        )
        self.guard = ReplayGuard(beside(config_path, "counters.txt"))  # by system title
        self.meters = [
            Meter(n, s, port, frame, self.queue, self.guard, cfg, led, watchdog, config_path)
            for n, (s, port, frame) in enumerate(zip(cfg["meters"], ports, frames))
        ]
        topic = cfg["mqtt.topic"]
        client_id = cfg["mqtt.client_id"] or "smartyreader-" + net.mac_suffix()
        self.broker = broker.from_config(cfg, client_id, topic + "/status")
        self.publisher = Publisher(
            self.broker,
            self.queue,
            wifi,
            self.meters,
            topic + "/status",
            cfg["mqtt.per_field"],
            cfg["mqtt.discovery_prefix"] if cfg["mqtt.discovery"] else None,
            cfg["diag.interval"],
            cfg["mqtt.keepalive"],
            self.diagnostics,
        )
        self.started = time.ticks_ms()
        self.writer = SlotWriter()

    @staticmethod
    def buffers(cfg):
        """(a frame buffer per meter, the queue's RAM slots): the reader's big buffers.
        A slot per meter, two at most: the next reading waits on flash if the broker has
        not taken these (two meters' frames may come at once, five rarely do)."""
        n = len(cfg["meters"])
        return [bytearray(cfg["buffer.frame_bytes"]) for _ in range(n)], bytearray(
            SLOT_BYTES * min(n, 2)
        )

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
        now = time.ticks_ms()
        for name, value in (
            ("uptime_s", time.ticks_diff(now, self.started) // 1000),
            # since this meter's last good frame, and its last byte (or the start)
            ("last_frame_s", time.ticks_diff(now, receiver.last_good) // 1000),
            ("last_bytes_s", time.ticks_diff(now, receiver.last_bytes) // 1000),
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

    async def run(self, shell=None, no_wifi_ms=0, fallback_path=None):
        """Reads and publishes until a shell session asks for a reboot (REBOOT), the home
        WiFi has been away for no_wifi_ms (NO_WIFI: setup mode, the way back in after a
        WiFi password change), or a task fails (its exception, e.g. Restart).  `shell`:
        the station shell (setup.Server).  `fallback_path`: the setup fallbacks' count,
        forgotten once the home WiFi is back."""
        jobs = [meter.receiver.run() for meter in self.meters] + [self.publisher.run()]
        if shell is not None:  # first: asyncio loads its streams before the reader's garbage
            jobs.insert(0, self._serve(shell))
        if no_wifi_ms:
            jobs.append(self._watch_wifi(no_wifi_ms, fallback_path))
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

    async def _watch_wifi(self, limit_ms, fallback_path):
        lost = time.ticks_ms()
        while True:
            await asyncio.sleep(_WIFI_POLL_S)
            if self.publisher.wifi.connected():
                lost = None
                if fallback_path:
                    _remove(fallback_path)
                    fallback_path = None
            elif lost is None:
                lost = time.ticks_ms()
            elif time.ticks_diff(time.ticks_ms(), lost) >= limit_ms:
                raise _Ended(NO_WIFI)


class _Ended(Exception):
    """What ends App.run() (REBOOT, NO_WIFI), raised through asyncio.gather()."""


def _remove(path):
    import os

    try:
        os.remove(path)
    except OSError:
        pass
