# The firmware's main loop: P1 port -> reader (framer, decryption, CRC, parse) ->
# replay check -> readings queue -> MQTT.  Two asyncio tasks: one reads the meter,
# one publishes.  Readings wait in a bounded queue while WiFi or the broker is down and
# go out in order, acknowledged (QoS 1), when it is back; overflow drops the oldest and
# counts it.  Failures are counted and published in <topic>/diag, never fatal.

import gc
import time

import asyncio

from smarty.errors import P1Error
from smarty.gcm import LUXEMBOURG_AUTH_KEY
from smarty.jsonout import dumps
from smarty.keys import parse_key
from smarty.reader import Reader

from . import log, net, publish
from .broker import Broker, BrokerError
from .ring import Ring

_READ_IDLE_MS = 20
_AUTH_STREAK = 3  # this many wrong tags in a row, and no good frame: "wrong key?"
_SLOT_BYTES = 2048  # a Smarty with gas: a 1.4 KB state payload and its legacy payload


class App:
    def __init__(self, cfg, port, wifi, led=None, watchdog=None):
        # The frame buffer first, before the heap fragments.
        buffer = bytearray(cfg["buffer.frame_bytes"])
        auth = (
            parse_key(cfg["meter.auth_key"], "auth key")
            if cfg["meter.auth_key"]
            else LUXEMBOURG_AUTH_KEY
        )
        self.reader = Reader(parse_key(cfg["meter.key"]), auth, buffer=buffer)
        self.cfg, self.port, self.wifi = cfg, port, wifi
        self.led, self.watchdog = led, watchdog
        self.topic = cfg["mqtt.topic"]
        self.legacy_topic = (
            (cfg["mqtt.legacy_topic"] or self.topic + "/legacy") if cfg["mqtt.legacy"] else None
        )
        client_id = cfg["mqtt.client_id"] or "smartyreader-" + net.mac_suffix()
        self.broker = Broker(cfg, client_id, self.topic + "/status")
        # Readings waiting for the broker, preallocated now (before the heap fragments):
        # as many as buffer.readings, or a quarter of the free heap.
        gc.collect()
        self.queue = Ring(
            cfg["buffer.readings"] or max(2, gc.mem_free() // 4 // _SLOT_BYTES), _SLOT_BYTES
        )
        self.writer = publish.SlotWriter()
        # the newest reading's per-field payloads, one "name value" line each
        self.fields = bytearray(_SLOT_BYTES) if cfg["mqtt.per_field"] else None
        self.fields_length = 0
        self.counters = {
            "replays": 0,
            "reconnects": 0,
            "published": 0,
            "too_large": 0,
            "memory_errors": 0,
            "errors": 0,
        }
        self.last_counter = {}  # system title -> last frame counter accepted
        self.auth_streak = 0
        # the Home Assistant sensors, from the first telegram: a sensor_line() each
        self.sensors = bytearray(_SLOT_BYTES) if cfg["mqtt.discovery"] else None
        self.sensors_length = 0
        self.sensors_writer = publish.SlotWriter()
        self.meter = None  # meter id (equipment id)
        self.discovery_sent = False
        self.baselines = {}  # field -> (date, value at the first telegram of that date)
        self.started = time.ticks_ms()
        self.last_error = None
        self.ever_connected = False
        self.heap_after_gc = None  # free heap right after the collection that follows a frame

    # ---- reading ----

    def on_item(self, item):
        """One thing the reader made of the bytes: a Telegram or a P1Error."""
        if isinstance(item, P1Error):
            if item.kind == "auth":
                self.auth_streak += 1
            self.last_error = "%s: %s" % (item.kind, item)
            log("frame rejected, " + self.last_error)
            return
        title, counter = item.system_title, item.frame_counter
        if title is not None:
            last = self.last_counter.get(title)
            if last is not None and counter <= last:
                self.counters["replays"] += 1
                log("frame counter %d not above %d: replay rejected" % (counter, last))
                return
            self.last_counter[title] = counter
        self.auth_streak = 0
        self.accept(item)

    def accept(self, telegram):
        """Queues a telegram's payloads.  Its bytes are reused by the next frame, so all
        is read now, writing the payloads straight into preallocated buffers: the state
        JSON and legacy payload into a ring slot, the per-field lines into `fields`."""
        writer = self.writer
        wanted = {
            "power_import": None,
            "power_export": None,
            "energy_import": None,
            "energy_export": None,
            "timestamp": None,
            "equipment_id": None,
        }
        sensors = None
        if self.sensors is not None and not self.sensors_length:
            sensors = self.sensors_writer
        try:
            if sensors is not None:
                sensors.start(self.sensors)
            writer.start(self.queue.slot())
            writer.open()
            for reading in telegram.readings():
                name, value = reading[0], reading[1]
                writer.field(name, value)
                if name in wanted:
                    wanted[name] = value
                if sensors is not None:
                    sensors.write(publish.sensor_line(reading))
            computed = self.computed(wanted)
            for name, value in computed:
                writer.field(name, value)
            writer.close()
            state = writer.length
            if self.legacy_topic:
                raw = {
                    code: values[0]
                    for code, values in telegram.lines()
                    if code in ("0-0:1.0.0", "1-0:1.8.0", "1-0:2.8.0")
                }
                writer.write(
                    publish.legacy_payload(
                        raw.get("0-0:1.0.0", ""),
                        raw.get("1-0:1.8.0", ""),
                        raw.get("1-0:2.8.0", ""),
                    )
                )
            legacy = writer.length - state
            if sensors is not None:
                sensors.write(publish.COMPUTED_SENSORS)
        except ValueError as e:  # larger than a slot: say so, count it
            self.failed("too_large", "reading not queued: %s" % e)
            return
        self.queue.commit(state, legacy)
        if self.fields is not None:
            self.fields_length = 0
            try:
                writer.start(self.fields)
                for reading in telegram.readings():
                    writer.line(reading[0], reading[1])
                for name, value in computed:
                    writer.line(name, value)
                self.fields_length = writer.length
            except ValueError as e:
                self.failed("too_large", "per-field values not published: %s" % e)
        if sensors is not None:
            self.sensors_length = sensors.length
        if self.meter is None:
            self.meter = wanted["equipment_id"] or (telegram.system_title or b"").hex() or "meter"
        if self.led:
            self.led.set(True)

    def computed(self, fields):
        """[(name, value)]: net power (import - export) and the energy since local
        midnight (since the first telegram of the meter's date, after a reboot)."""
        out = [
            (
                "net_power",
                publish.difference(fields.get("power_import"), fields.get("power_export")),
            )
        ]
        date = (fields.get("timestamp") or "")[:10]
        for name in ("energy_import", "energy_export"):
            value = fields.get(name)
            base = self.baselines.get(name)
            if value is not None and (base is None or base[0] != date):
                base = self.baselines[name] = (date, value)
            out.append((name + "_today", publish.difference(value, base[1]) if base else None))
        return out

    async def read_loop(self):
        framer = self.reader.framer
        self.port.request(True)
        while True:
            n = self.port.readinto(framer.space()) or 0
            # an empty read tells the framer how long the line has been silent
            framer.received(n, time.ticks_ms())
            try:
                for item in self.reader.frames():
                    self.on_item(item)
                    item = None
                    # A quiet moment (the next frame is seconds away): a telegram leaves
                    # kilobytes of garbage, and collecting now keeps the heap unfragmented.
                    gc.collect()
                    self.heap_after_gc = gc.mem_free()
            except MemoryError:
                # this reading is lost (counted); the framer goes on with the next frame
                item = None
                self.failed("memory_errors", "out of memory while reading a frame")
            except Exception as e:  # a bug must not stop the meter being read
                item = None
                self.failed("errors", "reading a frame: %r" % e)
            if n:
                await asyncio.sleep_ms(0)  # let the publisher run, even when bytes keep coming
            else:
                if self.led:
                    self.led.set(False)
                await asyncio.sleep_ms(_READ_IDLE_MS)
            if self.watchdog:
                self.watchdog.feed()

    def failed(self, counter, message):
        """Counts a failure the loops survive, says what it was, frees what it left."""
        self.counters[counter] += 1
        self.last_error = message
        gc.collect()
        log(message)

    # ---- publishing ----

    def diagnostics(self):
        counters = dict(self.reader.counters)
        counters.update(self.counters)
        framer = self.reader.framer
        counters.update(
            {
                "uptime_s": time.ticks_diff(time.ticks_ms(), self.started) // 1000,
                "free_heap": gc.mem_free(),
                "free_heap_after_gc": self.heap_after_gc,
                "backend": self.reader.backend,
                "noise_bytes": framer.noise_bytes,
                "timeouts": framer.timeouts,
                "overflows": framer.overflows,
                "dropped_readings": self.queue.dropped,
                "buffered": self.queue.used,
                "buffer_size": self.queue.count,
                "last_error": self.last_error,
                "hint": "wrong key?" if self.auth_streak >= _AUTH_STREAK else None,
            }
        )
        return dumps(counters)

    def connect(self):
        self.broker.connect()
        if self.ever_connected:
            self.counters["reconnects"] += 1
        self.ever_connected = True
        self.discovery_sent = False  # a restarted broker may have lost retained configs
        log("connected to the MQTT broker %s:%d" % (self.cfg["mqtt.host"], self.cfg["mqtt.port"]))
        if self.legacy_topic:
            self.broker.publish(
                self.legacy_topic, publish.legacy_notice("connect", "SmartyReader")
            )

    def publish_pending(self):
        broker, topic = self.broker, self.topic
        if self.sensors_length and not self.discovery_sent:
            node = "smarty_" + "".join(
                c if "a" <= c <= "z" or "0" <= c <= "9" else "_" for c in self.meter.lower()
            )
            for config_topic, payload in publish.discovery(
                self.cfg["mqtt.discovery_prefix"],
                node,
                topic,
                self.cfg["name"] or "Smarty " + self.meter,
                self.sensors,
                self.sensors_length,
            ):
                broker.publish(config_topic, payload, True)
                # once per connection, ~45 configs: free each one's garbage before the next,
                # so that no allocation meets a heap fragmented by all of them
                payload = None
                gc.collect()
            self.discovery_sent = True
        queue = self.queue
        while queue.used:
            state, legacy = queue.oldest()
            broker.publish(topic + "/state", queue.view(state), False, 1)
            if legacy[1] > legacy[0]:
                broker.publish(self.legacy_topic, queue.view(legacy), False, 1)
            queue.pop()
            self.counters["published"] += 1
        # the newest reading's values, each on its own topic (not queued: the latest only)
        length, self.fields_length = self.fields_length, 0
        if length:
            prefix = topic.encode() + b"/"
            for name, payload in publish.field_lines(self.fields, 0, length):
                broker.publish(prefix + name, payload)

    async def publish_loop(self):
        backoff = 1
        interval = self.cfg["diag.interval"] * 1000
        next_diag = time.ticks_add(time.ticks_ms(), 5000)
        next_ping = time.ticks_ms()
        wifi_wait = 5  # seconds an association may take before we ask again (doubling to 60)
        while True:
            if not self.wifi.connected():
                log("WiFi down: connecting (again in %d s if it does not come up)" % wifi_wait)
                self.wifi.connect()
                for _ in range(wifi_wait):
                    await asyncio.sleep(1)
                    if self.wifi.connected():
                        break
                wifi_wait = min(wifi_wait * 2, 60)
                continue
            wifi_wait = 5
            try:
                if not self.broker.connected:
                    self.connect()
                    backoff = 1
                self.publish_pending()
                now = time.ticks_ms()
                if time.ticks_diff(now, next_diag) >= 0:
                    self.broker.publish(self.topic + "/diag", self.diagnostics())
                    next_diag = time.ticks_add(now, interval)
                if self.cfg["mqtt.keepalive"] and time.ticks_diff(now, next_ping) >= 0:
                    self.broker.ping()
                    next_ping = time.ticks_add(now, self.cfg["mqtt.keepalive"] * 500)
            except BrokerError as e:
                log(str(e) + "; retrying in %d s" % backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)
                continue
            except MemoryError:
                # a fragmented heap: nothing is lost (what was not published is still
                # queued, discovery is sent again); count it, collect, try again
                self.failed("memory_errors", "out of memory while publishing")
                await asyncio.sleep(1)
                continue
            except Exception as e:  # a bug, or a broker that is not MQTT: reconnect
                self.broker.close()
                self.failed("errors", "publishing: %r" % e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)
                continue
            await asyncio.sleep_ms(100)

    async def run(self, shell=None):
        """Reads and publishes; with the station shell, until it asks for a reboot."""
        tasks = [asyncio.create_task(self.read_loop()), asyncio.create_task(self.publish_loop())]
        if shell is None:
            return await asyncio.gather(*tasks)  # they run until stopped
        action = await shell.run(serial=False)
        for task in tasks:
            task.cancel()
        return action
