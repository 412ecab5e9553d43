"""Several meters on one `smarty-station read` (issue 13, the station's side), all real:
two simulated meters on two ptys (two keys, two telegrams), one `smarty-station read`
publishing each under its own topic, Mosquitto, `smarty-station run` storing each
reading under its own meter id in SQLite.  A meter that goes away, has the wrong key or
was never plugged in shows in its own diag and holds up no other meter.  And the
config's checks of [[meters]]."""

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import stationrig as s
from p1meter import smarty_telegram, with_crc
from stationrig import METER, TOPIC, h

from smarty_station import config

KEYS = ("000102030405060708090a0b0c0d0e0f", "f0e0d0c0b0a090807060504030201000")
METER2 = "SAG1030700099999"


def telegrams(directory):
    """Two meters' telegram files: the simulator's with gas (METER), and one without gas
    with another equipment id (METER2), its own import register and import power."""
    first = smarty_telegram(None, ("gas",))
    second = smarty_telegram(None, ())
    for old, new in (
        (METER.encode().hex().upper(), METER2.encode().hex().upper()),
        ("1-0:1.8.0(000017.901*kWh)", "1-0:1.8.0(000123.456*kWh)"),
        ("1-0:1.7.0(00.000*kW)", "1-0:1.7.0(02.500*kW)"),
    ):
        assert old.encode() in second
        second = second.replace(old.encode(), new.encode())
    paths = []
    for n, text in enumerate((first, with_crc(second)), 1):
        path = directory / f"telegram{n}.txt"
        path.write_bytes(text)
        paths.append(path)
    return paths


def simulator(rig, n, key, telegram):
    """A simulated meter in a folder of its own (each makes a `p1` link there)."""
    directory = rig.dir / f"meter{n}"
    directory.mkdir(exist_ok=True)
    return rig.add(h.Simulator(directory, key, telegram=telegram, interval=0.5))


def meters_toml(*meters):
    lines = []
    for meter in meters:
        lines.append("[[meters]]")
        lines += [f"{k} = {json.dumps(str(v))}" for k, v in meter.items()]
    return "\n".join(lines) + "\n[read]\nper_field = true\nlegacy = true\ndiag_interval = 1\n"


def start(rig, broker, *meters):
    """`smarty-station run` and `smarty-station read` on one config file (a Pi doing
    both), with these [[meters]]."""
    path = s.write_config(rig.dir, broker.port)
    path.write_text(path.read_text() + meters_toml(*meters))
    station = rig.add(s.Station(path))
    station.wait_connected()
    reader = rig.add(s.Station(path, command="read"))
    return station, reader


def stored(directory, meter):
    """{ts: (energy_import, energy_export, power_import, power_export, gas)} of a meter."""
    sql = (
        "SELECT ts, energy_import, energy_export, power_import, power_export, gas "
        "FROM readings JOIN meters ON meters.id = readings.meter "
        f"WHERE meters.name = '{meter}' ORDER BY ts"
    )
    return {row[0]: row[1:] for row in s.rows(directory, sql)}


def utc(raw):
    """The UTC seconds of a meter timestamp "230315155342W"."""
    offset = timedelta(hours=2 if raw[-1] == "S" else 1)
    local = datetime.strptime(raw[:12], "%y%m%d%H%M%S").replace(tzinfo=timezone(offset))
    return int(local.timestamp())


def thousandths(text):
    return int(Decimal(text) * 1000)


def check_every_reading(directory, meter, sim, gas):
    """Every frame the simulator sent from the first stored reading to the last is stored
    under `meter`, with the meter's values exactly; returns how many."""
    rows = stored(directory, meter)
    assert rows, f"nothing stored for {meter}"
    first, last = min(rows), max(rows)
    sent = {utc(f["timestamp"]): f["values"] for f in sim.frames()}
    expected = [ts for ts in sorted(sent) if first <= ts <= last]
    assert sorted(rows) == expected, f"{meter}: readings missing or foreign"
    for ts in expected:
        values = sent[ts]
        energy_import, energy_export, power_import, power_export, stored_gas = rows[ts]
        assert energy_import == thousandths(values["1-0:1.8.0"]), (meter, ts)
        assert energy_export == thousandths(values["1-0:2.8.0"]), (meter, ts)
        assert power_export == 3454
        assert stored_gas == gas
    return len(expected)


