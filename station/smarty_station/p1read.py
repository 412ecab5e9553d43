# `smarty-station read`: a Raspberry Pi with a USB P1 cable instead of the ESP board.
# The firmware's own code does the work: smarty.Reader (framer, decryption, CRC, parse)
# on the bytes pyserial reads (115200 8N1), smartyreader.publish for the payloads (state
# JSON, per-field values, Home Assistant discovery, legacy); paho-mqtt publishes them on
# the firmware's topics, with the status (retained, "offline" as last will) and diag.
# Several meters: one P1Publisher per meter, each in its own thread with its own serial
# port, Reader, replay state, counters and MQTT connection (its own last will), so a
# dead, unplugged or wrong-key meter shows in its own diag and never holds up the others.

import json
import logging
import threading
import time

import paho.mqtt.client as mqtt
import serial

from . import firmware_lib
from .collect import mqtt_client

log = logging.getLogger(__name__)
SLOT_BYTES = 4096  # a state JSON of a three-phase telegram with gas is about 1.3 KB
REOPEN_S = 5  # seconds between tries to open a serial port that failed or went away
AUTH_STREAK = 3  # this many wrong tags in a row, and no good frame: "wrong key?"


class SensorLines:
    """Collects the sensor lines Payloads.write() gives (for discovery)."""

    def __init__(self):
        self.lines = []

    def write(self, data):
        self.lines.extend(line for line in bytes(data).decode().splitlines() if line)


class _MeterLog(logging.LoggerAdapter):
    """Log lines of one of several meters begin with the meter's config name."""

    def process(self, msg, kwargs):
        label = self.extra["meter"]
        return (f"{label}: {msg}" if label else msg), kwargs


