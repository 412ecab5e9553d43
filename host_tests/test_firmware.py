"""The firmware end to end on the host: a simulated Smarty on a real pty -> firmware on
the 32-bit MicroPython port (the application frozen in, as on a board) -> a real
Mosquitto -> a real subscriber (mosquitto_sub)."""

import json
import re
import socket
import sys
import threading
import time
from decimal import Decimal

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import p1harness as h  # noqa: E402
from p1harness import iso  # noqa: E402
import p1meter  # noqa: E402

KEY = "000102030405060708090a0b0c0d0e0f"
HEAP = "36k"  # an ESP8266's heap (38 KB, about 36 KB free), the application frozen as there
TOPIC = "smartyreader"


class Rig(h.Rig):
    def telegram(self, *meters):
        """A three-phase Smarty telegram with these M-Bus meters, as a template file."""
        path = self.dir / ("telegram-%s.txt" % "-".join(meters))
        path.write_bytes(p1meter.smarty_telegram(None, meters))
        return path

    def firmware(self, broker_port, sim, heapsize=HEAP, key=KEY, **mqtt):
        config = h.firmware_config(self.dir / "config.json", key, broker_port, sim.link, **mqtt)
        return self.add(h.Firmware(self.dir, config, heapsize=heapsize, frozen=True))


@pytest.fixture
def rig(tmp_path):
    """Starts what a test asks for and stops it all afterwards."""
    rig = Rig(tmp_path, KEY, topics=(TOPIC + "/#",))
    yield rig
    rig.stop()


def states(sub):
    return [json.loads(p, parse_float=Decimal) for _, p in sub.messages(TOPIC + "/state")]


def wait(predicate, timeout, what, firmware=None):
    try:
        return h.wait_for(predicate, timeout, what)
    except TimeoutError:
        log = firmware.log()[-3000:] if firmware else ""
        pytest.fail(f"timed out waiting for {what}\nfirmware log:\n{log}")


def test_values_arrive_exactly_with_discovery_and_legacy(rig):
    broker = rig.broker()
    sub = rig.subscriber(broker.port)
    # frames sent before the firmware has opened the line are lost, as on a real line
    sim = rig.simulator(interval=0.5, count=12, telegram=rig.telegram("gas", "water"))
    fw = rig.firmware(broker.port, sim, per_field=True, legacy=True)
    wait(lambda: len(sim.frames()) >= 12 and len(states(sub)) >= 8, 60, "8 states", fw)
    last = iso(sim.frames()[-1]["timestamp"])
    wait(lambda: states(sub)[-1]["timestamp"] == last, 60, "the last state", fw)
    sent = {iso(f["timestamp"]): f["values"] for f in sim.frames()}
    for state in states(sub):
        assert (state["gas"], state["water"]) == (Decimal("1234.567"), Decimal("321.098"))
        assert state["gas_timestamp"] == "2023-03-15T15:50:00+01:00"
        values = sent[state["timestamp"]]
        # exact digits, through the single-precision 32-bit port
        assert state["energy_import"] == Decimal(values["1-0:1.8.0"])
        assert state["energy_export"] == Decimal(values["1-0:2.8.0"])
        assert str(state["energy_export"]) == str(Decimal(values["1-0:2.8.0"]))
        assert state["net_power"] == Decimal("-3.454")  # 0.000 - 3.454 kW
        assert state["equipment_id"] == "SAG1030700026568"
    # per-field topics carry the same digits
    exports = [p for _, p in sub.messages(TOPIC + "/energy_export")]
    assert [p for _, p in sub.messages(TOPIC + "/gas")][-1] == "1234.567"
    assert exports and all(
        Decimal(p) in {Decimal(v["1-0:2.8.0"]) for v in sent.values()} for p in exports
    )

    # the legacy payload, read as the weigu subscriber script reads it
    def legacy_readings():  # each state's legacy payload follows it
        legacy = [json.loads(p) for _, p in sub.messages(TOPIC + "/legacy")]
        readings = [m for m in legacy if not m["dt"].startswith(("e", "c"))]
        return len(readings) >= len(states(sub)) and (legacy, readings)

    legacy, readings = wait(legacy_readings, 30, "the legacy payloads", fw)
    assert len(readings) == len(states(sub))
    by_raw = {f["timestamp"]: f["values"] for f in sim.frames()}
    for m in readings:
        assert m["c1"].endswith("*kWh")
        assert float(m["p1"].replace("*kWh", "")) == float(by_raw[m["dt"]]["1-0:2.8.0"])
        assert m["p1"] == by_raw[m["dt"]]["1-0:2.8.0"] + "*kWh"
    assert any(m["dt"].startswith("c") for m in legacy)  # the connect notice