def diag(sub, topic):
    messages = sub.messages(topic + "/diag")
    return json.loads(messages[-1][1]) if messages else None


@pytest.fixture
def rig(tmp_path):
    rig = h.Rig(tmp_path, KEYS[0], topics=(TOPIC + "/#", "homeassistant/#", "flats/#"))
    yield rig
    rig.stop()


def test_two_meters_read_published_and_stored_each_as_its_own(rig):
    broker = rig.broker()
    sub = rig.subscriber(broker.port)
    paths = telegrams(rig.dir)
    sims = [simulator(rig, n, KEYS[n - 1], paths[n - 1]) for n in (1, 2)]
    station, reader = start(
        rig,
        broker,
        {"device": sims[0].link, "key": KEYS[0], "name": "Flat 1"},
        {"device": sims[1].link, "key": KEYS[1]},
    )
    s.wait_for(
        lambda: all(len(stored(rig.dir, m)) >= 8 for m in (METER, METER2)),
        90,
        "8 readings of each meter stored",
        reader,
    )
    assert sorted(name for (name,) in s.rows(rig.dir, "SELECT name FROM meters")) == sorted(
        [METER, METER2]
    )
    check_every_reading(rig.dir, METER, sims[0], gas=1234567)
    check_every_reading(rig.dir, METER2, sims[1], gas=None)
    assert min(r[2] for r in stored(rig.dir, METER2).values()) == 2500  # its import power

    # each meter on its own topics: state, per field, legacy, status, diag
    for n, meter in ((1, METER), (2, METER2)):
        topic = f"{TOPIC}/{n}"
        states = [json.loads(p) for _, p in sub.messages(topic + "/state")]
        assert states and {m["equipment_id"] for m in states} == {meter}
        assert sub.messages(topic + "/energy_export")
        assert any("p1" in json.loads(p) for _, p in sub.messages(topic + "/legacy"))
        assert (topic + "/status", "online") in sub.messages()
        s.wait_for(lambda t=topic: diag(sub, t), 30, f"the diag of {topic}", reader)
        assert diag(sub, topic)["frames_ok"] >= 8 and diag(sub, topic)["auth_failures"] == 0
    assert not sub.messages(TOPIC + "/state")  # nothing on the single meter's topic

    # Home Assistant: one device per meter, no unique id twice
    configs = [(t, json.loads(p)) for t, p in sub.messages() if t.startswith("homeassistant/")]
    for n, meter in ((1, METER), (2, METER2)):
        node = "smarty_" + meter.lower()
        mine = [c for t, c in configs if t.startswith(f"homeassistant/sensor/{node}/")]
        assert mine and {c["state_topic"] for c in mine} == {f"{TOPIC}/{n}/state"}
    unique = [c["unique_id"] for _, c in configs]
    assert len(unique) == len(set(unique)) and len(unique) >= 2
    names = {c["device"]["name"] for _, c in configs}
    assert names == {"Flat 1", "Smarty " + METER2}

    # meter 2's line goes away: meter 1 keeps being published and stored, every reading
    sims[1].stop()
    s.wait_for(
        lambda: (
            "meters.2: the P1 port" in reader.text() or "meters.2: cannot open" in reader.text()
        ),
        30,
        "meter 2's port reported gone",
        reader,
    )
    count = len(stored(rig.dir, METER))
    s.wait_for(lambda: len(stored(rig.dir, METER)) >= count + 8, 30, "8 more of meter 1", reader)
    s.wait_for(
        lambda: (diag(sub, TOPIC + "/2") or {}).get("port_open") is False,
        30,
        "meter 2's diag: port closed",
        reader,
    )
    two = diag(sub, TOPIC + "/2")
    assert two["port_errors"] >= 1 and str(sims[1].link) in two["port_error"]
    one = diag(sub, TOPIC + "/1")
    assert (
        one["port_open"]
        and one["port_errors"] == 0
        and one["port_error"] is None
        and one["last_frame_s"] <= 5
    )
    check_every_reading(rig.dir, METER2, sims[1], gas=None)  # what it sent before, no more
    assert check_every_reading(rig.dir, METER, sims[0], gas=1234567) >= count + 8
    assert "meters.1: the P1 port" not in reader.text()
    assert reader.alive() and station.alive()
    reader.stop()
    s.wait_for(
        lambda: (
            (TOPIC + "/1/status", "offline") in sub.messages()
            and (TOPIC + "/2/status", "offline") in sub.messages()
        ),
        30,
        "both meters offline",
    )


