# Collecting: a paho-mqtt subscriber (persistent session: clean start off, QoS 1) to
# <topic>/state and, if asked, <topic>/legacy, of every meter: the reader's one meter on
# <topic>, several on <topic>/<n> (or the topics of the config's [[meters]]).  Each
# message is stored before paho acknowledges it (manual acks), so a reading published
# while the station is down, or being delivered as it stops, arrives later and is stored
# once.  A reading that cannot be
# stored (a full disk) is not acknowledged: the broker delivers it again after a
# reconnect.  Malformed payloads are logged and counted, never fatal.

import logging
import threading

import paho.mqtt.client as mqtt

from . import readings
from .dayfiles import DayFiles
from .store import Store

log = logging.getLogger(__name__)


def mqtt_client(config, client_id, protocol, **options):
    """A paho-mqtt client (callback API 2) that logs in as [mqtt] says and reconnects
    after 1 s, doubling up to 60 s."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **options
    )
    if config.user:
        client.username_pw_set(config.user, config.password)
    client.reconnect_delay_set(1, 60)
    return client


def meter_topics(topic, extra=()):
    """The meter topics to subscribe under: `topic` and `topic`/+ (one reader's meters,
    numbered), and those of `extra` these do not cover."""
    prefix = topic + "/"

    def covered(t):
        return t == topic or (t.startswith(prefix) and "/" not in t[len(prefix) :])

    return [topic, prefix + "+"] + [t for t in dict.fromkeys(extra) if not covered(t)]


class Collector:
    def __init__(self, mqtt_config, store_config, extra_topics=()):
        self.config = mqtt_config
        self.store_config = store_config
        self.store = None  # opened in paho's thread, which alone writes
        self.day_files = None
        self.topics = meter_topics(mqtt_config.topic, extra_topics)
        self.connected = threading.Event()
        self.errors = 0
        self.client = self._client()

    def _client(self):
        # manual_ack: a reading is acknowledged once it is stored
        client = mqtt_client(self.config, self.config.client_id, mqtt.MQTTv5, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def start(self):
        c = self.config
        properties = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 7 * 86400  # the broker keeps our queue a week
        self.client.connect_async(
            c.host, c.port, c.keepalive, clean_start=False, properties=properties
        )
        self.client.loop_start()

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()
        if self.store:
            self.store.close()

    def _on_connect(self, client, userdata, flags, reason, properties):
        if reason.is_failure:
            log.error("the MQTT broker refused the connection: %s", reason)
            return
        log.info(
            "connected to %s:%d (session %s)",
            self.config.host,
            self.config.port,
            "resumed" if flags.session_present else "new",
        )
        kinds = ("/state", "/legacy") if self.config.legacy else ("/state",)
        client.subscribe([(topic + kind, 1) for topic in self.topics for kind in kinds])
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason, properties):
        self.connected.clear()
        if reason.is_failure:
            log.warning("disconnected from the MQTT broker: %s; reconnecting", reason)

    def _open(self):
        if self.store is None:
            self.store = Store(self.store_config.path)
            if self.store_config.day_files:
                self.day_files = DayFiles(self.store_config.day_files, self.store_config.archive)

    def _on_message(self, client, userdata, message):
        try:
            self._open()
            self.receive(message)
        except Exception:  # the disk, the database: not acknowledged, so not lost
            log.exception("cannot store a reading (it stays with the broker)")
            self.errors += 1
            return
        client.ack(message.mid, message.qos)

    def receive(self, message):
        try:
            if message.topic.endswith("/state"):
                reading = readings.from_state(message.payload)
            else:
                reading = readings.from_legacy(message.payload, self.legacy_meter(message.topic))
                if reading is None:  # a notice: connected, error
                    return
        except readings.PayloadError as e:
            self.store.count("malformed")
            log.warning("malformed payload on %s: %s", message.topic, e)
            return
        self.ingest(reading)

    def legacy_meter(self, topic):
        """The meter id of a legacy payload (it has none): mqtt.legacy_meter for
        <topic>/legacy, "<legacy_meter>/2" for <topic>/2/legacy, and so on."""
        meter = topic.removesuffix("/legacy")
        if meter == self.config.topic:
            return self.config.legacy_meter
        return self.config.legacy_meter + "/" + meter.removeprefix(self.config.topic + "/")

    def ingest(self, reading):
        """Stores a reading (and writes its day-file line if it is new)."""
        if not self.store.add(reading):
            self.store.count("duplicates")
            return
        if self.day_files and reading.energy_import is not None:
            base, _ = self.store.baseline(reading.meter, reading.day)
            today = reading.energy_import - base if base is not None else 0
            try:
                self.day_files.append(reading, today)
            except OSError as e:
                self.store.count("day_file_errors")
                log.error("cannot write the day file: %s", e)