# units, device classes and state classes Home Assistant accepts together
HA_ACCEPTS = {
    "energy": ({"kWh", "Wh", "MWh", "GJ"}, {"total_increasing", "total"}),
    "power": ({"kW", "W"}, {"measurement"}),
    "reactive_energy": ({"kvarh", "varh"}, {"total_increasing", "total"}),
    "reactive_power": ({"kvar", "var"}, {"measurement"}),
    "apparent_power": ({"kVA", "VA"}, {"measurement", None}),
    "voltage": ({"V"}, {"measurement"}),
    "current": ({"A"}, {"measurement"}),
    "gas": ({"m³"}, {"total_increasing", "total"}),
    "water": ({"m³"}, {"total_increasing", "total"}),
    "timestamp": ({None}, {None}),
    None: ({None}, {"total_increasing", None}),
}


def test_discovery_configs_are_valid_for_home_assistant(rig):
    broker = rig.broker()
    sim = rig.simulator(interval=0.5, count=4, telegram=rig.telegram("gas", "water"))
    fw = rig.firmware(broker.port, sim)
    probe = rig.subscriber(broker.port, TOPIC + "/state")
    wait(lambda: probe.messages(), 30, "a state", fw)
    state = states(probe)[0]
    # a sensor for every number and every timestamp
    expected = {n for n, v in state.items() if isinstance(v, (int, Decimal)) or "timestamp" in n}
    assert {"gas", "water", "energy_import", "voltage_l3", "net_power"} <= expected
    sub = rig.subscriber(broker.port, "homeassistant/#")  # retained: they come at once

    def configs():  # every sensor's config, each payload complete (or the wait goes on)
        got = dict(sub.messages())
        fields = {topic.split("/")[-2] for topic in got}
        return fields >= expected and sorted(got.items())

    configs = wait(configs, 60, "every discovery config", fw)
    gas = json.loads(dict(configs)["homeassistant/sensor/smarty_sag1030700026568/gas/config"])
    assert (gas["unit_of_measurement"], gas["device_class"], gas["state_class"]) == (
        "m³",
        "gas",
        "total_increasing",
    )
    unique = set()
    for topic, payload in configs:
        config = json.loads(payload)
        field = topic.split("/")[-2]
        assert topic == f"homeassistant/sensor/smarty_sag1030700026568/{field}/config"
        assert config["state_topic"] == TOPIC + "/state"
        assert config["availability_topic"] == TOPIC + "/status"
        assert config["value_template"] == "{{ value_json.%s }}" % field and field in state
        assert config["unique_id"] not in unique
        unique.add(config["unique_id"])
        units, state_classes = HA_ACCEPTS[config.get("device_class")]
        assert config.get("unit_of_measurement") in units, (field, config)
        assert config.get("state_class") in state_classes, (field, config)
    energy = json.loads(
        dict(configs)["homeassistant/sensor/smarty_sag1030700026568/energy_import/config"]
    )
    assert (energy["device_class"], energy["state_class"], energy["unit_of_measurement"]) == (
        "energy",
        "total_increasing",
        "kWh",
    )


def test_availability_and_last_will(rig):
    broker = rig.broker()
    sim = rig.simulator(interval=0.5)
    fw = rig.firmware(broker.port, sim)
    status = rig.subscriber(broker.port, TOPIC + "/status")
    wait(lambda: ("smartyreader/status", "online") in status.messages(), 30, "online", fw)
    fw.stop(sig=9)  # power cut: no clean disconnect
    wait(lambda: status.messages()[-1] == ("smartyreader/status", "offline"), 30, "the last will")


