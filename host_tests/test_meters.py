"""Several meters on one reader (issue 13), end to end on the host: five simulated
Smarty meters on five ptys (five keys; three-phase with gas, three-phase, single-phase)
-> one firmware on the 32-bit MicroPython port (application frozen, 64 KB heap) -> a
real Mosquitto -> a real subscriber.  Then one line goes silent, one carries only noise
and one sends frames under another key: each shows in its own diag, and the other two
meters' readings keep arriving, every one of them."""

import json
import re
import sys
from decimal import Decimal

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import p1harness as h  # noqa: E402
from p1harness import iso  # noqa: E402
import p1meter  # noqa: E402

HEAP = "64k"  # issue 13's budget: five meters on the 32-bit port, application frozen
TOPIC = "smartyreader"
KEYS = [bytes(range(n, n + 16)).hex() for n in (0, 16, 32, 48, 64)]
IDS = ["SAG10307000265%02d" % n for n in (11, 12, 13, 14, 15)]
AFTER = 8  # good frames before meters 3, 4 and 5 go wrong


def telegram(directory, n, meters=(), single_phase=False):
    """Meter n's telegram template: its own equipment id (so its own Home Assistant
    device), M-Bus `meters`, and without the L2 and L3 lines if single-phase."""
    text = p1meter.smarty_telegram(None, meters)
    text = text[: text.rindex(b"!")]
    text = text.replace(_hex("SAG1030700026568"), _hex(IDS[n - 1]))
    assert _hex(IDS[n - 1]) in text
    if single_phase:
        text = re.sub(rb"1-0:[4-7][0-9]\.\d+\.\d+\([^\n]*\n", b"", text)
    path = directory / f"telegram{n}.txt"
    path.write_bytes(p1meter.with_crc(text + b"!"))
    return path


def _hex(text):
    return text.encode().hex().upper().encode()


@pytest.fixture
def rig(tmp_path):
    rig = h.Rig(tmp_path, KEYS[0], topics=(TOPIC + "/#", "flats/#", "homeassistant/#"))
    yield rig
    rig.stop()


def states(sub, topic):
    return [json.loads(p, parse_float=Decimal) for _, p in sub.messages(topic + "/state")]


def diag(sub, topic):
    messages = sub.messages(topic + "/diag")
    return json.loads(messages[-1][1]) if messages else {}


def check_every_reading(sub, topic, sim, equipment_id):
    """Every good frame the simulator sent, from the first published to the last, was
    published once on this meter's topic with its exact values; returns how many."""
    published = states(sub, topic)
    assert published, f"nothing on {topic}"
    good = {
        iso(f["timestamp"]): f["values"] for f in sim.frames() if f["values"] and not f["fault"]
    }
    stamps = [s["timestamp"] for s in published]
    assert len(stamps) == len(set(stamps)), f"{topic}: a reading twice"
    expected = [t for t in sorted(good) if stamps[0] <= t <= stamps[-1]]
    assert stamps == expected, f"{topic}: readings missing or foreign"
    for state in published:
        values = good[state["timestamp"]]
        assert state["equipment_id"] == equipment_id
        assert state["energy_import"] == Decimal(values["1-0:1.8.0"])
        assert state["energy_export"] == Decimal(values["1-0:2.8.0"])
    return len(published)


