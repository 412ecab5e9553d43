"""boot.py on CPython: what a start decides from the config, the setup button and the
WiFi fallbacks, and what it hands assemble.py (setup mode itself: test_setup.py; the
whole start on MicroPython: test_firmware.py, test_board_models.py)."""

import json
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "firmware" / "lib"))
from smartyreader import boot, start  # noqa: E402

BOARD = json.loads((ROOT / "boards" / "unix" / "board.json").read_text())
KEY = "00112233445566778899aabbccddeeff"
READER = {"meter": {"key": KEY}, "uart": {"device": "/dev/null"}, "mqtt": {"host": "10.0.0.2"}}


@pytest.fixture(autouse=True)
def modules():
    """boot.prepare() drops config.py from sys.modules, as on a board: put it back."""
    saved = dict(sys.modules)
    yield
    sys.modules.clear()
    sys.modules.update(saved)


def config(tmp_path, tree):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(tree))
    return str(path)


def fallbacks(tmp_path):
    return (tmp_path / start.FALLBACKS).read_text().split()


def test_a_valid_config_is_handed_to_the_reader(tmp_path):
    kind, cfg, wifi, shell_port, no_wifi_s, falls = boot.prepare(config(tmp_path, READER), BOARD)
    assert kind == start.READER
    assert cfg["meters"][0]["key"] == KEY and cfg["meters"][0]["uart"]["device"] == "/dev/null"
    assert (cfg["mqtt"]["host"], cfg["mqtt"]["port"]) == ("10.0.0.2", 1883)
    assert shell_port is None  # no station shell asked for
    assert (no_wifi_s, falls) == (0, 0)  # no home WiFi to lose: the host's own network
    assert wifi.connected()
    assert "smartyreader.config" not in sys.modules  # its code is heap the reader needs


def test_the_wait_for_the_home_wifi_doubles_after_each_fallback(tmp_path):
    tree = dict(READER, wifi={"ssid": "home", "password": "secret123", "fallback_min": 10})
    path = config(tmp_path, tree)
    assert boot.prepare(path, BOARD)[4] == 10 * 60
    start.set_fallbacks(path, 2, False)
    assert boot.prepare(path, BOARD)[4:] == (40 * 60, 2)
    start.set_fallbacks(path, 9, False)
    assert boot.prepare(path, BOARD)[4] == 160 * 60  # x16 at most


def test_the_station_shell_needs_a_password(tmp_path):
    tree = dict(READER, setup={"station_shell": True, "port": 2424})
    assert boot.prepare(config(tmp_path, tree), BOARD)[3] is None
    tree["setup"]["password"] = "a long password"
    assert boot.prepare(config(tmp_path, tree), BOARD)[3] == 2424
    assert "smartyreader.config" in sys.modules  # the shell's


def test_setup_mode_is_handed_its_port(tmp_path):
    path = str(tmp_path / "config.json")  # none yet
    assert boot.prepare(path, BOARD) == (start.SETUP, 23, None)
    assert boot.prepare(path, BOARD, setup_port=2424) == (start.SETUP, 2424, None)


def test_why_setup_mode_starts(tmp_path):
    path = str(tmp_path / "config.json")
    reason, cfg, settings = boot._setup_reason(path, BOARD, False)
    assert (reason, cfg) == ("the config is not complete", None)
    assert settings["setup"]["port"] == 23  # what setup mode needs of a config that is not there
    path = config(tmp_path, {"meter": {"key": "not hex"}, "mqtt": {"host": "10.0.0.2"}})
    assert boot._setup_reason(path, BOARD, False)[0] == "the config is not complete"
    path = config(tmp_path, READER)
    assert boot._setup_reason(path, BOARD, True)[0] == "asked for"
    assert boot._setup_reason(path, BOARD, "the P1 port cannot be opened")[0] == (
        "the P1 port cannot be opened"
    )
    reason, cfg, _ = boot._setup_reason(path, BOARD, False)
    assert reason is None and cfg["meters"][0]["key"] == KEY


def test_a_fallback_to_setup_mode_happens_once(tmp_path):
    path = config(tmp_path, READER)
    start.set_fallbacks(path, 1, True)  # the reader lost the home WiFi: setup mode next
    kind, port, home = boot.prepare(path, BOARD)
    assert (kind, port) == (start.SETUP, 23) and home.connected()  # watched, to go back
    assert fallbacks(tmp_path) == ["1", "0"]  # a reset in setup mode brings the reader back
    assert boot._setup_reason(path, BOARD, False)[0] is None


