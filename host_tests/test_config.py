"""config.json validation: every bad or missing key gets a message a user understands,
all at once; secrets are never repeated."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from p1harness import free_port  # noqa: E402

from conftest import ROOT, run_micropython

sys.path.insert(0, str(ROOT / "firmware" / "lib"))
from smartyreader import config  # noqa: E402

KEY = "00112233445566778899AABBCCDDEEFF"
GOOD = {"meter": {"key": KEY}, "mqtt": {"host": "192.168.1.10"}, "uart": {"rx": 3}}


def problems(tree, board=None):
    with pytest.raises(config.ConfigError) as e:
        config.validate(tree, board)
    return e.value.problems


def board(name):
    return json.loads((ROOT / "boards" / name / "board.json").read_text())


def test_a_good_config_gets_defaults_and_the_boards_pins():
    values = config.validate(
        {"meter": {"key": KEY}, "mqtt": {"host": "broker"}}, board("lolin_d1_mini_pro")
    )
    (meter,) = values["meters"]
    assert values["mqtt"]["port"] == 1883 and values["mqtt"]["topic"] == "smartyreader"
    assert meter["uart"]["rx"] == 3 and meter["data_request"] == {"pin": 0, "active_low": True}
    assert meter["uart"]["detach_repl"] is True
    values = config.validate(
        {"meter": {"key": KEY}, "mqtt": {"host": "broker", "tls": True}},
        board("mhet_esp32minikit"),
    )
    assert values["mqtt"]["port"] == 8883


def test_the_esp32_board_as_the_pcb_wires_it():
    """The PCB's transistor re-inverts RX on both boards; data request is active low on
    both (the original sketch); TX off the console's RX (3) and the flash pins (6-11)."""
    values = config.validate(
        {"meter": {"key": KEY}, "mqtt": {"host": "b"}}, board("mhet_esp32minikit")
    )
    uart, request = values["meters"][0]["uart"], values["meters"][0]["data_request"]
    assert (uart["id"], uart["rx"], uart["invert"]) == (1, 1, False)
    assert uart["tx"] not in (1, 3, 6, 7, 8, 9, 10, 11, 17)
    assert (request["pin"], request["active_low"]) == (17, True)
    assert uart["detach_repl"] is True  # a 3 s window before GPIO1 is taken


def test_tls_is_refused_on_the_esp8266():
    for mqtt in ({"host": "b", "tls": True}, {"host": "b", "ca": "ca.pem"}):
        got = problems({"meter": {"key": KEY}, "mqtt": mqtt}, board("lolin_d1_mini_pro"))
        assert any("the ESP8266's TLS (axTLS) cannot check" in p for p in got), got


def test_the_station_shell_is_refused_on_the_esp8266():
    # measured: the reader with the station shell needs 44 KB (test_setup.py runs it at
    # an ESP32's 64 KB); an ESP8266 has 36 KB
    tree = {"meter": {"key": KEY}, "mqtt": {"host": "b"}, "setup": {"station_shell": True}}
    got = problems(tree, board("lolin_d1_mini_pro"))
    assert any("an ESP8266's heap has no room for the shell" in p for p in got), got
    assert config.validate(tree, board("mhet_esp32minikit"))["setup"]["station_shell"]


def test_every_problem_at_once_with_clear_messages():
    got = problems({"meter": {"key": "1234"}, "mqtt": {"port": 70000, "hots": "x", "tls": "yes"}})
    assert "meter.key must be 32 hex digits (16 bytes, as your grid operator gives it)" in got
    assert "mqtt.port must be a whole number from 1 to 65535, not 70000" in got
    assert "unknown key mqtt.hots (did you mean mqtt.host?)" in got
    assert 'mqtt.tls must be true or false, not "yes"' in got
    assert "mqtt.host is missing" in got
    assert "uart.rx is missing (or uart.device on a host)" in got


def test_secrets_are_never_repeated():
    secret = "my-very-secret-password"
    got = problems(dict(GOOD, mqtt={"host": "h", "password": 42}, meter={"key": "not-a-key-xyz"}))
    assert not any("not-a-key-xyz" in p or "42" in p for p in got), got
    shown = config.show(config.merge(dict(GOOD, mqtt={"host": "h", "password": secret}))[0])
    assert secret not in shown and 'mqtt.password = "****"' in shown
    assert KEY not in shown and '"****FF"' in shown  # the key's last two digits only


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(config.ConfigError, match="not found: run the setup"):
        config.load(str(tmp_path / "config.json"))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(config.ConfigError, match="is not valid JSON"):
        config.load(str(tmp_path / "config.json"))


