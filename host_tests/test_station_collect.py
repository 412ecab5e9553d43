"""The station end to end on loopback, all real: Mosquitto, `smarty-station run` in its
own process, SQLite, day files, the CSV over HTTP; the readings published by a QoS 1
client with the firmware's payload code, by `smarty-station read` from the simulated
meter on a pty, and by the firmware itself on the 32-bit MicroPython port."""

import json
import signal
import threading
from datetime import datetime
from decimal import Decimal

import pytest
import stationrig as s
from stationrig import METER, TOPIC, h

KEY = "000102030405060708090a0b0c0d0e0f"


@pytest.fixture
def rig(tmp_path):
    rig = h.Rig(tmp_path, KEY, topics=(TOPIC + "/#", "homeassistant/#"))
    yield rig
    rig.stop()


def start_station(rig, broker, web=True, **mqtt):
    web_port = h.free_port() if web else None
    config = s.write_config(rig.dir, broker.port, web_port, **mqtt)
    station = rig.add(s.Station(config))
    station.wait_connected()
    station.web = f"http://127.0.0.1:{web_port}"
    return station


def web_base(station):
    return station.web


def test_readings_stored_once_exactly_malformed_counted(rig):
    broker = rig.broker()
    station = start_station(rig, broker)
    publisher = s.Publisher(broker.port)
    sent = s.states(datetime(2026, 12, 1, 12, 0, 0), 20)
    for payload, _, _ in sent:
        publisher.send(TOPIC + "/state", payload)
    publisher.send(TOPIC + "/state", b"{not json")
    publisher.send(TOPIC + "/state", b'{"equipment_id": "X"}')
    for payload, _, _ in sent[:5]:  # delivered twice: a replay after an outage
        publisher.send(TOPIC + "/state", payload)
    publisher.send(TOPIC + "/state", b"")
    publisher.stop()
    counted = "SELECT name, value FROM counters ORDER BY name"
    s.wait_for(
        lambda: (
            dict(s.rows(rig.dir, counted)).get("malformed") == 3
            and dict(s.rows(rig.dir, counted)).get("duplicates") == 5
        ),
        60,
        "the malformed and duplicate payloads counted",
        station,
    )
    assert station.alive()
    assert len(s.rows(rig.dir)) == 20
    assert "malformed payload on smartyreader/state: not JSON" in station.text()
    status, kind, body = s.http(web_base(station) + "/day/2026-12-01.csv")
    assert (status, kind) == (200, "text/csv; charset=utf-8")
    values = s.csv_values(body.decode())
    assert len(values) == 20
    for payload, meter_values, _ in sent:
        stamp = json.loads(payload)["timestamp"]
        assert values[stamp][0] == str(Decimal(meter_values["1-0:1.8.0"]))
        assert values[stamp][1] == str(Decimal(meter_values["1-0:2.8.0"]))
        assert values[stamp][4] == "1234.567"  # gas
    # the seed's day file: one line per reading
    lines = (rig.dir / "data" / "2026_12_01.min").read_text().splitlines()
    assert len(lines) == 20 and lines[0] == "01.12.26 12:00:00 17.901 0.000 1234"
    assert s.http(web_base(station) + "/day/2026-13-01")[0] == 404
    status, _, body = s.http(web_base(station) + "/day/2026-02-30.png")
    assert status == 404 and b"is not a date" in body
    assert s.http(web_base(station) + "/month/2026-1")[0] == 404


def test_station_killed_and_restarted_loses_and_doubles_nothing(rig):
    broker = rig.broker()
    station = start_station(rig, broker, web=False)
    sent = s.states(datetime(2026, 12, 1, 8, 0, 0), 150)
    done = threading.Event()

    def publish():
        publisher = s.Publisher(broker.port)
        for payload, _, _ in sent:
            publisher.send(TOPIC + "/state", payload)
            if done.wait(0.02):
                break
        publisher.stop()

    flow = threading.Thread(target=publish)
    flow.start()
    try:
        s.wait_for(lambda: len(s.rows(rig.dir)) >= 20, 60, "20 readings stored", station)
        station.stop(signal.SIGKILL)  # no goodbye: the broker keeps the session
        s.wait_for(lambda: len(s.rows(rig.dir)) < 150 and not station.alive(), 10, "the kill")
        stored_while_alive = len(s.rows(rig.dir))
        station = rig.add(s.Station(station.config))
        flow.join(120)
        s.wait_for(lambda: len(s.rows(rig.dir)) == 150, 120, "all 150 readings", station)
    finally:
        done.set()
        flow.join(30)
    assert stored_while_alive < 150
    stamps = [row[1] for row in s.rows(rig.dir)]
    assert len(set(stamps)) == 150 and len(stamps) == 150
    assert s.rows(rig.dir, "SELECT sum(readings) FROM days") == [(150,)]
    lines = (rig.dir / "data" / "2026_12_01.min").read_text().splitlines()
    assert len(set(lines)) == len(lines) >= 149  # a kill between store and file: one line


