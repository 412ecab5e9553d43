"""config.json validation: every bad or missing key gets a message a user understands,
all at once; secrets are never repeated."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "firmware" / "lib"))
from smartyreader import config  # noqa: E402

KEY = "00112233445566778899AABBCCDDEEFF"
GOOD = {"meter": {"key": KEY}, "mqtt": {"host": "192.168.1.10"}, "uart": {"rx": 3}}


def problems(tree, board=None):
    with pytest.raises(config.ConfigError) as e:
        config.validate(tree, board)
    return e.value.problems


def test_a_good_config_gets_defaults_and_the_boards_pins():
    board = json.loads((ROOT / "boards" / "lolin_d1_mini_pro" / "board.json").read_text())
    values = config.validate(
        {"meter": {"key": KEY}, "mqtt": {"host": "broker", "tls": True}}, board
    )
    assert values["mqtt.port"] == 8883 and values["mqtt.topic"] == "smartyreader"
    assert values["uart.rx"] == 3 and values["data_request.pin"] == 0
    assert values["data_request.active_low"] is True and values["uart.detach_repl"] is True


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
    shown = config.show(config.validate(dict(GOOD, mqtt={"host": "h", "password": secret})))
    assert secret not in shown and 'mqtt.password = "****"' in shown
    assert KEY not in shown and '"****FF"' in shown  # the key's last two digits only


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(config.ConfigError, match="not found: run the setup"):
        config.load(str(tmp_path / "config.json"))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(config.ConfigError, match="is not valid JSON"):
        config.load(str(tmp_path / "config.json"))


def test_the_firmware_does_not_start_on_a_bad_config(tmp_path):
    """On MicroPython: the problems are printed, the key never, and no crash."""
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
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "config: meter.key must be 32 hex digits" in proc.stdout
    assert "config: mqtt.port must be a whole number from 1 to 65535, not 0" in proc.stdout
    assert "not starting: fix config.json" in proc.stdout
    assert KEY not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