def test_faults_are_counted_and_the_loop_goes_on(rig):
    broker = rig.broker()
    sub = rig.subscriber(broker.port)
    faults = (("noise", 2), ("truncate", 3), ("wrong_key", 5), ("replay", 7), ("oversize", 11))
    sim = rig.simulator(interval=0.4, count=24, faults=faults)
    fw = rig.firmware(broker.port, sim)
    wait(lambda: len(sim.frames()) >= 24, 60, "the simulator")
    good = [iso(f["timestamp"]) for f in sim.frames() if f["fault"] in (None, "noise")]
    wait(
        lambda: states(sub) and states(sub)[-1]["timestamp"] == good[-1],
        30,
        "the last good frame",
        fw,
    )
    got = [s["timestamp"] for s in states(sub)]
    # every good frame from the first one the firmware could see (the line opened late)
    assert got == good[good.index(got[0]) :]
    assert len(got) >= len(good) - 2
    diag = wait(
        lambda: [
            json.loads(p)
            for _, p in sub.messages(TOPIC + "/diag")
            if json.loads(p)["frames_ok"] >= len(got)
        ],
        30,
        "diagnostics",
        fw,
    )[-1]
    # a cut frame running into the next one fails its tag: wrong keys and cuts both count
    assert (
        diag["auth_failures"]
        >= sum(f["fault"] in ("wrong_key", "truncate") for f in sim.frames()) - 2
    )
    assert diag["replays"] >= 1
    assert diag["overflows"] >= 1 and diag["frame_errors"] >= 1  # the oversize frame
    assert diag["noise_bytes"] > 0
    assert fw.process.alive()


def test_a_wrong_key_is_reported_as_such(rig):
    broker = rig.broker()
    sub = rig.subscriber(broker.port, TOPIC + "/diag")
    sim = rig.simulator(interval=0.3, faults=(("wrong_key", 1),))
    fw = rig.firmware(broker.port, sim)
    diag = wait(
        lambda: [json.loads(p) for _, p in sub.messages() if json.loads(p)["auth_failures"] >= 3],
        30,
        "auth failures in diag",
        fw,
    )[-1]
    assert diag["hint"] == "wrong key?" and diag["frames_ok"] == 0
    assert KEY not in fw.log() and KEY.upper() not in fw.log()


# TLS takes more heap than the budget leaves (as on an ESP8266): the default heap
TLS = {"heapsize": None, "tls": True, "user": "smarty"}


def test_tls_and_password(rig, tmp_path):
    ca, cert, key = h.make_ca(tmp_path / "pki")
    broker = rig.broker(tls=(cert, key), users={"smarty": "s3cret-pass"})
    sub = rig.subscriber(
        broker.port, TOPIC + "/state", user="smarty", password="s3cret-pass", cafile=ca
    )
    sim = rig.simulator(interval=0.5)
    fw = rig.firmware(broker.port, sim, **TLS, ca=str(ca), password="s3cret-pass")
    wait(lambda: len(states(sub)) >= 2, 60, "states over TLS", fw)
    assert "s3cret-pass" not in fw.log()


def test_wrong_password_and_wrong_ca_give_clear_errors(rig, tmp_path):
    ca, cert, key = h.make_ca(tmp_path / "pki")
    other_ca, _, _ = h.make_ca(tmp_path / "other")
    broker = rig.broker(tls=(cert, key), users={"smarty": "s3cret-pass"})
    sim = rig.simulator(interval=0.5)
    fw = rig.firmware(broker.port, sim, **TLS, ca=str(ca), password="wrong")
    wait(lambda: "wrong mqtt.user or mqtt.password" in fw.log(), 30, "the password error", fw)
    assert fw.process.alive() and 'wrong"' not in fw.log()
    fw.stop()
    fw = rig.firmware(broker.port, sim, **TLS, ca=str(other_ca), password="s3cret-pass")
    wait(lambda: "check mqtt.ca" in fw.log(), 30, "the CA error", fw)
    assert fw.process.alive()


