# `smarty-station read`: a Raspberry Pi with a USB P1 cable instead of the ESP board.
# The firmware's own code does the work: smarty.Reader (framer, decryption, CRC, parse)
# on the bytes pyserial reads (115200 8N1), smartyreader.publish for the payloads (state
# JSON, per-field values, Home Assistant discovery, legacy); paho-mqtt publishes them on
# the firmware's topics, with the status (retained, "offline" as last will) and diag.

import json
import logging
import threading
import time

import paho.mqtt.client as mqtt
import serial

from . import firmware_lib

log = logging.getLogger(__name__)
SLOT_BYTES = 4096  # a state JSON of a three-phase telegram with gas is about 1.3 KB


class SensorLines:
    """Collects the sensor lines Payloads.write() gives (for discovery)."""

    def __init__(self):
        self.lines = []

    def write(self, data):
        self.lines.extend(line for line in bytes(data).decode().splitlines() if line)


class P1Publisher:
    def __init__(self, read_config, mqtt_config):
        firmware_lib.use()
        from smarty.reader import Reader
        from smartyreader import publish

        self.publish = publish
        self.config, self.mqtt_config = read_config, mqtt_config
        options = {"auth_key": read_config.auth_key} if read_config.auth_key else {}
        self.reader = Reader(read_config.key, **options) if read_config.key else Reader()
        self.payloads = publish.Payloads(legacy=read_config.legacy)
        self.topic = mqtt_config.topic
        self.slot = bytearray(SLOT_BYTES)
        self.discovery_buf = bytearray(SLOT_BYTES)
        self.sensors = None  # SensorLines of the first telegram
        self.last_counter = {}  # system title -> the last frame counter accepted
        self.counters = {"replays": 0, "published": 0, "reconnects": 0, "errors": 0}
        self.last_error = None
        self.started = time.monotonic()
        self.stopping = threading.Event()
        self._discovery_sent = threading.Event()
        self._connected_once = False
        self.client = self._client()

    def _client(self):
        c = self.mqtt_config
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=c.client_id + "-read",
            protocol=mqtt.MQTTv311,
        )
        if c.user:
            client.username_pw_set(c.user, c.password)
        client.will_set(self.topic + "/status", "offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.reconnect_delay_set(1, 60)
        return client

    def _on_connect(self, client, userdata, flags, reason, properties):
        if reason.is_failure:
            log.error("the MQTT broker refused the connection: %s", reason)
            return
        if self._connected_once:
            self.counters["reconnects"] += 1
        self._connected_once = True
        log.info("connected to %s:%d", self.mqtt_config.host, self.mqtt_config.port)
        client.publish(self.topic + "/status", "online", qos=1, retain=True)
        if self.config.legacy:
            client.publish(
                self.topic + "/legacy", self.publish.legacy_notice("connect", "station")
            )
        self._discovery_sent.clear()  # a restarted broker may have lost retained configs

    def stop(self):
        self.stopping.set()

    def run(self):
        c = self.mqtt_config
        self.client.connect_async(c.host, c.port, c.keepalive)
        self.client.loop_start()
        try:
            port = serial.Serial(
                self.config.device,
                self.config.baudrate,
                bytesize=8,
                parity="N",
                stopbits=1,
                timeout=0.05,
            )
        except serial.SerialException as e:
            self.client.loop_stop()
            raise RuntimeError(f"cannot open the P1 port {self.config.device}: {e}") from None
        log.info("reading %s at %d baud", self.config.device, self.config.baudrate)
        next_diag = time.monotonic() + 5
        try:
            while not self.stopping.is_set():
                data = port.read(port.in_waiting or 1)
                now_ms = int(time.monotonic() * 1000)
                for item in self.reader.feed(data, now_ms):
                    self.handle(item)
                if time.monotonic() >= next_diag:
                    self.client.publish(self.topic + "/diag", json.dumps(self.diagnostics()))
                    next_diag = time.monotonic() + self.config.diag_interval
        finally:
            port.close()
            info = self.client.publish(self.topic + "/status", "offline", qos=1, retain=True)
            info.wait_for_publish(5)
            self.client.disconnect()
            self.client.loop_stop()

    def handle(self, item):
        from smarty.errors import P1Error

        if isinstance(item, P1Error):
            self.last_error = str(item)
            log.warning("%s", item)
            return
        title = item.system_title
        if title is not None:
            last = self.last_counter.get(title)
            if last is not None and item.frame_counter <= last:
                self.counters["replays"] += 1
                log.warning("a replayed frame (counter %d), dropped", item.frame_counter)
                return
            self.last_counter[title] = item.frame_counter
        try:
            self.send(item)
        except (ValueError, TypeError) as e:  # a telegram the payload rules cannot write
            self.counters["errors"] += 1
            self.last_error = f"payload: {e}"
            log.error("cannot publish a telegram: %s", e)

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
        node = self.publish.node_id(meter)
        name = self.config.name or "Smarty " + meter
        buf = self.discovery_buf
        for config_topic, length in self.publish.discovery(
            self.config.discovery_prefix, node, self.topic, name, self.sensors.lines, buf
        ):
            self.client.publish(config_topic, bytes(buf[:length]), qos=1, retain=True)
        self._discovery_sent.set()

    def diagnostics(self):
        return {
            "uptime_s": int(time.monotonic() - self.started),
            "backend": self.reader.backend,
            **self.reader.counters,
            **self.counters,
            "last_error": self.last_error,
        }
