"""The station's parts on their own, with real SQLite files: config, payloads, store,
day files, CSV, plots."""

import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from PIL import Image
from stationrig import METER, csv_values, run_cli, states

from smarty_station import config, dayfiles, mail, plot, readings, report
from smarty_station.store import Store

MIDNIGHT = datetime(2026, 12, 1, 23, 58, 0)


def write(tmp_path, text):
    path = tmp_path / "station.toml"
    path.write_text(text)
    return path


GOOD = '[mqtt]\nhost = "127.0.0.1"\n[store]\npath = "db/x.sqlite"\nday_files = "data"\n'


def test_config_relative_paths_and_defaults(tmp_path):
    c = config.load(write(tmp_path, GOOD + '[mail]\nhost = "m"\nfrom = "a@b"\nto = "c@d"\n'))
    assert c.store.path == tmp_path / "db" / "x.sqlite"
    assert c.store.day_files == tmp_path / "data"
    assert (c.mqtt.port, c.mqtt.topic, c.mail.at, c.mail.port, c.mail.to) == (
        1883,
        "smartyreader",
        (1, 0),
        587,
        ("c@d",),
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("[store]\npath = 'x'\n", "mqtt.host is missing"),
        (GOOD.replace('"127.0.0.1"', '"h"\nport = 70000'), "mqtt.port must be a whole number"),
        (GOOD + "[web]\nprot = 8080\n", "web.prot is not a known key"),
        (GOOD + '[mail]\nhost = "m"\nfrom = "a@b"\nto = "c@d"\nat = "25:00"\n', "mail.at must"),
        (GOOD + '[mail]\nhost = "m"\nfrom = "a@b"\n', "mail.to is missing"),
        (GOOD + "[serial]\ndevice = '/dev/x'\n[meter]\nkey = 'abc'\n", "meter.key must be 32"),
        ("[mqtt\n", "not valid TOML"),
        ('[mqtt]\nhost = "h"\n', "[store] is missing"),
    ],
)
def test_config_errors_name_the_key_and_exit_2(tmp_path, text, message):
    result = run_cli("run", "--config", write(tmp_path, text))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_exits_2(tmp_path):
    result = run_cli("plot", "--config", tmp_path / "none.toml", "--date", "2026-12-01")
    assert result.returncode == 2 and "cannot read the config file" in result.stderr


def test_state_payload_kept_exactly():
    payload, values, legacy = states(MIDNIGHT, 1)[0]
    r = readings.from_state(payload)
    assert r.meter == METER and r.utc_offset == 60
    assert r.local == MIDNIGHT
    assert readings.digits(r.energy_export) == str(Decimal(values["1-0:2.8.0"]))
    assert (r.energy_import, r.power_import, r.power_export, r.gas) == (17901, 1234, 3454, 1234567)
    assert readings.from_legacy(legacy, "legacy").energy_export == r.energy_export
    assert readings.from_legacy(b'{"dt": "connected: SmartyReader"}', "legacy") is None


@pytest.mark.parametrize(
    "payload, problem",
    [
        (b"{not json", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"timestamp": "2026-12-01T00:00:00+01:00", "energy_import": 1}', "equipment_id"),
        (b'{"equipment_id": "X", "timestamp": "yesterday", "energy_import": 1}', "ISO 8601"),
        (b'{"equipment_id": "X", "timestamp": "2026-12-01T00:00:00", "energy_import": 1}', "UTC"),
        (
            b'{"equipment_id": "X", "timestamp": "2026-12-01T00:00:00+01:00", '
            b'"energy_import": 1.2345}',
            "more than three decimals",
        ),
        (b'{"equipment_id": "X", "timestamp": "2026-12-01T00:00:00+01:00"}', "neither"),
    ],
)
def test_malformed_state_payloads_say_why(payload, problem):
    with pytest.raises(readings.PayloadError, match=problem):
        readings.from_state(payload)


