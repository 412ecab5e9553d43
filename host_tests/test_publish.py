"""Payload rules (smartyreader.publish, .discovery) on CPython: the state JSON and per-field lines
written into a slot, Home Assistant discovery configs, the legacy payload, exact
differences.  The same module runs on the boards."""

import io
import json
import sys
from decimal import Decimal

import pytest

from conftest import ROOT

sys.path[:0] = [str(ROOT / "firmware" / "lib"), str(ROOT / "tools")]
import p1meter  # noqa: E402
from smarty import dsmr  # noqa: E402
from smarty.values import Fixed  # noqa: E402
from smartyreader import discovery, publish  # noqa: E402

GAS_WATER = dsmr.parse(p1meter.smarty_telegram(None, ("gas", "water")))


def write_state(readings, size=4096):
    buf = bytearray(size)
    writer = publish.SlotWriter()
    writer.start(memoryview(buf))
    writer.open()
    for reading in readings:
        writer.field(reading[0], reading[1])  # a Reading, or (name, value)
    writer.close()
    return bytes(buf[: writer.length])


def test_state_json_keeps_the_meters_digits():
    state = json.loads(write_state(GAS_WATER.readings()), parse_float=Decimal)
    assert state["energy_import"] == Decimal("1234.567") or state["energy_import"] > 0
    assert str(state["gas"]) == "1234.567" and str(state["water"]) == "321.098"
    assert state["gas_timestamp"] == "2023-03-15T15:50:00+01:00"
    assert state["current_limits"] is not None


def test_a_payload_larger_than_the_slot_is_refused_not_cut():
    with pytest.raises(ValueError, match="payload longer than 200 bytes"):
        write_state(GAS_WATER.readings(), size=200)


def per_field(state):
    """(name, payload) of each per-field topic, read back from the state as the
    publisher does."""
    buf = bytearray(state)
    out = []
    for name, name_end, value, value_end in publish.json_members(buf, 0, len(buf)):
        a, b = publish.field_payload(buf, value, value_end)
        out.append((buf[name:name_end].decode(), buf[a:b].decode()))
    return out


def test_per_field_payloads_come_from_the_state():
    values = [
        ("energy_import", Fixed("000273.764")),
        ("text_message", 'a "quoted", [text]'),
        ("x", None),
        ("current_limits", [Fixed("200.00"), 40]),
        ("log", [2, {"value": 240, "unit": "s"}, "0-0:96.7.19"]),
        ("flag", True),
    ]
    got = per_field(write_state(values))
    assert got == [
        ("energy_import", "273.764"),
        ("text_message", 'a \\"quoted\\", [text]'),  # JSON escapes kept, quotes off
        ("x", ""),
        ("current_limits", "[200.00, 40]"),
        ("log", '[2, {"value": 240, "unit": "s"}, "0-0:96.7.19"]'),
        ("flag", "true"),
    ]
    # a whole Smarty telegram: one payload per reading, each the state's value
    state = write_state(GAS_WATER.readings())
    fields = dict(per_field(state))
    assert fields["gas"] == "1234.567" and fields["gas_timestamp"] == "2023-03-15T15:50:00+01:00"
    assert list(fields) == list(json.loads(state))


def test_payloads_state_legacy_and_computed_values():
    payloads = publish.Payloads(legacy=True)
    slot = bytearray(2048)
    sensors = io.BytesIO()
    state_length, legacy_length = payloads.write(GAS_WATER, memoryview(slot), sensors)
    state = json.loads(bytes(slot[:state_length]), parse_float=Decimal)
    legacy = json.loads(bytes(slot[state_length : state_length + legacy_length]))
    raw = dict(GAS_WATER.lines())
    assert legacy == {
        "dt": raw["0-0:1.0.0"][0],
        "c1": raw["1-0:1.8.0"][0],
        "p1": raw["1-0:2.8.0"][0],
    }
    assert state["net_power"] == state["power_import"] - state["power_export"]
    assert state["energy_import_today"] == 0  # the first telegram of the day
    assert payloads.meter == "SAG1030700026568"
    lines = sensors.getvalue().splitlines()
    assert b"gas m3 gas total_increasing" in lines
    assert lines[-3:] == publish.COMPUTED_SENSORS.splitlines()
    with pytest.raises(ValueError):
        payloads.write(GAS_WATER, memoryview(bytearray(300)))


