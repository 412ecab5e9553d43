# The firmware's main loop: P1 port -> reader (framer, decryption, CRC, parse) ->
# replay check -> readings queue -> MQTT.  Two asyncio tasks: one reads the meter,
# one publishes.  Readings wait in a bounded queue while WiFi or the broker is down and
# go out in order, acknowledged (QoS 1), when it is back; overflow drops the oldest and
# counts it.  Failures are counted and published in <topic>/diag, never fatal.

import gc
import sys
import time

import asyncio

from smarty.errors import P1Error
from smarty.gcm import LUXEMBOURG_AUTH_KEY
from smarty.jsonout import dumps
from smarty.keys import parse_key
from smarty.reader import Reader

from . import config, hw, publish
from .broker import Broker, BrokerError
from .net import WiFi

_READ_IDLE_MS = 20
_AUTH_STREAK = 3  # this many wrong tags in a row, and no good frame: "wrong key?"
_READING_BYTES = 1800  # a state payload of a Smarty with gas, and its legacy payload


def log(message):
    print("smartyreader: " + message)


class App:
    def __init__(self, cfg, port, wifi, led=None, watchdog=None):
        # The frame buffer first, before the heap fragments.
        buffer = bytearray(cfg["buffer.frame_bytes"])
        auth = parse_key(cfg["meter.auth_key"], "auth key") if cfg["meter.auth_key"] else LUXEMBOURG_AUTH_KEY
        self.reader = Reader(parse_key(cfg["meter.key"]), auth, buffer=buffer)
        self.cfg, self.port, self.wifi = cfg, port, wifi
        self.led, self.watchdog = led, watchdog
        self.topic = cfg["mqtt.topic"]
        self.legacy_topic = (cfg["mqtt.legacy_topic"] or self.topic + "/legacy") if cfg["mqtt.legacy"] else None
        client_id = cfg["mqtt.client_id"] or "smartyreader-" + wifi.mac_suffix()
        self.broker = Broker(cfg, client_id, self.topic + "/status")
        self.queue = []  # (state payload, legacy payload or None), oldest first
        self.queue_max = cfg["buffer.readings"] or max(4, gc.mem_free() // 2 // _READING_BYTES)
        self.counters = {"replays": 0, "reconnects": 0, "dropped_readings": 0, "published": 0}
        self.last_counter = {}  # system title -> last frame counter accepted
        self.auth_streak = 0
        self.sensors = None  # for discovery, from the first telegram
        self.meter = None  # meter id (equipment id)
        self.discovery_sent = False
        self.latest = None  # [(field, payload)] of the last telegram, for per-field topics
        self.baselines = {}  # field -> (date, value at the first telegram of that date)
        self.started = time.ticks_ms()
        self.last_error = None
        self.ever_connected = False

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
        readings = list(telegram.readings())  # the telegram's bytes are reused next frame
        fields = {r[0]: r[1] for r in readings}
        computed = self.computed(fields)
        state = publish.state_payload(readings, computed)
        legacy = None
        if self.legacy_topic:
            raw = {code: values for code, values in telegram.lines()
                   if code in ("0-0:1.0.0", "1-0:1.8.0", "1-0:2.8.0")}
            legacy = publish.legacy_payload(raw.get("0-0:1.0.0", [""])[0], raw.get("1-0:1.8.0", [""])[0],
                                            raw.get("1-0:2.8.0", [""])[0])
        if len(self.queue) >= self.queue_max:
            self.queue.pop(0)
            self.counters["dropped_readings"] += 1
        self.queue.append((state, legacy))
        if self.sensors is None:
            self.sensors = publish.sensors(readings)
            self.meter = fields.get("equipment_id") or (telegram.system_title or b"").hex() or "meter"
        if self.cfg["mqtt.per_field"]:
            latest = [(r[0], publish.field_payload(r[1])) for r in readings]
            latest += [(name, publish.field_payload(value)) for name, value in computed.items()]
            self.latest = latest
        if self.led:
            self.led.set(True)

    def computed(self, fields):
        """Net power (import - export) and the energy since local midnight (since the
        first telegram of the meter's date, after a reboot)."""
        out = {"net_power": publish.difference(fields.get("power_import"), fields.get("power_export"))}
        date = (fields.get("timestamp") or "")[:10]
        for name in ("energy_import", "energy_export"):
            value = fields.get(name)
            base = self.baselines.get(name)
            if value is not None and (base is None or base[0] != date):
                base = self.baselines[name] = (date, value)
            out[name + "_today"] = publish.difference(value, base[1]) if base else None
        return out

    async def read_loop(self):
        framer = self.reader.framer
        self.port.request(True)
        while True:
            n = self.port.readinto(framer.space())
            if n:
                framer.received(n, time.ticks_ms())
                for item in self.reader.frames():
                    self.on_item(item)
                    item = None
            else:
                if self.led:
                    self.led.set(False)
                await asyncio.sleep_ms(_READ_IDLE_MS)
            if self.watchdog:
                self.watchdog.feed()

    # ---- publishing ----

    def diagnostics(self):
        counters = dict(self.reader.counters)
        counters.update(self.counters)
        framer = self.reader.framer
        counters.update({
            "uptime_s": time.ticks_diff(time.ticks_ms(), self.started) // 1000,
            "free_heap": gc.mem_free(),
            "backend": self.reader.backend,
            "noise_bytes": framer.noise_bytes,
            "timeouts": framer.timeouts,
            "overflows": framer.overflows,
            "buffered": len(self.queue),
            "buffer_size": self.queue_max,
            "last_error": self.last_error,
            "hint": "wrong key?" if self.auth_streak >= _AUTH_STREAK else None,
        })
        return dumps(counters)

    def connect(self):
        self.broker.connect()
        if self.ever_connected:
            self.counters["reconnects"] += 1
        self.ever_connected = True
        self.discovery_sent = False  # a restarted broker may have lost retained configs
        log("connected to the MQTT broker %s:%d" % (self.cfg["mqtt.host"], self.cfg["mqtt.port"]))
        if self.legacy_topic:
            self.broker.publish(self.legacy_topic, publish.legacy_notice("connect", "SmartyReader"))

    def publish_pending(self):
        broker, topic = self.broker, self.topic
        if self.sensors is not None and not self.discovery_sent and self.cfg["mqtt.discovery"]:
            node = "smarty_" + "".join(c if "a" <= c <= "z" or "0" <= c <= "9" else "_"
                                       for c in self.meter.lower())
            for config_topic, payload in publish.discovery(self.cfg["mqtt.discovery_prefix"], node, topic,
                                                           "Smarty " + self.meter, self.sensors):
                broker.publish(config_topic, payload, True)
            self.discovery_sent = True
        while self.queue:
            state, legacy = self.queue[0]
            broker.publish(topic + "/state", state, False, 1)
            if legacy:
                broker.publish(self.legacy_topic, legacy, False, 1)
            self.queue.pop(0)
            self.counters["published"] += 1
        latest, self.latest = self.latest, None
        for field, payload in latest or ():
            broker.publish(topic + "/" + field, payload)

    async def publish_loop(self):
        backoff = 1
        interval = self.cfg["diag.interval"] * 1000
        next_diag = time.ticks_add(time.ticks_ms(), 5000)
        next_ping = time.ticks_ms()
        while True:
            if not self.wifi.connected():
                self.wifi.connect()
                await asyncio.sleep(1)
                continue
            try:
                if not self.broker.connected:
                    self.connect()
                    backoff = 1
                self.publish_pending()
                now = time.ticks_ms()
                if time.ticks_diff(now, next_diag) >= 0:
                    self.broker.publish(self.topic + "/diag", self.diagnostics())
                    next_diag = time.ticks_add(now, interval)
                    gc.collect()  # a quiet moment
                if self.cfg["mqtt.keepalive"] and time.ticks_diff(now, next_ping) >= 0:
                    self.broker.ping()
                    next_ping = time.ticks_add(now, self.cfg["mqtt.keepalive"] * 500)
            except BrokerError as e:
                log(str(e) + "; retrying in %d s" % backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)
                continue
            await asyncio.sleep_ms(100)

    async def run(self):
        await asyncio.gather(self.read_loop(), self.publish_loop())


def main(config_path="config.json", board_path="board.json"):
    try:
        cfg = config.load(config_path, board_path)
    except config.ConfigError as e:
        # Not a crash loop: say what is wrong, and wait for the setup to fix it.
        for problem in e.problems:
            log("config: " + problem)
        log("not starting: fix config.json (setup mode)")
        return 2
    log("starting; board %s, topic %s" % (board_path, cfg["mqtt.topic"]))
    if cfg["uart.detach_repl"]:
        log("the REPL leaves UART0 in 3 s (Ctrl-C now to keep it)")
        time.sleep(3)
        hw.detach_repl()
    app = App(cfg, hw.P1Port(cfg), WiFi(cfg["wifi.ssid"], cfg["wifi.password"]), hw.StatusLed(cfg),
              hw.Watchdog())
    log("GCM backend: %s" % app.reader.backend)
    try:
        asyncio.run(app.run())
    except KeyboardInterrupt:
        log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