def test_wrong_key_and_missing_device_show_in_their_own_diag_only(rig):
    broker = rig.broker()
    sub = rig.subscriber(broker.port)
    paths = telegrams(rig.dir)
    sims = [simulator(rig, n, KEYS[n - 1], paths[n - 1]) for n in (1, 2)]
    missing = rig.dir / "ttyUSB9"
    station, reader = start(
        rig,
        broker,
        {"device": sims[0].link, "key": KEYS[0], "topic": "flats/one"},  # outside mqtt.topic
        {"device": sims[1].link, "key": KEYS[0]},  # the other meter's key: wrong
        {"device": missing, "key": KEYS[1]},  # never plugged in
    )
    s.wait_for(lambda: len(stored(rig.dir, METER)) >= 10, 90, "10 readings of meter 1", reader)
    check_every_reading(rig.dir, METER, sims[0], gas=1234567)
    assert stored(rig.dir, METER2) == {}
    s.wait_for(
        lambda: (
            (diag(sub, TOPIC + "/2") or {}).get("hint") == "wrong key?"
            and (diag(sub, TOPIC + "/3") or {}).get("port_errors", 0) >= 1
            and (diag(sub, "flats/one") or {}).get("frames_ok", 0) >= 10
        ),
        30,
        "the diags of the three meters",
        reader,
    )
    wrong, absent, good = (diag(sub, t) for t in (TOPIC + "/2", TOPIC + "/3", "flats/one"))
    assert wrong["auth_failures"] >= 3 and wrong["frames_ok"] == 0 and wrong["port_open"]
    assert "authentication failed" in wrong["last_error"]
    assert not absent["port_open"] and absent["frames_ok"] == 0
    assert absent["port_error"].startswith(f"cannot open the P1 port {missing}")
    assert good["hint"] is None and good["auth_failures"] == 0 and good["port_errors"] == 0
    assert good["last_error"] is None and good["frames_ok"] >= 10
    assert f"meters.3: cannot open the P1 port {missing}" in reader.text()
    assert reader.text().count("meters.3: cannot open") == 1  # said once, tried again quietly
    # the station subscribed to the meter's own topic outside mqtt.topic
    assert sub.messages("flats/one/state") and not sub.messages(TOPIC + "/1/state")
    assert station.alive() and reader.alive()


# the config


def write(tmp_path, text):
    path = tmp_path / "station.toml"
    path.write_text('[mqtt]\nhost = "127.0.0.1"\ntopic = "home/smarty/"\n' + text)
    return path


def test_config_single_meter_form_is_a_list_of_one(tmp_path):
    c = config.load(
        write(tmp_path, f'[serial]\ndevice = "/dev/ttyUSB0"\n[meter]\nkey = "{KEYS[0]}"\n')
    )
    (meter,) = c.read.meters
    assert (meter.device, meter.topic, meter.key, meter.baudrate, meter.name) == (
        "/dev/ttyUSB0",
        "home/smarty",
        bytes.fromhex(KEYS[0]),
        115200,
        None,
    )