def test_a_bad_config_starts_setup_mode_instead(tmp_path):
    """On MicroPython: the problems are printed, the key never, no crash; setup mode
    starts (its serial shell reads stdin here: `exit` leaves it)."""
    (tmp_path / "config.json").write_text(
        json.dumps({"meter": {"key": KEY + "00"}, "mqtt": {"port": 0}})
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "p1.py"),
            "run",
            "--config",
            str(tmp_path / "config.json"),
            "--runtime",
            "micropython32",
            "--setup-port",
            str(free_port()),
        ],
        input="exit\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "config: meter.key must be 32 hex digits" in proc.stdout
    assert "config: mqtt.port must be a whole number from 1 to 65535, not 0" in proc.stdout
    assert "setup mode: the config is not complete" in proc.stdout
    assert KEY not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr


BOARDS = sorted(p.parent.name for p in (ROOT / "boards").glob("*/board.json"))


@pytest.mark.parametrize("board", BOARDS)
def test_each_board_description_is_valid_for_the_runtime(board, tmp_path):
    path = ROOT / "boards" / board / "board.json"
    assert config.check_board(json.loads(path.read_text())) == []
    # the very code the firmware runs, on MicroPython: read_board raises on any problem
    script = tmp_path / "check_board.py"
    script.write_text(
        "import sys\nfrom smartyreader import config\n"
        "print(config.read_board(sys.argv[1])['mcu'])\n"
    )
    out = run_micropython("micropython32", script, path, micropypath=[ROOT / "firmware" / "lib"])
    assert out.strip() == json.loads(path.read_text())["mcu"]


def test_bad_board_descriptions_are_explained():
    good = json.loads((ROOT / "boards" / "mhet_esp32minikit" / "board.json").read_text())
    assert config.check_board(dict(good, mcu="esp8285")) == [
        "mcu must be one of esp8266, esp32, unix"
    ]
    assert config.check_board(dict(good, gpio=[1, "two"])) == [
        "gpio must be a list of GPIO numbers"
    ]
    assert config.check_board(dict(good, uart={"rx": 40}))[0].startswith(
        "uart.rx: GPIO 40 is not usable on the MH-ET LIVE ESP32MiniKit"
    )
    assert config.check_board(dict(good, uart={"rx": "1"})) == [
        'uart.rx must be a whole number from 0 to 48, not "1"'
    ]
    assert config.check_board(dict(good, data_request={"pin": 35})) == [
        "data_request.pin: GPIO 35 is input only on this board"
    ]
    assert config.check_board(dict(good, leds=1)) == ["unknown key leds"]


def test_pins_are_checked_against_the_board():
    board = json.loads((ROOT / "boards" / "lolin_d1_mini_pro" / "board.json").read_text())
    got = problems(dict(GOOD, status_led={"pin": 7}), board)
    assert got == [
        "status_led.pin: GPIO 7 is not usable on the LOLIN D1 mini pro (ESP8266) on a "
        "SmartyReader PCB (usable: 0 1 2 3 4 5 12 13 14 15 16)"
    ]
    # Pin(16, Pin.IN, Pin.PULL_UP) raises ValueError on the ESP8266 (machine_pin.c)
    assert problems(dict(GOOD, setup_button={"pin": 16}), board) == [
        "setup_button.pin: GPIO 16 has no pull-up for a button on this board"
    ]
    # while the REPL has UART0 (until detached), its bytes go to the REPL (esp8266 uart.c)
    assert problems(dict(GOOD, uart={"rx": 3, "detach_repl": False}), board) == [
        "uart.detach_repl: on the ESP8266 UART0 is the REPL's until detached: the meter's"
        " bytes would go to the REPL (set it true)"
    ]
    # the ESP32 takes a pull-up on GPIO 34-39 without a word, and the pin floats
    # (esp32 machine_pin.c; host_tests/models/machine.py)
    esp32 = json.loads((ROOT / "boards" / "mhet_esp32minikit" / "board.json").read_text())
    assert problems(dict(GOOD, setup_button={"pin": 36}), esp32) == [
        "setup_button.pin: GPIO 36 has no pull-up for a button on this board"
    ]
    assert config.validate(dict(GOOD, setup_button={"pin": 4}), esp32)["setup_button"]["pin"] == 4


