"""Payload rules (smartyreader.publish) on CPython: the state JSON and per-field lines
written into a slot, Home Assistant discovery configs, the legacy payload, exact
differences.  The same module runs on the boards."""

import json
import sys
from decimal import Decimal

import pytest

from conftest import ROOT

sys.path[:0] = [str(ROOT / "firmware" / "lib"), str(ROOT / "tools")]
import p1meter  # noqa: E402
from smarty import dsmr  # noqa: E402
from smarty.values import Fixed  # noqa: E402
from smartyreader import publish  # noqa: E402

GAS_WATER = dsmr.parse(p1meter.smarty_telegram(None, ("gas", "water")))


def write_state(readings, size=4096):
    buf = bytearray(size)
    writer = publish.SlotWriter()
    writer.start(memoryview(buf))
    writer.open()
    for reading in readings:
        writer.field(reading[0], reading[1])
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


def test_per_field_lines_round_trip():
    buf = bytearray(2048)
    writer = publish.SlotWriter()
    writer.start(buf)
    values = [("energy_import", Fixed("000273.764")), ("text_message", "a b"), ("x", None)]
    values.append(("current_limits", [Fixed("200.00"), 40]))
    for name, value in values:
        writer.line(name, value)
    got = [
        (bytes(n).decode(), bytes(p).decode())
        for n, p in publish.field_lines(buf, 0, writer.length)
    ]
    assert got == [
        ("energy_import", "273.764"),
        ("text_message", "a b"),
        ("x", ""),
        ("current_limits", "[200.00, 40]"),
    ]


def discovery_configs(readings):
    sensors = b"".join(publish.sensor_line(r) for r in readings) + publish.COMPUTED_SENSORS
    return list(
        publish.discovery("homeassistant", "smarty_x", "smarty", "Smarty X", sensors, len(sensors))
    )


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
    payload = json.loads(
        publish.legacy_payload("221006155014S", "000273.764*kWh", "000001.000*kWh")
    )
    assert payload == {"dt": "221006155014S", "c1": "000273.764*kWh", "p1": "000001.000*kWh"}
    assert json.loads(publish.legacy_notice("connect", "SmartyReader"))["dt"].startswith("c")
    assert json.loads(publish.legacy_notice("error", "x"))["dt"].startswith("e")
