# The meter reader, put together from a validated config: the receiver (P1 port ->
# reader -> replay check -> queue) and the publisher (queue -> MQTT), two asyncio tasks
# sharing the queue, and the diagnostics both report into.  Readings wait in the queue
# (a RAM front, then flash) while WiFi or the broker is down and go out in order,
# acknowledged (QoS 1), when it is back.

import gc
import time

import asyncio

from smarty.gcm import LUXEMBOURG_AUTH_KEY
from smarty.keys import parse_key
from smarty.reader import Reader

from . import broker, net
from .publish import Payloads, SlotWriter
from .publisher import Publisher
from .queue import Queue
from .receiver import Receiver, ReplayGuard

_SLOT_BYTES = 2048  # a Smarty with gas and water: a 1.5 KB state and its legacy payload


def data_path(config_path, name):
    """A file of the reader's own (queue, counters, sensors) beside config.json."""
    slash = config_path.rfind("/")
    return config_path[: slash + 1] + name


class App:
    def __init__(self, cfg, port, wifi, led=None, watchdog=None, config_path="config.json"):
        # The buffers first, before the heap fragments.
        buffer = bytearray(cfg["buffer.frame_bytes"])
        self.queue = Queue(
            data_path(config_path, "queue"),
            slots=1,  # the next reading waits on flash if the broker has not taken this one
            slot_size=_SLOT_BYTES,
            max_readings=cfg["buffer.readings"],
        )
        auth = cfg["meter.auth_key"]
        self.reader = Reader(
            parse_key(cfg["meter.key"]),
            parse_key(auth, "auth key") if auth else LUXEMBOURG_AUTH_KEY,
            buffer=buffer,
        )
        topic = cfg["mqtt.topic"]
        sensors = data_path(config_path, "sensors.txt")
        payloads = Payloads(legacy=cfg["mqtt.legacy"])
        self.receiver = Receiver(
            port,
            self.reader,
            ReplayGuard(data_path(config_path, "counters.txt")),
            payloads,
            self.queue,
            sensors if cfg["mqtt.discovery"] else None,
            led,
            watchdog,
        )
        client_id = cfg["mqtt.client_id"] or "smartyreader-" + net.mac_suffix()
        self.broker = broker.from_config(cfg, client_id, topic + "/status")
        self.publisher = Publisher(
            self.broker,
            self.queue,
            wifi,
            topic,
            (cfg["mqtt.legacy_topic"] or topic + "/legacy") if cfg["mqtt.legacy"] else None,
            cfg["mqtt.per_field"],
            cfg["mqtt.discovery_prefix"] if cfg["mqtt.discovery"] else None,
            cfg["name"],
            sensors,
            cfg["diag.interval"],
            cfg["mqtt.keepalive"],
            self.diagnostics,
        )
        self.publisher.meter = lambda: payloads.meter
        self.started = time.ticks_ms()
        self.writer = SlotWriter()

    def diagnostics(self, buf):
        """The diag JSON written into buf (a free queue slot; no dict of it on the heap):
        its length."""
        receiver, publisher, queue = self.receiver, self.publisher, self.queue
        framer = self.reader.framer
        writer = self.writer
        writer.start(buf)
        writer.open()
        for counters in (self.reader.counters, receiver.counters):
            for name, value in counters.items():
                if name not in publisher.counters:
                    writer.field(name, value)
        for name, value in publisher.counters.items():
            writer.field(name, value + receiver.counters.get(name, 0))
        for name, value in (
            ("uptime_s", time.ticks_diff(time.ticks_ms(), self.started) // 1000),
            ("free_heap", gc.mem_free()),
            ("free_heap_after_gc", receiver.heap_after_gc),
            ("backend", self.reader.backend),
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

    async def run(self, shell=None):
        """Reads and publishes; with the station shell, until it asks for a reboot."""
        tasks = [
            asyncio.create_task(self.receiver.run()),
            asyncio.create_task(self.publisher.run()),
        ]
        if shell is None:
            return await asyncio.gather(*tasks)  # they run until stopped (or Restart)
        action = await shell.run(serial=False)
        for task in tasks:
            task.cancel()
        return action
