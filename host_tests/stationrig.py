"""What the station's tests run against (host, CPython): telegrams made by the meter
simulator's own code, turned into the firmware's payloads by the firmware's own code
(smarty.Reader, smartyreader.publish.Payloads) on CPython, a station process
(`smarty-station run`) with its config, and a QoS 1 publisher."""

import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "firmware" / "lib"))
import p1harness as h  # noqa: E402
from p1meter import smarty_telegram  # noqa: E402
from p1sim import Meter  # noqa: E402
from smarty.reader import Reader  # noqa: E402
from smartyreader.publish import Payloads  # noqa: E402

STATION = Path(sys.executable).parent / "smarty-station"
TOPIC = "smartyreader"
METER = "SAG1030700026568"  # the equipment id of the simulator's telegram


def template(start, power_import="01.234", gas=True):
    """The simulator's telegram, its clock set to `start` (local, winter time) and an
    import power so that the import register moves too."""
    text = smarty_telegram(None, ("gas",) if gas else ())
    text = text.replace(b"230315155342W", start.strftime("%y%m%d%H%M%S").encode() + b"W")
    return text.replace(b"1-0:1.7.0(00.000*kW)", b"1-0:1.7.0(" + power_import.encode() + b"*kW)")


def states(start, count, step=10):
    """[(state JSON bytes, the simulator's values)]: `count` telegrams `step` s apart from
    `start`, as the firmware publishes them."""
    meter = Meter(template(start))
    payloads = Payloads(legacy=True)
    reader = Reader()
    slot = bytearray(4096)
    out = []
    for n in range(count):
        telegram, values = meter.telegram(n * step)
        length, legacy = payloads.write(reader.decode(telegram), slot)
        out.append((bytes(slot[:length]), values, bytes(slot[length : length + legacy])))
    return out


class Publisher:
    """A paho client publishing QoS 1 (as the firmware does)."""

    def __init__(self, port):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-publisher")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, topic, payload):
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(30)
        assert info.is_published(), f"{topic} not acknowledged"

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()


def write_config(directory, broker_port, web_port=None, mail=None, refresh=1, **mqtt_extra):
    """A station config in `directory` (relative paths, as a user writes them)."""
    lines = [
        "[mqtt]",
        'host = "127.0.0.1"',
        f"port = {broker_port}",
        f'topic = "{TOPIC}"',
        'client_id = "station-under-test"',
        *(f"{k} = {json.dumps(v)}" for k, v in mqtt_extra.items()),
        "[store]",
        'path = "station.sqlite"',
        'day_files = "data"',
        'archive = "data_archive"',
    ]
    if web_port:
        lines += ["[web]", 'host = "127.0.0.1"', f"port = {web_port}", f"refresh = {refresh}"]
    if mail:
        lines += ["[mail]", *(f"{k} = {json.dumps(v)}" for k, v in mail.items())]
    path = Path(directory) / "station.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Station(h.Process):
    """`smarty-station run` in a process of its own."""

    def __init__(self, config, command="run"):
        self.config = Path(config)
        super().__init__(
            [str(STATION), command, "--config", str(config), "-v"],
            self.config.parent / f"station-{time.monotonic_ns()}.log",
        )

    def wait_connected(self, timeout=60):
        h.wait_for(lambda: "connected to" in self.text() or not self.alive(), timeout, "connect")
        assert self.alive(), self.text()


def rows(directory, sql="SELECT * FROM readings ORDER BY ts"):
    path = Path(directory) / "station.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(path, timeout=30) as db:
        try:
            return db.execute(sql).fetchall()
        except sqlite3.OperationalError:  # the schema is not there yet
            return []


def http(url, timeout=30):
    """(status, content type, body bytes) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def csv_values(text):
    """{timestamp: (energy_import, energy_export, power_import, power_export, gas)}."""
    lines = text.strip().split("\n")
    assert lines[0].startswith("timestamp,energy_import_kwh")
    return {line.split(",")[0]: tuple(line.split(",")[1:]) for line in lines[1:]}


def yesterday_noon():
    return datetime.combine(
        datetime.now().date() - timedelta(days=1), datetime.min.time()
    ).replace(hour=12)


def wait_for(predicate, timeout, what, process=None):
    try:
        return h.wait_for(predicate, timeout, what)
    except TimeoutError:
        log = process.text()[-3000:] if process else ""
        raise AssertionError(f"timed out waiting for {what}\nlog:\n{log}") from None


def run_cli(*args, timeout=120):
    return subprocess.run(
        [str(STATION), *map(str, args)], capture_output=True, text=True, timeout=timeout
    )