def test_store_keeps_a_reading_once_and_keeps_energies(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    day = [readings.from_state(p) for p, _, _ in states(MIDNIGHT, 30)]  # 23:58:00 .. 00:02:50
    assert store.add_many(day) == 30
    assert store.add_many(day[:5]) == 0  # a redelivery
    assert store.add(day[-1]) is False
    assert len(store.day(METER, date(2026, 12, 1))) == 12
    assert len(store.day(METER, date(2026, 12, 2))) == 18
    # energy today restarts at midnight: from the last reading before it
    base = store.baseline(METER, date(2026, 12, 2))
    assert base == (day[11].energy_import, day[11].energy_export)
    (first, *_), (second, imported, exported, gas, count) = store.days(
        METER, date(2026, 12, 1), date(2026, 12, 2)
    )
    assert (second, count) == (date(2026, 12, 2), 18)
    assert imported == day[-1].energy_import - day[11].energy_import
    assert exported == day[-1].energy_export - day[11].energy_export
    quarters = store.quarters(METER, day[0].ts - 3600, day[-1].ts + 1)
    assert sum(q[1] for q in quarters) == day[-1].energy_import - day[0].energy_import
    assert store.latest() == day[-1]
    store.close()
    assert Store(tmp_path / "s.sqlite").add_many(day) == 0  # and after reopening


def test_csv_has_the_meters_digits(tmp_path):
    sent = states(MIDNIGHT, 6)  # 23:58:00 .. 23:58:50
    store = Store(tmp_path / "s.sqlite")
    store.add_many(readings.from_state(p) for p, _, _ in sent)
    text = report.csv_text(store.day_csv(METER, date(2026, 12, 1)))
    assert text.split("\n")[1].startswith("2026-12-01T23:58:00+01:00,17.901,55437.011,")
    values = csv_values(text)
    for payload, meter_values, _ in sent:
        row = values[readings.from_state(payload).local.isoformat() + "+01:00"]
        assert row[0] == str(Decimal(meter_values["1-0:1.8.0"]))
        assert row[1] == str(Decimal(meter_values["1-0:2.8.0"]))
        assert row[2:] == ("1.234", "3.454", "1234.567")


def test_day_files_in_the_seeds_format_rotate_at_midnight(tmp_path):
    files = dayfiles.DayFiles(tmp_path / "data", tmp_path / "archive")
    day = [readings.from_state(p) for p, _, _ in states(MIDNIGHT, 14)]
    for r in day:
        files.append(r, r.energy_import - day[0].energy_import)
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["2026_12_02.min"]
    assert [p.name for p in (tmp_path / "archive").iterdir()] == ["2026_12_01.min"]
    first = (tmp_path / "archive" / "2026_12_01.min").read_text().split("\n")[0]
    assert first == "01.12.26 23:58:00 17.901 0.000 1234"


def png(data):
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_plots_are_pngs_with_something_drawn(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.add_many(readings.from_state(p) for p, _, _ in states(datetime(2026, 12, 1), 360, 60))
    day = date(2026, 12, 1)
    image = png(plot.day_png(day, store.day(METER, day), store.baseline(METER, day)))
    assert image.format == "PNG" and image.size == (1000, 800)
    assert len(image.convert("RGB").getcolors(1 << 20)) > 20  # lines, text: not blank
    month = png(plot.month_png(day, store.days(METER, day, day + timedelta(days=30))))
    assert month.size == (1000, 600)
    assert len(month.convert("RGB").getcolors(1 << 20)) > 20


def test_plot_command_writes_the_png(tmp_path):
    path = write(tmp_path, GOOD)
    store = Store(tmp_path / "db" / "x.sqlite")
    store.add_many(readings.from_state(p) for p, _, _ in states(MIDNIGHT, 3))
    store.close()
    out = tmp_path / "day.png"
    result = run_cli("plot", "--config", path, "--date", "2026-12-01", "--out", out)
    assert result.returncode == 0, result.stderr
    assert png(out.read_bytes()).size == (1000, 800)


def test_mail_due_at_the_configured_time_and_missed_days_once():
    days = [date(2026, 11, d) for d in range(20, 31)] + [date(2026, 12, 1), date(2026, 12, 2)]
    at = (1, 0)
    before, after = datetime(2026, 12, 2, 0, 59), datetime(2026, 12, 2, 1, 0)
    # a new station mails the day before once the time has come, not its whole history
    assert mail.days_due(before, at, set(), days) == [date(2026, 11, 30)]
    assert mail.days_due(after, at, set(), days) == [date(2026, 12, 1)]
    assert mail.days_due(after, at, {date(2026, 12, 1)}, days) == []
    # down from the 28th's mail until now: the days missed, each once
    assert mail.days_due(after, at, {date(2026, 11, 28)}, days) == [
        date(2026, 11, 29),
        date(2026, 11, 30),
        date(2026, 12, 1),
    ]