class P1Publisher:
    """One meter: its serial port read, its readings published under its topic."""

    def __init__(self, meter, read_config, mqtt_config, client_id=None, stopping=None):
        firmware_lib.use()
        from smarty.reader import Reader
        from smartyreader import discovery, publish

        self.publish, self.discovery = publish, discovery
        self.meter, self.config, self.mqtt_config = meter, read_config, mqtt_config
        options = {"auth_key": meter.auth_key} if meter.auth_key else {}
        self.reader = Reader(meter.key, **options) if meter.key else Reader()
        self.payloads = publish.Payloads(legacy=read_config.legacy)
        self.topic = meter.topic
        self.client_id = client_id or mqtt_config.client_id + "-read"
        self.log = _MeterLog(log, {"meter": meter.label if meter.label != "meter" else None})
        self.slot = bytearray(SLOT_BYTES)
        self.discovery_buf = bytearray(SLOT_BYTES)
        self.sensors = None  # SensorLines of the first telegram
        self.last_counter = {}  # system title -> the last frame counter accepted
        self.counters = {
            "replays": 0,
            "published": 0,
            "reconnects": 0,
            "errors": 0,
            "port_errors": 0,
        }
        self.last_error = None
        self.auth_streak = 0  # wrong tags since the last good frame
        self.port_open = False
        self.port_error = None  # why the port is not open (None while it is)
        self.started = time.monotonic()
        self.last_bytes = self.last_frame = None  # time.monotonic() of each, once seen
        self.stopping = stopping or threading.Event()
        self._discovery_sent = threading.Event()
        self._connected_once = False
        self.client = self._client()

    def _client(self):
        client = mqtt_client(self.mqtt_config, self.client_id, mqtt.MQTTv311)
        client.will_set(self.topic + "/status", "offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        return client

    def _on_connect(self, client, userdata, flags, reason, properties):
        if reason.is_failure:
            self.log.error("the MQTT broker refused the connection: %s", reason)
            return
        if self._connected_once:
            self.counters["reconnects"] += 1
        self._connected_once = True
        self.log.info("connected to %s:%d", self.mqtt_config.host, self.mqtt_config.port)
        client.publish(self.topic + "/status", "online", qos=1, retain=True)
        if self.config.legacy:
            client.publish(
                self.topic + "/legacy", self.publish.legacy_notice("connect", "station")
            )
        self._discovery_sent.clear()  # a restarted broker may have lost retained configs

    def stop(self):
        self.stopping.set()

    def run(self):
        """Reads and publishes until stop(); a port that cannot be opened or goes away is
        reported (log, diag) and tried again every REOPEN_S seconds."""
        c, m = self.mqtt_config, self.meter
        self.client.connect_async(c.host, c.port, c.keepalive)
        self.client.loop_start()
        port, reopen_at = None, 0.0
        next_diag = time.monotonic() + 5
        try:
            while not self.stopping.is_set():
                data = b""
                if port is None and time.monotonic() >= reopen_at:
                    port = self._open()
                    reopen_at = time.monotonic() + REOPEN_S
                if port is not None:
                    try:
                        data = port.read(port.in_waiting or 1)
                    except (serial.SerialException, OSError) as e:
                        self._port_failed(f"the P1 port {m.device} went away: {e}")
                        port.close()
                        port, reopen_at = None, time.monotonic() + REOPEN_S
                else:
                    self.stopping.wait(0.05)
                now = time.monotonic()
                if data:
                    self.last_bytes = now
                for item in self.reader.feed(data, int(now * 1000)):
                    self.handle(item)
                if now >= next_diag:
                    self.client.publish(self.topic + "/diag", json.dumps(self.diagnostics()))
                    next_diag = now + self.config.diag_interval
        finally:
            if port is not None:
                port.close()
            info = self.client.publish(self.topic + "/status", "offline", qos=1, retain=True)
            info.wait_for_publish(5)
            self.client.disconnect()
            self.client.loop_stop()

    def _open(self):
        """The meter's serial port, or None (reported) if it cannot be opened now."""
        m = self.meter
        try:
            port = serial.Serial(
                m.device, m.baudrate, bytesize=8, parity="N", stopbits=1, timeout=0.05
            )
        except (serial.SerialException, OSError) as e:
            self._port_failed(f"cannot open the P1 port {m.device}: {e}")
            return None
        self.port_open, self.port_error = True, None
        self.log.info("reading %s at %d baud, publishing on %s", m.device, m.baudrate, self.topic)
        return port

    def _port_failed(self, message):
        self.counters["port_errors"] += 1
        self.port_open = False
        if message != self.port_error:  # once, not every REOPEN_S
            self.log.error("%s; trying again every %d s", message, REOPEN_S)
        self.last_error = self.port_error = message

    def handle(self, item):
        from smarty.errors import P1Error

        if isinstance(item, P1Error):
            self.last_error = str(item)
            self.auth_streak += item.kind == "auth"
            self.log.warning("%s", item)
            return
        self.auth_streak = 0
        self.last_frame = time.monotonic()
        title = item.system_title
        if title is not None:
            last = self.last_counter.get(title)
            if last is not None and item.frame_counter <= last:
                self.counters["replays"] += 1
                self.log.warning("a replayed frame (counter %d), dropped", item.frame_counter)
                return
            self.last_counter[title] = item.frame_counter
        try:
            self.send(item)
        except (ValueError, TypeError) as e:  # a telegram the payload rules cannot write
            self.counters["errors"] += 1
            self.last_error = f"payload: {e}"
            self.log.error("cannot publish a telegram: %s", e)

    def send(self, telegram):
        sensors = SensorLines() if self.sensors is None else None
        state, legacy = self.payloads.write(telegram, self.slot, sensors)
        if sensors is not None:
            self.sensors = sensors
        slot, topic = self.slot, self.topic
        self.client.publish(topic + "/state", bytes(slot[:state]), qos=1)
        if legacy:
            self.client.publish(topic + "/legacy", bytes(slot[state : state + legacy]), qos=1)
        self.counters["published"] += 1
        if self.config.per_field:
            for name, name_end, value, value_end in self.publish.json_members(slot, 0, state):
                a, b = self.publish.field_payload(slot, value, value_end)
                self.client.publish(topic + "/" + slot[name:name_end].decode(), bytes(slot[a:b]))
        if self.config.discovery and not self._discovery_sent.is_set():
            self.send_discovery()

    def send_discovery(self):
        meter = self.payloads.meter
        node = self.discovery.node_id(meter)
        name = self.meter.name or "Smarty " + meter
        buf = self.discovery_buf
        for config_topic, length in self.discovery.discovery(
            self.config.discovery_prefix, node, self.topic, name, self.sensors.lines, buf
        ):
            self.client.publish(config_topic, bytes(buf[:length]), qos=1, retain=True)
        self._discovery_sent.set()

    def diagnostics(self):
        now = time.monotonic()
        return {
            "uptime_s": int(now - self.started),
            "device": self.meter.device,
            "port_open": self.port_open,
            "port_error": self.port_error,
            "backend": self.reader.backend,
            **self.reader.counters,
            **self.counters,
            "last_bytes_s": None if self.last_bytes is None else int(now - self.last_bytes),
            "last_frame_s": None if self.last_frame is None else int(now - self.last_frame),
            "last_error": self.last_error,
            "hint": "wrong key?" if self.auth_streak >= AUTH_STREAK else None,
        }


def read_all(read_config, mqtt_config, stopping):
    """Every meter of read_config, each in its own thread, until `stopping` is set."""
    meters = read_config.meters
    publishers = [
        P1Publisher(
            meter,
            read_config,
            mqtt_config,
            # one connection per meter (each its own last will): distinct client ids
            client_id=f"{mqtt_config.client_id}-read" + (f"-{n}" if len(meters) > 1 else ""),
            stopping=stopping,
        )
        for n, meter in enumerate(meters, 1)
    ]
    threads = [threading.Thread(target=p.run, name=f"read-{p.meter.label}") for p in publishers]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():  # a timeout, so that signals are handled meanwhile
            thread.join(0.5)
    return publishers