def test_midnight_rotates_day_files_and_restarts_energy_today(rig):
    broker = rig.broker()
    station = start_station(rig, broker)
    publisher = s.Publisher(broker.port)
    sent = s.states(datetime(2026, 12, 1, 23, 58, 0), 24)  # 23:58:00 .. 00:01:50
    for payload, _, _ in sent:
        publisher.send(TOPIC + "/state", payload)
    publisher.stop()
    s.wait_for(lambda: len(s.rows(rig.dir)) == 24, 60, "24 readings", station)
    data, archive = rig.dir / "data", rig.dir / "data_archive"
    s.wait_for(lambda: (data / "2026_12_02.min").exists(), 30, "the new day file", station)
    assert [p.name for p in data.iterdir()] == ["2026_12_02.min"]
    yesterday = (archive / "2026_12_01.min").read_text().splitlines()
    today = (data / "2026_12_02.min").read_text().splitlines()
    assert (len(yesterday), len(today)) == (12, 12)
    # energy since midnight: from the day's first reading, then from the last before it
    registers = [Decimal(v["1-0:1.8.0"]) for _, v, _ in sent]
    assert Decimal(yesterday[-1].split()[3]) == registers[11] - registers[0]
    assert today[0].split()[:3] == ["02.12.26", "00:00:00", str(registers[12])]
    assert Decimal(today[0].split()[3]) == registers[12] - registers[11]
    assert Decimal(today[-1].split()[3]) == registers[23] - registers[11]
    latest = json.loads(s.http(web_base(station) + "/latest.json")[2])
    assert latest["day"] == "2026-12-02"
    assert Decimal(latest["energy_import_today"]) == registers[23] - registers[11]


def test_legacy_payloads_collected_when_asked(rig):
    broker = rig.broker()
    station = start_station(rig, broker, legacy=True, legacy_meter="basement")
    publisher = s.Publisher(broker.port)
    sent = s.states(datetime(2026, 12, 1, 12, 0, 0), 5)
    publisher.send(TOPIC + "/legacy", b'{"dt": "connected: SmartyReader"}')
    for _, _, legacy in sent:
        publisher.send(TOPIC + "/legacy", legacy)
    publisher.stop()
    s.wait_for(lambda: len(s.rows(rig.dir)) == 5, 60, "5 legacy readings", station)
    values = s.csv_values(
        s.http(web_base(station) + "/day/2026-12-01.csv?meter=basement")[2].decode()
    )
    for _, meter_values, _ in sent:
        assert str(Decimal(meter_values["1-0:2.8.0"])) in {row[1] for row in values.values()}
    assert s.rows(rig.dir, "SELECT name FROM meters") == [("basement",)]
    assert "malformed" not in station.text()


def test_read_from_a_p1_cable_publishes_as_the_firmware_into_the_station(rig):
    broker = rig.broker()
    sub = rig.subscriber(broker.port)
    station = start_station(rig, broker)
    sim = rig.simulator(interval=0.5, count=16)
    reader_config = rig.dir / "read.toml"
    reader_config.write_text(
        f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\ntopic = "{TOPIC}"\n'
        f'[serial]\ndevice = "{sim.link}"\n[meter]\nkey = "{KEY}"\n'
        "[read]\nper_field = true\nlegacy = true\ndiag_interval = 1\n"
    )
    reader = rig.add(s.Station(reader_config, command="read"))
    s.wait_for(lambda: len(s.rows(rig.dir)) >= 8, 90, "8 readings stored", reader)
    s.wait_for(lambda: not sim.process.alive(), 60, "the simulator's 16 frames")
    status, _, body = s.http(web_base(station) + "/day/2023-03-15.csv")
    values = s.csv_values(body.decode())
    sent = {f["timestamp"]: f["values"] for f in sim.frames()}
    assert len(values) >= 8
    for stamp, row in values.items():
        raw = stamp[2:4] + stamp[5:7] + stamp[8:10] + stamp[11:13] + stamp[14:16] + stamp[17:19]
        meter_values = sent[raw + "W"]
        assert row[0] == str(Decimal(meter_values["1-0:1.8.0"]))
        assert row[1] == str(Decimal(meter_values["1-0:2.8.0"]))
        assert row[3] == "3.454"
    # the firmware's other topics, from the firmware's payload code
    s.wait_for(lambda: sub.messages(TOPIC + "/diag"), 30, "diagnostics", reader)
    diag = json.loads(sub.messages(TOPIC + "/diag")[-1][1])
    assert diag["frames_ok"] >= 8 and diag["auth_failures"] == 0
    assert ("smartyreader/status", "online") in sub.messages()
    assert sub.messages(TOPIC + "/energy_export")
    legacy = [json.loads(p) for _, p in sub.messages(TOPIC + "/legacy")]
    assert any(m["dt"].startswith("c") for m in legacy)
    assert all(m["p1"].endswith("*kWh") for m in legacy if "p1" in m)
    node = "smarty_" + METER.lower()
    config = sub.messages(f"homeassistant/sensor/{node}/energy_import/config")
    assert json.loads(config[0][1])["state_topic"] == TOPIC + "/state"
    reader.stop()
    s.wait_for(lambda: sub.messages()[-1] == ("smartyreader/status", "offline"), 30, "offline")


def test_the_firmware_on_micropython32_publishes_into_the_station(rig):
    broker = rig.broker()
    station = start_station(rig, broker)
    sim = rig.simulator(interval=0.5, count=10)
    config = h.firmware_config(rig.dir / "config.json", KEY, broker.port, sim.link)
    firmware = rig.add(h.Firmware(rig.dir, config, heapsize="36k", frozen=True))
    s.wait_for(lambda: len(s.rows(rig.dir)) >= 6, 120, "6 readings from the firmware", firmware)
    sent = {f["timestamp"]: f["values"] for f in sim.frames()}
    values = s.csv_values(s.http(web_base(station) + "/day/2023-03-15.csv")[2].decode())
    for stamp, row in values.items():
        raw = stamp[2:4] + stamp[5:7] + stamp[8:10] + stamp[11:13] + stamp[14:16] + stamp[17:19]
        assert row[1] == str(Decimal(sent[raw + "W"]["1-0:2.8.0"]))