def discovery_configs(readings):
    sensors = b"".join(publish.sensor_line(r) for r in readings) + publish.COMPUTED_SENSORS
    lines = io.StringIO(sensors.decode())  # as the publisher reads them from their file
    buf = bytearray(2048)
    return [
        (topic, bytes(buf[:length]).decode())
        for topic, length in discovery.discovery(
            "homeassistant", "smarty_x", "smarty", "Smarty X", lines, buf
        )
    ]


def test_discovery_configs_are_json_once_utf8_encoded():
    configs = dict(discovery_configs(GAS_WATER.readings()))
    # what goes on the wire: UTF-8 bytes (MicroPython's json writes "³" as two bytes, where
    # a length counted in characters cuts the payload short: the end-to-end tests see that)
    config = json.loads(configs["homeassistant/sensor/smarty_x/gas/config"].encode())
    assert (config["unit_of_measurement"], config["device_class"]) == ("m³", "gas")
    assert config["value_template"] == "{{ value_json.gas }}"
    water = json.loads(configs["homeassistant/sensor/smarty_x/water/config"].encode())
    assert (water["unit_of_measurement"], water["device_class"]) == ("m³", "water")
    for name in ("net_power", "energy_import_today", "gas_timestamp", "voltage_l1"):
        assert f"homeassistant/sensor/smarty_x/{name}/config" in configs
    # text (ids, versions, messages) and lists get no sensor
    assert "homeassistant/sensor/smarty_x/equipment_id/config" not in configs
    assert "homeassistant/sensor/smarty_x/current_limits/config" not in configs


def test_a_node_id_is_the_meter_id_in_lower_case_letters_digits_and_underscores():
    assert discovery.node_id("SAG1030700089067") == "smarty_sag1030700089067"
    assert discovery.node_id("Flat 2/Ä-x") == "smarty_flat_2___x"  # Ä: one character, one _


def test_unknown_code_with_a_unit_gets_a_sensor_in_that_unit():
    t = dsmr.parse(p1meter.with_crc(b"/Lux5\\test\r\n\r\n1-0:128.8.0(001234.567*kvarh)\r\n!"))
    (topic, payload), *_ = discovery_configs(t.readings())
    config = json.loads(payload)
    assert config["unit_of_measurement"] == "kvarh"
    assert config["device_class"] == "reactive_energy"


def test_difference_is_exact():
    assert str(publish.difference(Fixed("000273.764"), Fixed("000270.1"))) == "3.664"
    assert str(publish.difference(Fixed("00.000"), Fixed("03.454"))) == "-3.454"
    assert publish.difference(None, Fixed("1.0")) is None
    assert str(publish.difference(112743030, 112743029)) == "1"


def test_legacy_payload_as_the_weigu_subscriber_reads_it():
    writer, slot = publish.SlotWriter(), bytearray(80)
    writer.start(slot)
    publish.write_legacy(writer, "221006155014S", "000273.764*kWh", "000001.000*kWh")
    payload = json.loads(slot[: writer.length])
    assert payload == {"dt": "221006155014S", "c1": "000273.764*kWh", "p1": "000001.000*kWh"}
    assert json.loads(publish.legacy_notice("connect", "SmartyReader"))["dt"].startswith("c")
    assert json.loads(publish.legacy_notice("error", "x"))["dt"].startswith("e")


def test_the_loops_survive_memory_errors_and_bugs(tmp_path):
    """On MicroPython: a MemoryError and an exception in the read path and in the publish
    path, and a MemoryError in the publisher's WiFi check, are each counted; both loops go
    on and the reading is published after all.  The reader runs after a connect and
    between any two readings published (each may wait for its PUBACK)."""
    from conftest import run_firmware_script

    out = run_firmware_script("loops_survive.py", tmp_path).splitlines()
    turns = out.pop()
    assert out.pop() == "smartyreader: connected to the MQTT broker broker:1883"
    # the reader's turn after the connect and between any two readings published
    assert turns.startswith("turns R") and turns.count("P") == 5, turns
    assert "CP" not in turns and "PP" not in turns, turns
    out, dropped = out[:-2], out[-2:]
    assert dropped == [
        "smartyreader: a queued reading of meters.5, no longer configured: dropped",
        "unconfigured 1 [] []",
    ]
    log, out, trouble = out[:-8], out[-8:-5], out[-5:]
    assert trouble == [
        "no frame no good frame for 10 minutes although bytes arrive",
        "wrong key None",  # no restart cures a wrong key
        "memory 5 MemoryErrors within a minute",
        "memory spread None",
        "no frame of one of several None",  # a restart would cost the others readings
    ]
    assert out[0] == "receiver 1 1" and out[1] == "publisher 2 1", out  # + the WiFi's
    assert out[2] == "sent [('t/state', b'{\"n\": 1}')]", out
    assert "smartyreader: out of memory while reading a frame" in log
    assert "smartyreader: reading a frame: KeyError('a bug',)" in log