def test_five_meters_each_on_its_own_topics_and_device(rig):
    broker = rig.broker()
    sub = rig.subscriber(broker.port)
    kinds = [
        (("gas",), False, None),  # three-phase with gas
        ((), False, None),  # three-phase
        ((), True, "silence"),  # single-phase; its line then goes silent
        (("gas",), False, "noise"),  # then only noise
        ((), True, "wrong-key"),  # then frames under another key
    ]
    sims = []
    for n, (mbus, single, then) in enumerate(kinds, 1):
        directory = rig.dir / f"meter{n}"
        directory.mkdir()
        path = telegram(rig.dir, n, mbus, single)
        sims.append(
            rig.add(
                h.Simulator(
                    directory, KEYS[n - 1], interval=2, telegram=path, then=then, after=AFTER
                )
            )
        )
    topics = ["flats/one"] + [f"{TOPIC}/{n}" for n in range(2, 6)]  # meter 1: its own topic
    meters = [
        {"key": KEYS[n], "uart": {"device": str(sim.link)}, "name": f"Flat {n + 1}"}
        for n, sim in enumerate(sims)
    ]
    meters[0]["topic"] = "flats/one"
    config = rig.dir / "config.json"
    config.write_text(
        json.dumps(
            {
                "meters": meters,
                "mqtt": {
                    "host": "127.0.0.1",
                    "port": broker.port,
                    "topic": TOPIC,
                    "per_field": True,
                    "legacy": True,
                },
                "diag": {"interval": 5},
            }
        )
    )
    fw = rig.add(h.Firmware(rig.dir, config, heapsize=HEAP, frozen=True))

    def wait(predicate, timeout, what):
        try:
            return h.wait_for(predicate, timeout, what)
        except TimeoutError:
            pytest.fail(f"timed out waiting for {what}\nfirmware log:\n{fw.log()[-3000:]}")

    # all five read, each on its own topics
    wait(lambda: all(len(states(sub, t)) >= 3 for t in topics), 120, "3 readings of each meter")
    for n, topic in enumerate(topics):
        check_every_reading(sub, topic, sims[n], IDS[n])
    assert "gas" in states(sub, topics[0])[0] and "gas" not in states(sub, topics[1])[0]
    assert (
        "voltage_l2" in states(sub, topics[1])[0] and "voltage_l2" not in states(sub, topics[2])[0]
    )

    # then three of them go wrong; the other two keep publishing every reading
    wait(
        lambda: (
            diag(sub, topics[4]).get("hint") == "wrong key?"
            and all(len([f for f in s.frames() if f["fault"]]) >= 8 for s in sims[2:])
        ),
        120,
        "8 frames of each fault, and the wrong key noticed",
    )
    wait(lambda: diag(sub, topics[2]).get("last_frame_s", 0) >= 15, 60, "the silent meter's diag")
    for n in (0, 1):  # all along, up to the last frames sent
        assert check_every_reading(sub, topics[n], sims[n], IDS[n]) >= AFTER + 6
        recent = {iso(f["timestamp"]) for f in sims[n].frames()[-3:]}
        assert states(sub, topics[n])[-1]["timestamp"] in recent
    for n in (2, 3, 4):  # their good frames all arrived, and nothing after
        good = [f for f in sims[n].frames() if not f["fault"]]
        assert check_every_reading(sub, topics[n], sims[n], IDS[n]) >= len(good) - 2
    silent, noisy, wrong = (diag(sub, topics[n]) for n in (2, 3, 4))
    healthy = [diag(sub, topics[n]) for n in (0, 1)]
    assert silent["last_frame_s"] >= 15 and silent["last_bytes_s"] >= 15
    assert silent["hint"] is None and silent["auth_failures"] == 0
    assert noisy["noise_bytes"] >= 4 * 1000 and noisy["last_bytes_s"] < 10
    assert noisy["auth_failures"] == 0 and noisy["hint"] is None
    assert wrong["auth_failures"] >= 3 and wrong["frame_errors"] == wrong["crc_failures"] == 0
    assert wrong["last_bytes_s"] < 10 and wrong["last_frame_s"] >= 6
    for d in healthy:
        assert d["hint"] is None and d["last_frame_s"] < 10 and d["memory_errors"] == 0
        assert d["auth_failures"] == d["frame_errors"] == d["crc_failures"] == 0
    assert {d["frames_ok"] for d in (silent, noisy, wrong)} <= set(range(AFTER - 2, AFTER + 1))

    # per-field and legacy topics per meter
    for n, topic in enumerate(topics):
        assert [p for _, p in sub.messages(topic + "/equipment_id")][-1] == IDS[n]
        legacy = [json.loads(p) for _, p in sub.messages(topic + "/legacy")]
        assert any(m["dt"][0].isdigit() for m in legacy), topic

    # one Home Assistant device per meter: its own node, unique ids that do not collide,
    # its own state topic, the reader's availability
    configs = [json.loads(p) for t, p in sub.messages() if t.startswith("homeassistant/")]
    by_node = {}
    for c in configs:
        by_node.setdefault(c["device"]["identifiers"][0], []).append(c)
    assert len(by_node) == 5
    unique = {c["unique_id"] for c in configs}
    assert len({(c["unique_id"], c["state_topic"]) for c in configs}) == len(unique)
    for n, topic in enumerate(topics):
        node = "smarty_" + IDS[n].lower()
        device = by_node[node]
        assert {c["state_topic"] for c in device} == {topic + "/state"}
        assert {c["availability_topic"] for c in device} == {TOPIC + "/status"}
        assert {c["device"]["name"] for c in device} == {f"Flat {n + 1}"}
        assert all(c["unique_id"].startswith(node + "_") for c in device)
    assert sub.messages(TOPIC + "/status")[-1][1] == "online"
    assert "MemoryError" not in fw.log() and "out of memory" not in fw.log()
    assert fw.process.alive()