def test_a_board_description_that_is_not_valid_is_reported(tmp_path, capsys):
    path = tmp_path / "board.json"
    path.write_text(json.dumps({"name": "x", "mcu": "z80"}))
    assert boot.read_board(str(path)) is None
    assert "deploy the board's files again" in capsys.readouterr().out
    assert boot.read_board(str(ROOT / "boards" / "unix" / "board.json")) == BOARD


@pytest.fixture
def stock(tmp_path, monkeypatch):
    """The application as .mpy files (a stock image): config.mpy beside boot's code, and
    config.json and board.json on the board's filesystem; (config path, board path)."""
    code = tmp_path / "lib" / "config.mpy"
    code.parent.mkdir()
    code.write_bytes(b"M\x06\x00\x1f the config code")
    monkeypatch.setattr(boot, "_CONFIG_MPY", str(code))
    monkeypatch.setattr(boot.hw, "resets", lambda: True)  # a board
    board = tmp_path / "board.json"
    board.write_text(json.dumps(BOARD))
    return config(tmp_path, READER), str(board)


def test_a_config_validated_on_the_stock_path_is_remembered(tmp_path, stock, capsys):
    assert boot.begin(*stock) == (BOARD, (start.AGAIN,))  # validated: start again
    assert "config validated and remembered" in capsys.readouterr().out
    sys.modules.pop("smartyreader.config", None)
    board, job = boot.begin(*stock)
    assert board == BOARD and job[0] == start.READER
    assert "smartyreader.config" not in sys.modules  # its names never reach the heap
    assert job[1] == json.loads(json.dumps(boot.prepare(stock[0], BOARD)[1]))
    assert job[1]["meters"][0]["key"] == KEY and job[1]["mqtt"]["host"] == "10.0.0.2"
    assert boot.begin(*stock, setup=True)[1][:2] == (start.SETUP, 23)  # setup mode still


@pytest.mark.parametrize("changed", ["config.json", "board.json", "lib/config.mpy"])
def test_a_changed_file_is_validated_again(tmp_path, stock, changed):
    assert boot.begin(*stock)[1] == (start.AGAIN,)
    path = tmp_path / changed
    path.write_bytes(path.read_bytes().replace(b"10.0.0.2", b"10.0.0.3") + b" ")
    assert boot.begin(*stock)[1] == (start.AGAIN,)  # validated, and remembered again
    job = boot.begin(*stock)[1]
    assert job[0] == start.READER and job[1]["mqtt"]["host"].startswith("10.0.0.")


def test_a_host_remembers_the_config_and_goes_on(tmp_path, stock, monkeypatch, capsys):
    monkeypatch.setattr(boot.hw, "resets", lambda: False)  # config.py is loaded already
    first = boot.begin(*stock)[1]
    assert first[0] == start.READER and (tmp_path / boot.REMEMBERED).exists()
    assert "starting again" not in capsys.readouterr().out
    sys.modules.pop("smartyreader.config", None)
    again = boot.begin(*stock)[1]  # the host's next start
    assert again[0] == start.READER and "smartyreader.config" not in sys.modules
    assert again[1] == json.loads(json.dumps(first[1]))


def test_a_config_that_is_not_valid_is_never_remembered(tmp_path, stock):
    config(tmp_path, {"meter": {"key": "not hex"}, "mqtt": {"host": "10.0.0.2"}})
    assert boot.begin(*stock)[1][0] == start.SETUP
    assert not (tmp_path / boot.REMEMBERED).exists()


def test_a_damaged_memo_is_validated_again(tmp_path, stock):
    assert boot.begin(*stock)[1] == (start.AGAIN,)
    memo = tmp_path / boot.REMEMBERED
    memo.write_text(memo.read_text()[:40])  # cut short
    assert boot.begin(*stock)[1] == (start.AGAIN,)
    assert boot.begin(*stock)[1][0] == start.READER


def test_frozen_or_source_code_validates_at_every_start(tmp_path, stock, monkeypatch):
    monkeypatch.setattr(boot, "_CONFIG_MPY", str(tmp_path / "no" / "config.mpy"))
    for _ in range(2):
        assert boot.begin(*stock)[1][0] == start.READER
    assert not (tmp_path / boot.REMEMBERED).exists()


def test_a_config_that_cannot_be_remembered_runs_without_a_new_start(tmp_path, stock, capsys):
    (tmp_path / boot.REMEMBERED).mkdir()  # where the memo goes, a file cannot be written
    for _ in range(2):
        assert boot.begin(*stock)[1][0] == start.READER  # validated each start, never AGAIN
    assert capsys.readouterr().out.count("cannot remember the validated config") == 2