def test_broker_down_5_min_and_a_power_cut_lose_no_reading(rig, tmp_path):
    """The broker stops for 5 minutes; half-way the firmware is killed (SIGKILL: a power
    cut) and started again.  Every reading it read is published once, in order, with
    exact values: the queue was on flash; the energy today goes on from the day's first
    telegram, not from the first after the cut."""
    broker = rig.broker(persistence=True)
    # a persistent session: what the firmware publishes while this one is away waits for it
    sub = rig.subscriber(broker.port, TOPIC + "/state", client_id="test-outage")
    sim = rig.simulator(interval=2.0, count=175)
    fw = rig.firmware(broker.port, sim)
    wait(lambda: len(states(sub)) >= 5, 60, "the first states", fw)
    broker.stop()
    stopped = time.monotonic()
    queue = tmp_path / "queue"
    wait(lambda: queue.is_dir() and len(list(queue.iterdir())) >= 2, 60, "readings on flash", fw)
    time.sleep(max(0.0, stopped + 150 - time.monotonic()))
    fw.stop(sig=9)
    killed = len(sim.frames())
    fw = rig.firmware(broker.port, sim)
    time.sleep(max(0.0, stopped + 300 - time.monotonic()))
    on_flash = sum(1 for name in queue.iterdir() if name.name.isdigit())
    restarted = h.Broker(broker.dir, port=broker.port, persistence=True).start()
    # the subscriber reconnects by itself; its session (and what waited in it) persisted
    wait(lambda: len(sim.frames()) >= 175, 180, "the simulator's 175 frames")
    sent = [iso(f["timestamp"]) for f in sim.frames()]
    received = lambda: [s["timestamp"] for s in states(sub)]  # noqa: E731
    wait(lambda: sent[-1] in received(), 240, "every reading after the outage", fw)
    got = received()
    assert len(got) == len(set(got)), "a reading published twice"
    assert got == [stamp for stamp in sent if stamp in got], "out of order"
    # lost: the first frames (the line opened late) and those while no firmware ran
    missing = [sent.index(stamp) for stamp in sent[sent.index(got[0]) :] if stamp not in got]
    assert all(killed - 2 <= i <= killed + 3 for i in missing), (missing, killed)
    assert on_flash >= 1
    by_stamp = {iso(f["timestamp"]): f["values"] for f in sim.frames()}
    first = states(sub)[0]  # the first telegram of the (simulated) day
    for state in states(sub):
        assert state["energy_export"] == Decimal(by_stamp[state["timestamp"]]["1-0:2.8.0"])
        for name in ("energy_import", "energy_export"):  # the day's start outlived the cut
            assert state[name + "_today"] == state[name] - first[name], state["timestamp"]
    restarted.stop()


def test_replays_are_rejected_across_a_reset(rig):
    broker = rig.broker()
    sub = rig.subscriber(broker.port, TOPIC + "/#")
    sim = rig.simulator(interval=0.5, first_counter=1000)
    fw = rig.firmware(broker.port, sim)
    wait(lambda: len(states(sub)) >= 3, 60, "the first states", fw)
    fw.stop(sig=9)  # no chance to save anything on the way out
    sim.stop()
    rig.started.remove(sim)
    # the same meter's older frames, recorded earlier and played back
    old = rig.simulator(interval=0.3, first_counter=900, count=40)
    fw = rig.firmware(broker.port, old)
    before = len(states(sub))
    wait(
        lambda: any(json.loads(p)["replays"] >= 5 for t, p in sub.messages(TOPIC + "/diag")),
        60,
        "replays in diag",
        fw,
    )
    assert len(states(sub)) == before
    assert re.search(r"frame counter 9\d\d is not above 10\d\d, the last accepted", fw.log())
    # The grid operator gives the meter a new key, and DLMS starts its frame counter
    # anew: with the new key in the config, the new frames are no replays.
    fw.stop()
    old.stop()
    rig.started.remove(old)
    new_key = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
    renewed = rig.add(h.Simulator(rig.dir, new_key, interval=0.5, first_counter=1))
    fw = rig.firmware(broker.port, renewed, key=new_key)
    wait(lambda: len(states(sub)) >= before + 3, 60, "states under the new key", fw)
    assert "a new key for meter 1: its frame counters start anew" in fw.log()
    assert "replay rejected" not in fw.log()


# what the framer says of a frame cut by a silence, and of a chance frame start in random
# bytes (smarty/framer.py)
_CUT = r"then silence$|cut short in its header$|without an end mark"
_CHANCE = (
    r"then the start of another frame$|^(unsupported )?DLMS length|^DLMS security"
    r"|^a \d+-byte frame does not fit"
)