def test_weeks_of_running_past_the_ticks_wrap(tmp_path):
    """On MicroPython, whose ticks_ms() wraps every 2**30 ms (12.4 days) as the ESP
    ports' does: after 28 days the uptime is exact, a meter silent for a week and then
    noisy asks for a restart, the frame counters are saved a week on, the diag's ages are
    right after 20 days, and a WiFi fallback of 8 days comes after 8 days."""
    from conftest import run_firmware_script

    out = run_firmware_script("long_uptime.py", tmp_path, heapsize="64k").splitlines()
    day = 24 * 3600
    good = 999  # the good frame came at 999.999 s: 999 whole seconds
    noise = good + 7 * day + 11 * 60  # the last noise byte
    assert out == [
        f"carried {good}",  # 1001 x 999 ms
        "week of silence None True",  # no bytes: no restart; the line is idle
        "then noise no good frame for 10 minutes although bytes arrive",
        "counters ['534147', '0badcafe', '1'] ['534147', '0badcafe', '2']",
        f"diag {20 * day} {20 * day - good} {20 * day - noise}",
        "wifi fallback True 192",  # 8 days of hourly looks
        f"uptime {28 * day} 28",
    ], out


def telegram_at(stamp, energy_import):
    """The Smarty test telegram at another time and import register."""
    raw = p1meter.smarty_telegram(None, ())
    raw = raw.replace(b"0-0:1.0.0(230315155342W)", b"0-0:1.0.0(%sW)" % stamp.encode())
    raw = raw.replace(b"1-0:1.8.0(000017.901*kWh)", b"1-0:1.8.0(%s*kWh)" % energy_import)
    return dsmr.parse(p1meter.with_crc(raw))


def today(payloads, telegram):
    slot = bytearray(2048)
    length = payloads.write(telegram, memoryview(slot))[0]
    return json.loads(bytes(slot[:length]), parse_float=Decimal)["energy_import_today"]


def test_the_energy_today_outlives_a_reset_on_its_day_and_meter_only(tmp_path):
    """The receiver keeps the day's baselines in a file, written when one is taken (once
    a day); after a reset the first telegram takes them up if it is that meter's, that
    day's.  A file that is not whole is ignored."""
    from smartyreader.today import keep, read

    path = str(tmp_path / "today.txt")
    payloads = publish.Payloads()
    assert today(payloads, telegram_at("230315080000", b"000100.000")) == 0
    assert payloads.new_baseline
    keep(path, payloads)
    payloads.new_baseline = False
    assert today(payloads, telegram_at("230315090000", b"000101.250")) == Decimal("1.250")
    assert not payloads.new_baseline  # nothing to write until the next day
    assert read(path) == ("SAG1030700026568", payloads.baselines)

    after = publish.Payloads()  # a reset
    after.kept = read(path)
    assert today(after, telegram_at("230315100000", b"000102.500")) == Decimal("2.500")
    assert not after.new_baseline
    assert today(after, telegram_at("230316000010", b"000103.000")) == 0  # a new day
    assert after.new_baseline

    for kept in (("another meter", after.baselines), None):
        other = publish.Payloads()
        other.kept = kept
        assert today(other, telegram_at("230316000020", b"000104.000")) == 0
    stale = publish.Payloads()
    stale.kept = read(path)  # 2023-03-15's
    assert today(stale, telegram_at("230317000000", b"000105.000")) == 0

    for broken in ("", "SAG1\nenergy_import 2023-03-15\n", "SAG1\nenergy_import 2023 x.1\n"):
        (tmp_path / "today.txt").write_text(broken)
        assert read(path) in (None, ("", {}))
    assert read(str(tmp_path / "none.txt")) is None
    keep(str(tmp_path / "no" / "such" / "dir"), after)  # logged, not raised
