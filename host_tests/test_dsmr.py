"""DSMR telegram checksum and parsing (the core on CPython; the same code runs on
MicroPython in test_decode.py)."""

import sys

import pytest

from conftest import ROOT, VECTORS

sys.path[:0] = [str(ROOT / "firmware" / "lib"), str(ROOT / "tools")]
from p1meter import with_crc  # noqa: E402
from smarty import dsmr, obis  # noqa: E402
from smarty.errors import ChecksumError, ParseError  # noqa: E402
from smarty.keys import parse_key  # noqa: E402
from smarty.values import Fixed  # noqa: E402

LUX = (VECTORS / "telegrams" / "lux" / "luxmetering_spec_v1.1.3_example_4mbus.txt").read_bytes()


def telegram(*lines, header=b"/Lux5\\253694471_M"):
    return with_crc(header + b"\r\n\r\n" + b"".join(line + b"\r\n" for line in lines) + b"!")


def fields(*lines, **kw):
    return dsmr.parse(telegram(*lines, **kw)).fields()


def test_crc16_arc():
    assert dsmr.crc16(b"123456789") == 0xBB3D  # the CRC-16/ARC check value
    assert dsmr.crc16(LUX, 0, LUX.index(b"!") + 1) == 0x8B52


def test_crc_mismatch_names_both_values():
    bad = LUX.replace(b"000025.653", b"000025.654")
    with pytest.raises(ChecksumError, match="the telegram says 8B52, its bytes give"):
        dsmr.parse(bad)


def test_unpadded_three_digit_crc():
    text = (
        VECTORS / "telegrams/other/dsmr_parser/dsmr_parser_TELEGRAM_UNPADDED_CRC.txt"
    ).read_bytes()
    assert b"!B9F" in text
    assert dsmr.parse(text).crc == "B9F"


def test_crc_required_from_dsmr_4_but_not_before():
    body = b"/ISk5\\2MT382-1000\r\n\r\n1-3:0.2.8(50)\r\n1-0:1.8.1(000001.000*kWh)\r\n!\r\n"
    with pytest.raises(ChecksumError, match="requires one"):
        dsmr.parse(body)
    dsmr22 = body.replace(b"1-3:0.2.8(50)\r\n", b"")
    assert dsmr.parse(dsmr22).crc is None


def test_timestamps_follow_the_summer_winter_flag():
    f = fields(
        b"0-0:1.0.0(260715143000S)", b"0-1:24.1.0(003)", b"0-1:24.2.1(260115101500W)(01234.567*m3)"
    )
    assert f["timestamp"] == "2026-07-15T14:30:00+02:00"
    assert f["gas_timestamp"] == "2026-01-15T10:15:00+01:00"
    assert dsmr.iso_time("632525252525S") is None  # placeholder of an empty M-Bus channel
    assert dsmr.iso_time("000101000000W") is None
    # "no value yet": never a date decades away
    for placeholder in ("700101010000W", "000000000000W", "000101000001W", "700101000000S"):
        assert dsmr.iso_time(placeholder) is None, placeholder
    assert dsmr.iso_time("230229000000W") is None and dsmr.iso_time("240229000000W")
    assert dsmr.iso_time("260431000000S") is None  # 31 April
    assert dsmr.iso_time("261332000000W") is None  # month 13
    assert dsmr.iso_time("260102030405") == "2026-01-02T03:04:05"  # no flag: no offset


def test_values_are_exact_and_keep_the_meters_decimals():
    f = fields(
        b"1-0:1.8.0(112743.030*kWh)",
        b"1-0:32.7.0(233.0*V)",
        b"1-1:31.4.0(100*A)(-063*A)",
        b"0-0:96.7.21(00099)",
    )
    assert f["energy_import"] == Fixed("112743.030") and str(f["energy_import"]) == "112743.030"
    assert str(f["voltage_l1"]) == "233.0"
    assert f["current_limits"] == [100, -63]
    assert f["power_failures"] == 99 and isinstance(f["power_failures"], int)
    assert str(Fixed("-000.000")) == "0.000" and str(Fixed("-01.50")) == "-1.50"


def test_units_from_the_telegram_or_from_the_table():
    t = dsmr.parse(telegram(b"1-0:1.8.0(000273.764)", b"1-0:2.8.0(000001.000*Wh)"))
    units = {r.name: r.unit for r in t.readings()}
    assert units["energy_import"] == "kWh"  # old Smarty firmware sends no unit
    assert units["energy_export"] == "Wh"  # the meter's own unit wins