def test_set_values_are_parsed_as_the_schema_takes_them():
    assert config.parse("mqtt.port", "8883") == 8883
    assert config.parse("mqtt.tls", "on") is True and config.parse("mqtt.tls", "No") is False
    assert config.parse("wifi.password", "1234 5678") == "1234 5678"  # text stays text
    assert config.parse("mqtt.user", "") is None
    with pytest.raises(config.ConfigError, match="uart.rx must be a whole number from 0 to 48"):
        config.parse("uart.rx", "-1")
    with pytest.raises(config.ConfigError) as e:
        config.parse("meter.key", "secret-value")
    assert "secret-value" not in str(e.value)


def test_save_is_atomic_and_recovers_a_cut_rename(tmp_path):
    path = str(tmp_path / "config.json")
    config.save({"a": 1}, path)
    config.save({"a": 2}, path)
    assert config.read_tree(path) == {"a": 2} and not (tmp_path / "config.json.tmp").exists()
    (tmp_path / "config.json").rename(tmp_path / "config.json.tmp")  # cut between the steps
    assert config.read_tree(path) == {"a": 2} and (tmp_path / "config.json").exists()


# ---- several meters (issue 13) ----

KEY2 = "FFEEDDCCBBAA99887766554433221100"


def meters(*entries, **top):
    return {"meters": list(entries), "mqtt": {"host": "b", "topic": "home/smarty"}, **top}


def test_one_meter_at_the_top_is_a_list_of_one():
    values = config.validate(GOOD, board("lolin_d1_mini_pro"))
    (meter,) = values["meters"]
    assert (meter["key"], meter["topic"], meter["legacy_topic"]) == (
        KEY,
        "smartyreader",
        "smartyreader/legacy",
    )
    assert (meter["uart"]["rx"], meter["data_request"]) == (3, {"pin": 0, "active_low": True})
    assert "uart" not in values and "meter" not in values  # in the meters list only


def test_two_meters_on_the_esp32_take_the_boards_two_lines():
    values = config.validate(meters({"key": KEY}, {"key": KEY2}), board("mhet_esp32minikit"))
    first, second = values["meters"]
    assert (first["uart"]["id"], first["uart"]["rx"], first["data_request"]["pin"]) == (1, 1, 17)
    assert (second["uart"]["id"], second["uart"]["rx"], second["data_request"]["pin"]) == (
        2,
        16,
        26,
    )
    assert second["uart"]["tx"] not in (1, 3, 17, 32) and second["data_request"]["active_low"]
    assert (first["topic"], second["topic"]) == ("home/smarty/1", "home/smarty/2")
    assert second["legacy_topic"] == "home/smarty/2/legacy" and second["key"] == KEY2


def test_five_meters_on_a_host_each_with_its_own_device_and_topic():
    entries = [{"key": KEY, "uart": {"device": f"/dev/ttyUSB{n}"}} for n in range(5)]
    entries[2]["topic"] = "flats/three"
    values = config.validate(meters(*entries), board("unix"))
    assert [m["topic"] for m in values["meters"]] == [
        "home/smarty/1",
        "home/smarty/2",
        "flats/three",
        "home/smarty/4",
        "home/smarty/5",
    ]