def test_config_meters_defaults_and_own_settings(tmp_path):
    c = config.load(
        write(
            tmp_path,
            f'[[meters]]\ndevice = "/dev/ttyUSB0"\nkey = "{KEYS[0]}"\nname = "Flat 1"\n'
            f'[[meters]]\ndevice = "/dev/ttyUSB1"\nkey = "{KEYS[1]}"\nauth_key = "{KEYS[0]}"\n'
            'baudrate = 9600\n[[meters]]\ndevice = "/dev/ttyUSB2"\ntopic = "heat/pump/"\n',
        )
    )
    one, two, three = c.read.meters
    assert [m.topic for m in c.read.meters] == ["home/smarty/1", "home/smarty/2", "heat/pump"]
    assert (one.name, one.key, one.baudrate) == ("Flat 1", bytes.fromhex(KEYS[0]), 115200)
    assert (two.auth_key, two.baudrate, three.key) == (bytes.fromhex(KEYS[0]), 9600, None)
    (alone,) = config.load(write(tmp_path, '[[meters]]\ndevice = "/dev/ttyUSB0"\n')).read.meters
    assert alone.topic == "home/smarty"  # one meter: the plain mqtt.topic


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '[[meters]]\ndevice = "/dev/ttyUSB0"\n[[meters]]\ndevice = "/dev/ttyUSB0"\n',
            "config: meters.2.device /dev/ttyUSB0 is already meters.1.device: "
            "two meters cannot share a serial device",
        ),
        (
            '[[meters]]\ndevice = "/dev/ttyUSB0"\n[[meters]]\ndevice = "/dev/ttyUSB1"\n'
            '[[meters]]\ndevice = "/dev/ttyUSB2"\ntopic = "home/smarty/1"\n',
            "config: meters.3.topic home/smarty/1 is already meters.1's topic: "
            "each meter needs its own",
        ),
        (
            '[[meters]]\ndevice = "/dev/ttyUSB0"\ntopic = "a"\n'
            '[[meters]]\ndevice = "/dev/ttyUSB1"\ntopic = "a/"\n',
            "meters.2.topic a is already meters.1's topic",
        ),
        ('[[meters]]\ndevice = "/dev/ttyUSB0"\nkey = "abc"\n', "meters.1.key must be 32 hex"),
        ('[[meters]]\nkey = "' + KEYS[0] + '"\n', "meters.1.device is missing"),
        ('[[meters]]\ndevice = "/dev/ttyUSB0"\nbaud = 9600\n', "meters.1.baud is not a known"),
        (
            '[serial]\ndevice = "/dev/ttyUSB0"\n[[meters]]\ndevice = "/dev/ttyUSB1"\n',
            "[serial] and [[meters]] do not go together",
        ),
        ('[[meters]]\ndevice = "/dev/x"\nbaudrate = 10\n', "meters.1.baudrate must be a whole"),
        ('[[meters]]\ndevice = "/dev/x"\n[read]\nname = "A"\n', "read.name is for a single"),
        ("", "[serial] (or [[meters]]) is missing (needed by read)"),
    ],
)
def test_config_meters_errors_name_the_key_and_exit_2(tmp_path, text, message):
    result = s.run_cli("read", "--config", write(tmp_path, text))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_config_one_device_under_two_names_is_one_device(tmp_path):
    device = tmp_path / "ttyUSB0"
    device.touch()
    link = tmp_path / "p1"
    link.symlink_to(device)
    result = s.run_cli(
        "read",
        "--config",
        write(tmp_path, f'[[meters]]\ndevice = "{device}"\n[[meters]]\ndevice = "{link}"\n'),
    )
    assert result.returncode == 2, result.stderr
    assert f"meters.2.device {link} is already meters.1.device" in result.stderr


def test_config_empty_meters_list(tmp_path):
    path = tmp_path / "station.toml"
    path.write_text('meters = []\n[mqtt]\nhost = "127.0.0.1"\n')
    result = s.run_cli("read", "--config", path)
    assert result.returncode == 2 and "meters is empty" in result.stderr, result.stderr