def test_hex_encoded_ids_and_messages():
    f = fields(
        b"0-0:42.0.0(53414731303330373930303032353734)",
        b"0-0:96.13.0(48656C6C6F)",
        b"0-0:96.13.2()",
        b"0-0:96.13.3(not hex)",
    )
    assert f["equipment_id"] == "SAG1030790002574"
    assert f["text_message"] == "Hello"
    assert f["text_message_2"] == ""
    assert f["text_message_3"] == "not hex"


def test_mbus_channels_are_named_by_device_type():
    t = dsmr.parse(LUX)
    f = t.fields()
    assert str(f["gas_1"]) == "0.006" and str(f["gas_4"]) == "28.103"  # two gas meters
    assert str(f["water_2"]) == "0.000" and f["water_2_timestamp"] is None
    assert f["gas_4_equipment_id"] == "ELS353589980300"
    one = fields(b"0-1:24.1.0(003)", b"0-1:24.2.1(200706103140S)(00000.006*m3)", b"0-1:24.4.0(1)")
    assert str(one["gas"]) == "0.006" and one["gas_valve"] == 1
    readings = {
        r.name: r
        for r in dsmr.parse(
            telegram(b"0-1:24.1.0(007)", b"0-1:24.2.1(200706103140S)(00012.345)")
        ).readings()
    }
    assert readings["water"][2:5] == ("m3", "water", "total_increasing")


def test_dsmr3_gas_on_a_continuation_line():
    text = (VECTORS / "telegrams/other/dsmr_parser/dsmr_parser_TELEGRAM_V3.txt").read_bytes()
    f = dsmr.parse(text).fields()
    assert str(f["gas"]) == "1.001"


def test_unknown_codes_keep_value_and_unit():
    t = dsmr.parse(
        telegram(
            b"1-0:99.99.0(abc)(12.5*kW)", b"0-0:96.99.9(17)", b"1-0:128.8.0(001234.567*kvarh)"
        )
    )
    f = t.fields()
    assert f["1-0:99.99.0"] == ["abc", {"value": Fixed("12.5"), "unit": "kW"}]
    assert f["0-0:96.99.9"] == 17
    reading = next(r for r in t.readings() if r.name == "1-0:128.8.0")
    assert reading[1:4] == (Fixed("001234.567"), "kvarh", "reactive_energy")
    assert (reading.unit, reading.device_class, reading.code) == (
        "kvarh",
        "reactive_energy",
        "1-0:128.8.0",
    )
    assert str(reading.value) == "1234.567"


def test_event_logs_keep_each_values_unit():
    f = fields(
        b"1-0:99.97.0(2)(0-0:96.7.19)(101208152415W)(0000000240*s)(101208151004W)(0000000301*s)",
        b"0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)(230101000000W)(221230114500W)(13.603*kW)",
        b"1-1:31.4.0(200.00*A)(040.00*A)",
    )
    assert f["power_failure_log"] == [
        2,
        "0-0:96.7.19",
        "101208152415W",
        {"value": 240, "unit": "s"},
        "101208151004W",
        {"value": 301, "unit": "s"},
    ]
    assert f["max_demand_history"][-1] == {"value": Fixed("13.603"), "unit": "kW"}
    assert f["current_limits"] == [Fixed("200.00"), Fixed("40.00")]  # the reading's own unit


def test_codes_real_meters_send():
    t = dsmr.parse(
        (
            VECTORS / "telegrams/other/dsmr_parser/dsmr_parser_TELEGRAM_SAGEMCOM_T210_D_R.txt"
        ).read_bytes()
    )
    r = {reading.name: reading for reading in t.readings()}
    assert r["reactive_energy_import_tariff2"][1:5] == (
        747,
        "varh",
        "reactive_energy",
        "total_increasing",
    )
    for code in ("1-0:5.8.0", "1-0:15.8.0", "1-0:5.7.0", "1-0:51.4.0", "1-0:71.4.0"):
        assert dsmr.obis_row(code)[0] is not None, code
    f = fields(
        b"1-0:5.8.0(000000.668*kvarh)",
        b"1-0:15.8.0(000800.817*kWh)",
        b"1-0:8.7.0(00.504*kvar)",
        b"1-0:71.4.0(200.00*A)",
    )
    assert (f["reactive_energy_q1"], f["energy_absolute"]) == (Fixed("0.668"), Fixed("800.817"))
    assert (f["reactive_power_q4"], f["fuse_threshold_l3"]) == (Fixed("0.504"), Fixed("200"))