def test_soak_5000_frames(rig):
    """5000 frames as fast as the line takes them: no MemoryError, the heap after the
    per-frame collection stable, every reading published or counted as dropped (a flood
    outruns the broker; a meter sends one frame in 10 s)."""
    broker = rig.broker()
    sub = rig.subscriber(broker.port, TOPIC + "/diag")
    sim = rig.simulator(interval=0.02, count=5000, rate=0)
    fw = rig.firmware(broker.port, sim)

    wait(lambda: len(sim.frames()) >= 5000, 1200, "the simulator's 5000 frames")

    def settled():  # two diagnostics in a row with nothing new and nothing waiting
        diags = [json.loads(p) for _, p in sub.messages()]
        if (
            len(diags) >= 2
            and diags[-1]["frames_ok"] == diags[-2]["frames_ok"]
            and not diags[-1]["buffered"]
        ):
            return diags[-1]
        return None

    final = wait(settled, 120, "the firmware to settle", fw)
    assert "MemoryError" not in fw.log() and final["memory_errors"] == 0, final
    diags = [json.loads(p) for _, p in sub.messages()]
    early = next(d for d in diags if d["frames_ok"] >= 100)
    # the heap after the per-frame collection does not shrink over thousands of frames
    assert final["free_heap_after_gc"] >= early["free_heap_after_gc"] - 256, (early, final)
    # all but the first frames: opening the line flushes what the pty held (the unix
    # port's termios.setraw is a TCSAFLUSH, ports/unix/modtermios.c), so the firmware
    # comes in on the middle of a frame
    assert final["frames_ok"] >= 4900, final
    # Each frame error is a frame cut by a silence (the host pausing the simulator inside
    # a frame: a busy machine may, once or twice), or a chance frame start in ciphertext
    # ("DB 08", or "/" and three letters: 1 frame in 18 holds one), in the frame the
    # firmware came in on or in the tail a paused frame sends after its cut: nothing else.
    rejected = re.findall(r"frame rejected, frame: (.*)", fw.log())
    cut = [m for m in rejected if re.search(_CUT, m)]
    chance = [m for m in rejected if re.search(_CHANCE, m)]
    assert len(rejected) == final["frame_errors"] == len(cut) + len(chance), rejected
    assert len(cut) == final["timeouts"] <= 2 and len(chance) <= 1 + len(cut), rejected
    assert final["published"] + final["dropped_readings"] == final["frames_ok"], final


class FakePeer:
    """A TCP server on the broker's port that is not a broker: `silent` accepts and never
    answers (no CONNACK), `garbage` answers what a web server would and hangs up."""

    def __init__(self, port):
        self.mode = "silent"
        self.accepted = 0
        self.server = socket.create_server(("127.0.0.1", port))
        self.server.settimeout(0.2)
        self.held = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.accepted += 1
            if self.mode == "garbage":
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                conn.close()
            else:
                self.held.append(conn)

    def stop(self):
        self.running = False
        self.thread.join(5)
        for conn in self.held:
            conn.close()
        self.server.close()


def test_a_broker_that_never_answers_then_a_peer_that_is_not_mqtt(rig):
    """No CONNACK (the connect times out), then a peer that answers garbage, then the real
    broker: the firmware never hangs or dies, and every reading arrives once it is back."""
    port = h.free_port()
    fake = FakePeer(port)
    try:
        sim = rig.simulator(interval=1.0, count=90)
        fw = rig.firmware(port, sim)
        wait(lambda: fake.accepted >= 1, 60, "a connection attempt", fw)
        wait(lambda: "no answer within 10 s" in fw.log(), 60, "the timeout", fw)
        fake.mode = "garbage"
        wait(lambda: "answered, but not as an MQTT broker" in fw.log(), 120, "the garbage", fw)
        assert fw.process.alive()
    finally:
        fake.stop()
    broker = rig.add(h.Broker(rig.dir / "real", port=port).start())
    sub = rig.subscriber(broker.port, TOPIC + "/state")
    wait(lambda: len(sim.frames()) >= 90, 150, "the simulator's 90 frames")
    sent = [iso(f["timestamp"]) for f in sim.frames()]
    received = lambda: [s["timestamp"] for s in states(sub)]  # noqa: E731
    wait(lambda: sent[-1] in received(), 120, "every reading", fw)
    got = received()
    assert got == sent[sent.index(got[0]) :] and sent.index(got[0]) <= 3, "a reading lost"
    assert fw.process.alive() and "MemoryError" not in fw.log()
