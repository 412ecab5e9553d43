# The publishing side: queue -> MQTT broker.  One asyncio task: joins the WiFi, connects
# (backing off to 60 s), sends the Home Assistant discovery configs once per connection,
# the queued readings in order and acknowledged (QoS 1), the newest readings' values on
# per-field topics, and the diagnostics; each meter's under its own topics.
# A failure is counted, never fatal.

import gc
import time

import asyncio

from smarty import const

from . import forget, log, publish, uptime_s
from .broker import BrokerError


_PAUSE_MS = const(100)  # between rounds, when nothing waits
_WIFI_WAIT_S = const(5)  # an association may take this long before we ask again (doubling)
_MAX_BACKOFF_S = const(60)
# how long a connect waits for the moment after the meters' frames (between_frames)
_BETWEEN_FRAMES_MS = const(12000)


class Publisher:
    """`outlets`: where each meter's readings go, in the queue's meter order; each has
    topic, legacy_topic (None: no legacy payload), name (of its Home Assistant device;
    None: Smarty <meter id>), sensors_path (the first telegram's sensors, for discovery),
    payloads (its .meter: the meter's id once a telegram was read) and discovery_sent
    (app.Meter), and its receiver.  `diagnostics(buf, outlet)`: the length of a meter's
    diag JSON in buf."""

    def __init__(
        self,
        broker,
        queue,
        wifi,
        outlets,
        status_topic,
        per_field=False,
        discovery_prefix=None,
        diag_interval_s=60,
        keepalive_s=60,
        diagnostics=None,
    ):
        self.broker, self.queue, self.wifi = broker, queue, wifi
        self.outlets = outlets
        self.diagnostics = diagnostics
        self.status_topic = status_topic  # the reader's availability (its last will)
        self.per_field = per_field
        self.discovery_prefix = discovery_prefix  # None: no discovery
        self.diag_interval_ms = diag_interval_s * 1000
        self.keepalive_ms = keepalive_s * 1000
        self.counters = {"reconnects": 0, "published": 0, "memory_errors": 0, "errors": 0}
        self.last_error = None
        self._connected_once = False

    def connect(self):
        self.broker.connect()
        self.queue.online = True
        if self._connected_once:
            self.counters["reconnects"] += 1
        self._connected_once = True
        log("connected to the MQTT broker %s:%d" % (self.broker.host, self.broker.port))
        for outlet in self.outlets:
            outlet.discovery_sent = False  # a restarted broker may have lost retained configs
            if outlet.legacy_topic:
                self.broker.publish(
                    outlet.legacy_topic, publish.legacy_notice("connect", "SmartyReader")
                )

    def send_discovery(self, outlet):
        meter = outlet.payloads.meter
        if outlet.discovery_sent or not self.discovery_prefix or not meter:
            return
        try:
            sensors = open(outlet.sensors_path)
        except OSError:
            return  # no telegram read yet
        gc.collect()  # the heap in as few pieces as can be, before the code comes in
        from . import discovery  # once per connection: dropped after, its code is heap

        try:
            node = discovery.node_id(meter)
            # written into the queue's RAM slot: free, as the queue is empty
            buf = self.queue.slot()
            with sensors:
                for config_topic, length in discovery.discovery(
                    self.discovery_prefix,
                    node,
                    outlet.topic,
                    outlet.name or "Smarty " + meter,
                    sensors,
                    buf,
                    self.status_topic,
                ):
                    self.broker.publish(config_topic, buf[:length], True)
                    # ~50 configs once per connection: free each one's garbage before the
                    # next, so that no allocation meets a heap fragmented by all of them
                    gc.collect()
        finally:
            discovery = None
            forget("smartyreader.discovery")
        outlet.discovery_sent = True

    def send_oldest(self):
        """The oldest waiting reading, if any: one per round, the meters read (and the
        ESP32's watchdog fed) between any two, as each may wait for its PUBACKs; its
        per-field topics too if it was waiting in RAM (the newest, not a backlog from
        flash)."""
        queue = self.queue
        reading = queue.oldest()
        if reading is None:
            return
        state, legacy = reading
        fresh = queue.used > 0 or queue.waiting == 1  # not a backlog reading
        if queue.meter >= len(self.outlets):  # queued before a meter was removed
            log("a queued reading of meters.%d, no longer configured: dropped" % (queue.meter + 1))
            queue.pop()
            queue.dropped += 1
            return
        outlet = self.outlets[queue.meter]
        self.broker.publish(outlet.topic + "/state", state, False, 1)
        if legacy and outlet.legacy_topic:
            self.broker.publish(outlet.legacy_topic, legacy, False, 1)
        if self.per_field and fresh:  # its bytes stay valid until the next slot()
            self.send_fields(outlet.topic)
        queue.pop()
        self.counters["published"] += 1

    def send_fields(self, topic):
        """Each member of the oldest reading's state on <topic>/<field> (not retained)."""
        buf, (start, end) = self.queue.buf, self.queue.state_span
        view = memoryview(buf)
        prefix = topic.encode() + b"/"
        for name, name_end, value, value_end in publish.json_members(buf, start, end):
            a, b = publish.field_payload(buf, value, value_end)
            self.broker.publish(prefix + view[name:name_end], view[a:b])

    def send_diagnostics(self):
        for outlet in self.outlets:
            buf = self.queue.slot()
            length = self.diagnostics(buf, outlet)
            self.broker.publish(outlet.topic + "/diag", buf[:length])

    async def run(self):
        backoff = 1
        wifi_wait = _WIFI_WAIT_S
        next_diag = time.ticks_add(time.ticks_ms(), 5000)
        next_ping = time.ticks_ms()
        while True:
            try:
                if not self.wifi.connected():
                    wifi_wait = await self._join_wifi(wifi_wait)
                    continue
                wifi_wait = _WIFI_WAIT_S
                if not self.broker.connected:
                    # each step that may block (lwIP's DNS: 10 s, unbounded by any port;
                    # TCP and CONNACK: 10 s each) starts just after the meters' frames
                    if not self.broker.looked_up:
                        await self._wait_between_frames()
                        self.broker.look_up()
                    await self._wait_between_frames()
                    self.connect()
                    backoff = 1
                    await asyncio.sleep_ms(0)  # the reader's turn after the connect's waits
                self.send_oldest()
                if self.queue.waiting:
                    await asyncio.sleep_ms(0)  # the reader's turn, then the next reading
                    continue
                # the queue is empty: its RAM slot is free for discovery and diagnostics
                for outlet in self.outlets:
                    self.send_discovery(outlet)
                now = time.ticks_ms()
                if time.ticks_diff(now, next_diag) >= 0:
                    self.send_diagnostics()
                    next_diag = time.ticks_add(now, self.diag_interval_ms)
                if self.keepalive_ms and time.ticks_diff(now, next_ping) >= 0:
                    self.broker.ping()
                    next_ping = time.ticks_add(now, self.keepalive_ms // 2)
            except BrokerError as e:
                self.queue.online = False
                await self._retry(str(e), backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
                continue
            except MemoryError:
                # nothing is lost: what was not published is still queued, discovery is
                # sent again, the WiFi checked again; count it, collect, try again
                self.failed("memory_errors", "out of memory while publishing")
                await asyncio.sleep(1)
                continue
            except Exception as e:  # a bug, or a peer that is not MQTT: reconnect
                self.broker.close()
                self.queue.online = False
                self.failed("errors", "publishing: %r" % e)
                await self._retry("publishing failed", backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
                continue
            await asyncio.sleep_ms(_PAUSE_MS)

    async def _join_wifi(self, wait_s):
        """Asks the WiFi to connect and waits for it, wait_s at most; the next wait
        (twice as long, up to _MAX_BACKOFF_S)."""
        self.queue.online = False
        log("WiFi down: connecting (again in %d s if it does not come up)" % wait_s)
        problem = self.wifi.connect()
        if problem:
            self.last_error = problem
            log(problem)
        for _ in range(wait_s):
            await asyncio.sleep(1)
            if self.wifi.connected():
                break
        return min(wait_s * 2, _MAX_BACKOFF_S)

    async def _wait_between_frames(self):
        """Waits for the moment after every meter's frame (Receiver.between_frames),
        _BETWEEN_FRAMES_MS at most (a line that carries only noise has no such moment)."""
        start = now = time.ticks_ms()
        while time.ticks_diff(now, start) < _BETWEEN_FRAMES_MS:
            up = uptime_s()
            if all(outlet.receiver.between_frames(up) for outlet in self.outlets):
                return
            await asyncio.sleep_ms(_PAUSE_MS)
            now = time.ticks_ms()

    async def _retry(self, message, backoff):
        log("%s; retrying in %d s" % (message, backoff))
        await asyncio.sleep(backoff)

    def failed(self, counter, message):
        self.counters[counter] += 1
        self.last_error = message
        gc.collect()
        log(message)