def test_raw_is_the_first_value_as_the_lines_give_it():
    """Telegram.raw(code) (the legacy payload's values) finds in the bytes what lines()
    reads, for every object of every telegram of the vectors."""
    checked = 0
    for path in sorted((VECTORS / "telegrams").rglob("*.txt")):
        try:
            t = dsmr.parse(path.read_bytes())
        except (ParseError, ChecksumError):
            continue
        first = {}
        for code, values in t.lines():
            first.setdefault(code, values[0])
        for code, value in first.items():
            assert t.raw(code) == value, (path.name, code)
            checked += 1
    assert checked > 1000
    assert t.raw("9-9:9.9.9") is None
    t = dsmr.parse(telegram(b"1-0:1.8.0*255(000273.764*kWh)", b"0-0:96.13.0()"))
    assert t.raw("1-0:1.8.0") == "000273.764*kWh" and t.raw("0-0:96.13.0") == ""


def test_malformed_values_of_known_codes_are_kept_as_sent():
    f = fields(b"1-0:1.8.0(12x.5*kWh)")
    assert f["energy_import"] == "12x.5*kWh"


def test_structural_errors_name_the_line():
    with pytest.raises(ParseError, match="line 4 is not an OBIS object: garbage"):
        dsmr.parse(telegram(b"1-0:1.8.0(000001.000*kWh)", b"garbage"))
    with pytest.raises(ParseError, match=r"line 3 is not an OBIS object: 1-0:1.8.0\(000001"):
        dsmr.parse(telegram(b"1-0:1.8.0(000001.000*kWh"))
    for empty in (b"/ABC5 x!", b"/ABC5 x\r\n\r\n!\r\n", b"/ABC5\r\nno objects\r\n!"):
        with pytest.raises(ParseError, match="telegram has no objects"):
            dsmr.parse(empty)
    with pytest.raises(ParseError, match="not a DSMR telegram") as e:
        dsmr.parse(b"\x0f\x00\x00\x01garbage!")
    assert str(e.value).endswith(r"it starts with \x0f\x00\x00\x01garb")  # bytes escaped


def test_home_assistant_classes_and_units_agree():
    """Every reading with a device class has a unit Home Assistant accepts for it."""
    accepted = {
        "energy": {"kWh", "Wh", "GJ"},
        "power": {"kW", "W"},
        "voltage": {"V"},
        "current": {"A"},
        "reactive_power": {"kvar", "var"},
        "reactive_energy": {"kvarh", "varh"},
        "apparent_power": {"kVA", "VA"},
        "gas": {"m3"},
        "water": {"m3"},
        "frequency": {"Hz"},
        "timestamp": {None},
    }
    seen = set()
    for path in (VECTORS / "telegrams").rglob("*.txt"):
        data = path.read_bytes()
        try:
            t = dsmr.parse(data[data.find(b"/") :])
        except (ParseError, ChecksumError):
            continue
        for name, _, unit, device_class, state_class, _ in t.readings():
            if device_class:
                assert unit in accepted[device_class], (path.name, name, unit, device_class)
                seen.add(device_class)
            if state_class == "total_increasing":
                assert device_class in (None, "energy", "reactive_energy", "gas", "water"), name
    assert {"energy", "power", "voltage", "current", "gas", "timestamp"} <= seen


def test_only_equipment_ids_share_a_name():
    """readings() renames a second object of the same name only for equipment ids."""
    names = [row.name for row in obis.rows() if row.name]
    shared = {name for name in names if names.count(name) > 1}
    assert shared == {"equipment_id"}


def test_obis_table_is_consistent():
    names = {}
    for code, name, unit, kind, _ in obis.rows():
        assert kind in (
            "total",
            "measure",
            "number",
            "time",
            "hex",
            "text",
            "list",
            "event",
            "mbus",
            "mbus3",
        ), code
        assert unit is None or unit in obis.UNIT_CLASS or unit == "m3", (code, unit)
        if name:
            assert name == name.lower() and " " not in name
            names.setdefault(name, []).append(code)
    # the only shared name is the equipment id, which different countries put elsewhere
    assert {n for n, codes in names.items() if len(codes) > 1} == {"equipment_id"}


def test_key_parsing_never_repeats_the_key():
    assert parse_key("00112233 44556677:8899AABB-CCDDEEFF") == bytes.fromhex(
        "00112233445566778899aabbccddeeff"
    )
    for bad in ("0011", "x" * 32, "00112233445566778899aabbccddeeff00"):
        with pytest.raises(ValueError) as e:
            parse_key(bad)
        assert bad not in str(e.value)