def test_a_meter_plugged_in_after_boot_unplugged_and_back(rig):
    """A host's meter whose serial device is not there at boot (a USB adapter not yet
    plugged in) is a silent line, not a reason for setup mode: the other meter is read
    meanwhile, and it is read once its device appears, goes away and comes back."""
    broker = rig.broker()
    sub = rig.subscriber(broker.port)
    one, two = rig.dir / "meter1", rig.dir / "meter2"
    one.mkdir()
    two.mkdir()
    first = rig.add(h.Simulator(one, KEYS[0], interval=1, telegram=telegram(rig.dir, 1)))
    config = rig.dir / "config.json"
    config.write_text(
        json.dumps(
            {
                "meters": [
                    {"key": KEYS[0], "uart": {"device": str(first.link)}},
                    {"key": KEYS[1], "uart": {"device": str(two / "p1")}},
                ],
                "mqtt": {"host": "127.0.0.1", "port": broker.port, "topic": TOPIC},
            }
        )
    )
    fw = rig.add(h.Firmware(rig.dir, config, heapsize=HEAP, frozen=True))
    topics = [f"{TOPIC}/1", f"{TOPIC}/2"]

    def wait(predicate, timeout, what):
        try:
            return h.wait_for(predicate, timeout, what)
        except TimeoutError:
            pytest.fail(f"timed out waiting for {what}\nfirmware log:\n{fw.log()[-3000:]}")

    wait(lambda: len(states(sub, topics[0])) >= 3, 90, "meter 1's readings")
    assert f"uart.device {two / 'p1'} is not there" in fw.log()
    assert not states(sub, topics[1]) and "setup mode" not in fw.log()

    second = rig.add(h.Simulator(two, KEYS[1], interval=1, telegram=telegram(rig.dir, 2)))
    wait(lambda: len(states(sub, topics[1])) >= 3, 60, "meter 2's readings once plugged in")
    second.stop()  # unplugged
    wait(lambda: "is gone" in fw.log(), 60, "the firmware to notice meter 2 unplugged")
    read = len(states(sub, topics[1]))
    before = len(states(sub, topics[0]))
    wait(lambda: len(states(sub, topics[0])) >= before + 5, 60, "meter 1 read meanwhile")
    third = rig.add(  # plugged in again: a new device, later frame counters
        h.Simulator(two, KEYS[1], interval=1, telegram=telegram(rig.dir, 2), first_counter=1000)
    )
    wait(lambda: len(states(sub, topics[1])) >= read + 3, 60, "meter 2 read again")
    assert "is back" in fw.log()
    for n, sims in ((0, [first]), (1, [second, third])):
        sent = {iso(f["timestamp"]): f["values"] for s in sims for f in s.frames()}
        for state in states(sub, topics[n]):
            assert state["equipment_id"] == IDS[n]
            assert state["energy_import"] == Decimal(sent[state["timestamp"]]["1-0:1.8.0"])
    assert fw.process.alive() and "MemoryError" not in fw.log()