def test_what_the_meters_may_not_share_or_ask_of_the_board():
    esp32, esp8266 = board("mhet_esp32minikit"), board("lolin_d1_mini_pro")
    assert (
        "meters: the LOLIN D1 mini pro (ESP8266) on a SmartyReader PCB reads 1 meter at most"
        " (its free receiving UARTs), not 2"
    ) in problems(meters({"key": KEY}, {"key": KEY2}), esp8266)
    assert "not 3" in problems(meters({"key": KEY}, {"key": KEY}, {"key": KEY}), esp32)[0]
    shared_uart = meters({"key": KEY}, {"key": KEY2, "uart": {"id": 1, "rx": 4, "tx": 5}})
    assert problems(shared_uart, esp32) == [
        "meters.2.uart.id: UART 1 is taken by meters.1.uart.id"
    ]
    shared_pin = meters({"key": KEY}, {"key": KEY2, "data_request": {"pin": 17}})
    assert problems(shared_pin, esp32) == [
        "meters.2.data_request.pin: GPIO 17 is taken by meters.1.data_request.pin"
    ]
    led_pin = meters({"key": KEY}, {"key": KEY2, "uart": {"rx": 2}})
    assert problems(led_pin, esp32) == ["meters.2.uart.rx: GPIO 2 is taken by status_led.pin"]
    log_uart = meters({"key": KEY}, {"key": KEY2}, log={"tx": 4})
    assert problems(log_uart, esp32) == ["meters.2.uart.id: UART 2 is taken by log.tx"]
    same_topic = meters(
        {"key": KEY, "uart": {"device": "/dev/a"}, "topic": "x"},
        {"key": KEY2, "uart": {"device": "/dev/b"}, "topic": "x"},
    )
    assert problems(same_topic) == ["meters.2.topic: topic x is taken by meters.1.topic"]
    same_device = meters(
        {"key": KEY, "uart": {"device": "/dev/a"}}, {"key": KEY2, "uart": {"device": "/dev/a"}}
    )
    assert problems(same_device) == [
        "meters.2.uart.device: the serial device /dev/a is taken by meters.1.uart.device"
    ]
    nine = [{"key": KEY, "uart": {"device": f"/dev/ttyUSB{n}"}} for n in range(9)]
    assert problems(meters(*nine)) == [  # no board.json: the queue's limit
        "meters: the board reads 8 meters at most (its free receiving UARTs), not 9"
    ]


def test_a_meters_entry_gets_its_own_clear_messages():
    bad = meters(
        {"key": "00112233", "uart": {"device": "/dev/a", "rxx": 3}},
        {"uart": {"device": "/dev/b"}, "topic": "a/#"},
        "not an object",
        {"key": KEY, "name": ""},
    )
    found = problems(bad)
    for message in (
        "meters.1.key must be 32 hex digits (16 bytes, as your grid operator gives it)",
        "unknown key meters.1.uart.rxx (did you mean meters.1.uart.rx?)",
        'meters.2.topic must be an MQTT topic without wildcards (# +), not "a/#"',
        "meters.2.key is missing",
        "meters.3 must be an object (key, uart, topic ...)",
        'meters.4.name must be a non-empty text, not ""',
        "meters.4.uart.rx is missing (or uart.device on a host)",
    ):
        assert message in found
    assert not any("00112233" in p for p in found)  # a key, even a wrong one, is not repeated
    assert problems({"meters": [], "mqtt": {"host": "b"}}) == [
        "meters must be a list of meters (objects), one or more"
    ]
    no_broker = {"meters": [{"key": KEY, "uart": {"device": "/dev/a"}}]}
    assert problems(no_broker) == ["mqtt.host is missing"]  # each meter has its key, not this


def test_top_level_meter_keys_beside_a_meters_list_are_refused():
    tree = meters(
        {"key": KEY, "uart": {"device": "/dev/a"}},
        meter={"key": KEY},
        uart={"rx": 3},
        name="x",
    )
    tree["mqtt"]["legacy_topic"] = "old/topic"
    assert problems(tree) == [
        "meter: with a meters list, each meter has its own (meters.N.key)",
        "uart: with a meters list, each meter has its own (meters.N.uart.*)",
        "name: with a meters list, each meter has its own (meters.N.name)",
        "mqtt.legacy_topic: with a meters list, each meter has its own (meters.N.legacy_topic)",
    ]


def test_a_boards_further_lines_are_checked():
    esp32 = board("mhet_esp32minikit")
    assert config.check_board(dict(esp32, lines=[{"uart": {"rx": "a"}}, 3])) == [
        "lines: meter 2's uart.rx must be a whole number from 0 to 48",
        "lines: meter 3's line: unknown key 3",
    ]


def test_every_key_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    assert [k for k, _, _ in config.SCHEMA if f"`{k}`" not in readme] == []
    meters = readme[readme.index("### Several meters") :]
    meters = meters[: meters.index("\n## ")]
    entry = ("key", "auth_key", "uart", "data_request", "topic", "name", "legacy_topic")
    assert [k for k in entry if f"| `{k}`" not in meters and f", `{k}`" not in meters] == []
