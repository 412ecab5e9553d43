"""The setup shell on the 32-bit MicroPython port (application frozen in, as on a board),
driven over a real TCP socket and on the serial console (a pipe to stdin): commands,
validation, masking, password and lockout, atomic save, and the saved config running
the firmware against a real Mosquitto."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import p1harness as h  # noqa: E402

KEY = "000102030405060708090a0b0c0d0e0f"
PASSWORD = "correct horse battery"

# The station shell beside the reader: an ESP32's heap (over 100 KB free; tested at
# 64 KB).  An ESP8266's 36 KB has no room for both: config refuses it there.
STATION_HEAP = "64k"


class Rig(h.Rig):
    def firmware(self, board="unix", setup=True, **kw):
        self.port = h.free_port()
        return self.add(
            h.Firmware(
                self.dir,
                self.config,
                frozen=True,
                board=board,
                setup=setup,
                setup_port=self.port,
                **kw,
            )
        )

    def shell(self, port=None):
        return self.add(h.SetupClient(port or self.port))


@pytest.fixture
def rig(tmp_path):
    rig = Rig(tmp_path, KEY)
    rig.config = tmp_path / "config.json"
    yield rig
    rig.stop()


def configure(shell, **settings):
    for key, value in settings.items():
        answer = shell.command(f"set {key} {value}")
        assert answer.startswith(key + " = "), answer


def test_a_blank_board_gets_a_config_with_every_command(rig):
    fw = rig.firmware(board="lolin_d1_mini_pro", setup=False)  # no config.json: setup mode
    shell = rig.shell()
    assert "config.json not found" in shell.greeting and shell.prompt == "smarty> "
    helped = shell.command("help")
    for command in ("show", "set", "unset", "scan", "test wifi", "test mqtt", "save", "reboot"):
        assert f"\n  {command}" in helped
    shown = shell.command("show")
    assert "to fix before save: meter.key is missing" in shown
    assert "uart.rx = 3" in shown  # the board's pins are the defaults
    assert "this platform has no WiFi radio" in shell.command("scan")
    assert shell.command("frobnicate") == "unknown command 'frobnicate': type help"
    # every value is checked as it is set, with a message saying what is expected
    bad = {
        "set meter.key 0011": "meter.key must be 32 hex digits",
        "set mqtt.port 70000": "mqtt.port must be a whole number from 1 to 65535, not 70000",
        "set mqtt.tls maybe": "mqtt.tls must be true or false, not maybe",
        "set mqtt.hots broker": "unknown key mqtt.hots (did you mean mqtt.host?)",
        "set data_request.pin 9": "data_request.pin: GPIO 9 is not usable on the LOLIN",
        "set mqtt.topic a/#": "mqtt.topic must be an MQTT topic without wildcards",
        "set setup.password short": "setup.password must have at least 8 characters",
        "unset nothing.here": "unknown key nothing.here",
    }
    for line, message in bad.items():
        assert shell.command(line).startswith(message), line
    configure(shell, **{"mqtt.host": "192.168.1.10", "mqtt.port": 1884, "mqtt.tls": "yes"})
    assert shell.command("set data_request.pin 5") == "data_request.pin = 5"
    assert shell.command("unset data_request.pin") == "data_request.pin: back to its default"
    assert "data_request.pin = 0" in shell.command("show data_request.pin")
    assert shell.command("save").startswith("not saved: set setup.password first")
    configure(shell, **{"setup.password": PASSWORD})
    assert "meter.key is missing" in shell.command("save")  # every problem, not written
    assert not rig.config.exists()
    configure(shell, **{"meter.key": KEY.upper(), "wifi.ssid": '"My home WiFi"'})
    assert "the ESP8266's TLS (axTLS) cannot check" in shell.command("save")
    assert shell.command("unset mqtt.tls") == "mqtt.tls: back to its default"
    assert shell.command("save") == f"saved {rig.config}; type reboot to start reading the meter"
    saved = json.loads(rig.config.read_text())
    assert saved["mqtt"] == {"host": "192.168.1.10", "port": 1884}
    assert saved["wifi"]["ssid"] == "My home WiFi" and saved["meter"]["key"] == KEY.upper()
    assert PASSWORD not in rig.config.read_text()  # kept salted and hashed
    assert shell.command("exit") == "bye"
    assert fw.process.alive()  # the shell stays open for the next session


def test_secrets_are_masked_in_every_answer(rig):
    rig.firmware()
    shell = rig.shell()
    answers = [
        shell.command(f"set meter.key {KEY}"),
        shell.command("set mqtt.password s3cret-mqtt"),
        shell.command("set wifi.password s3cret-wifi"),
        shell.command("set meter.auth_key not-a-key"),
        shell.command("show"),
        shell.command("show meter.key"),
    ]
    text = "\n".join(answers)
    assert answers[0] == 'meter.key = "****0f"'
    assert answers[3].startswith("meter.auth_key must be 32 hex digits (16 bytes")
    for secret in (KEY, KEY[:30], "s3cret-mqtt", "s3cret-wifi", "not-a-key"):
        assert secret not in text
    assert 'mqtt.password = "****"' in text and 'wifi.password = "****"' in text


def save_config(rig, **settings):
    shell = rig.shell()
    settings = {
        "meter.key": KEY,
        "mqtt.host": "127.0.0.1",
        "uart.device": "/dev/null",
        "setup.password": PASSWORD,
        **settings,
    }
    configure(shell, **settings)
    assert shell.command("save").startswith("saved")
    shell.close()


def test_password_after_the_first_save_and_lockout(rig):
    rig.firmware()
    save_config(rig)
    shell = rig.shell()
    assert shell.greeting == "SmartyReader setup. Password:" and shell.prompt == "password: "
    assert shell.command("show") == "wrong password"  # no command before the password
    assert shell.command(PASSWORD.upper()) == "wrong password"
    assert shell.command("x" * 200).startswith("wrong password; locked for 60 s")
    # locked for every session, even with the right password
    other = rig.shell()
    answer = other.command(PASSWORD)
    assert answer.startswith("locked after too many wrong passwords: try again in")
    seconds = int(answer.split()[-2])
    assert 50 <= seconds <= 60 and other.prompt == "password: "


def test_the_right_password_opens_the_shell(rig):
    rig.firmware()
    save_config(rig)
    shell = rig.shell()
    assert shell.command(PASSWORD) == "welcome. Type help for the commands."
    assert 'meter.key = "****0f"' in shell.command("show")
    assert shell.prompt == "smarty> "


def test_telnet_negotiation_and_control_characters_are_ignored(rig):
    rig.firmware()
    shell = rig.shell()
    # IAC DO ECHO, IAC WILL NAWS, IAC SB NAWS 0 80 0 24 IAC SE, then a command
    negotiation = b"\xff\xfd\x01\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0"
    line = negotiation + b"set mqtt.port 1884\x07\r\n"
    assert shell.command(line) == "mqtt.port = 1884"


def test_kill_during_save_leaves_a_whole_config(rig, tmp_path):
    """SIGKILL at random moments while sessions save one config, then another: what is on
    disk is always one of them, whole, and the firmware boots from it."""
    rig.firmware()
    save_config(rig, **{"mqtt.topic": "first"})
    versions = [json.loads(rig.config.read_text())]
    for attempt in range(12):
        fw = rig.firmware()
        shell = rig.shell()
        assert shell.command(PASSWORD).startswith("welcome")
        topic = f"topic{attempt}"
        configure(shell, **{"mqtt.topic": topic, "mqtt.client_id": "x" * (attempt * 20)})
        shell.sock.sendall(b"save\r\n")
        time.sleep(attempt * 0.0005)
        fw.stop(signal.SIGKILL)
        shell.close()
        text = rig.config.read_text()
        saved = json.loads(text)  # never a partial file
        assert saved in versions or saved["mqtt"]["topic"] == topic
        if saved not in versions:
            versions.append(saved)
    # a save cut between removing the old file and renaming the new (FAT): recovered
    temporary = tmp_path / "config.json.tmp"
    rig.config.rename(temporary)
    rig.firmware()
    shell = rig.shell()
    assert shell.prompt == "password: " and rig.config.exists() and not temporary.exists()
    # a leftover partial temporary (killed while writing it) is ignored
    temporary.write_text('{"mqtt": {"top')
    shell = rig.shell()
    assert shell.command(PASSWORD).startswith("welcome")
    topic = json.loads(rig.config.read_text())["mqtt"]["topic"]
    assert shell.command("show mqtt.topic") == f'mqtt.topic = "{topic}"'


def test_a_save_that_cannot_write_keeps_the_old_config(rig, tmp_path):
    rig.firmware()
    save_config(rig, **{"mqtt.topic": "kept"})
    before = rig.config.read_text()
    (tmp_path / "config.json.tmp").mkdir()  # the temporary file cannot be written
    shell = rig.shell()
    shell.command(PASSWORD)
    configure(shell, **{"mqtt.topic": "lost"})
    answer = shell.command("save")
    assert answer.startswith(f"not saved: cannot write {rig.config}") and "old settings" in answer
    assert rig.config.read_text() == before


def test_test_mqtt_with_a_real_broker(rig):
    broker = rig.broker(users={"smarty": "mqtt-pass"})
    rig.firmware()
    shell = rig.shell()
    configure(shell, **{"mqtt.host": "127.0.0.1", "mqtt.port": broker.port, "mqtt.user": "smarty"})
    assert "wrong mqtt.user or mqtt.password" in shell.command("test mqtt")
    configure(shell, **{"mqtt.password": "mqtt-pass"})
    answer = shell.command("test mqtt")
    assert answer == f"ok: connected to the MQTT broker 127.0.0.1:{broker.port} as smarty"
    broker.stop()
    assert "cannot reach the MQTT broker" in shell.command("test mqtt")
    assert shell.command("test wifi").startswith("ok: this platform has no WiFi radio")
    assert shell.command("test nothing") == "usage: test wifi | test mqtt"


def test_setup_then_reboot_reads_the_meter(rig):
    """The round trip: a config made in the shell runs the firmware, which publishes."""
    broker = rig.broker()
    sub = rig.subscriber(broker.port, "home/meter/state")
    sim = rig.simulator(interval=0.5)
    fw = rig.firmware(heapsize="64k")
    shell = rig.shell()
    configure(
        shell,
        **{
            "meter.key": KEY,
            "mqtt.host": "127.0.0.1",
            "mqtt.port": broker.port,
            "mqtt.topic": "home/meter",
            "uart.device": sim.link,
            "setup.password": PASSWORD,
        },
    )
    assert shell.command("reboot").startswith("not rebooting: there are unsaved changes")
    assert shell.command("save").startswith("saved")
    assert shell.command("reboot") == "rebooting"
    h.wait_for(lambda: len(sub.messages()) >= 2, 60, "states on home/meter/state")
    state = json.loads(sub.messages()[-1][1])
    assert state["power_import"] is not None and "setup mode" in fw.log()


def test_the_station_shell_changes_a_running_firmware(rig):
    broker = rig.broker()
    sub = rig.subscriber(broker.port, "+/state")
    sim = rig.simulator(interval=0.5)
    rig.firmware()
    save_config(
        rig,
        **{
            "mqtt.port": broker.port,
            "uart.device": sim.link,
            "mqtt.topic": "before",
            "setup.station_shell": "on",
        },
    )
    shell = rig.shell()
    assert shell.command(PASSWORD).startswith("welcome")
    assert shell.command("reboot") == "rebooting"
    h.wait_for(lambda: sub.messages("before/state"), 60, "states on before/state")
    shell = rig.shell()  # while the firmware reads the meter
    assert shell.prompt == "password: "
    shell.command(PASSWORD)
    configure(shell, **{"mqtt.topic": "after"})
    shell.command("save")
    assert shell.command("reboot") == "rebooting"
    h.wait_for(lambda: sub.messages("after/state"), 60, "states on after/state")


def test_the_serial_console_shell_needs_no_password(rig):
    first = rig.firmware()
    save_config(rig)
    first.stop()
    fw = h.Firmware(
        rig.config.parent,
        rig.config,
        frozen=True,
        setup=True,
        setup_port=h.free_port(),
        stdin=subprocess.PIPE,
    )
    try:
        # a terminal sends CR, not LF (and some CR LF)
        out, _ = fw.process.proc.communicate(b"show mqtt.host\rset mqtt.port 0\r\nexit\r", 60)
        log = fw.log()
        assert "smarty> " in log and 'mqtt.host = "127.0.0.1"' in log
        assert "mqtt.port must be a whole number from 1 to 65535, not 0" in log
        assert fw.process.proc.returncode == 0
    finally:
        fw.stop()


def test_no_stdin_keeps_the_tcp_shell(rig):
    fw = rig.firmware()
    time.sleep(1)
    assert fw.process.alive()
    assert rig.shell().command("show mqtt.topic") == 'mqtt.topic = "smartyreader"'
    assert os.path.exists(rig.config.parent / "ap_password.txt")


def test_setup_mode_listens_on_the_saved_setup_port(rig):
    port = h.free_port()
    rig.config.write_text(json.dumps({"setup": {"port": port}}))  # incomplete: setup mode
    rig.add(h.Firmware(rig.config.parent, rig.config, frozen=True))
    shell = rig.shell(port)
    assert shell.command("show setup.port") == f"setup.port = {port}"


def test_a_device_that_is_not_a_serial_line_starts_setup_mode(rig):
    """A wrong uart.device (a file, not a tty) is a setting to change: setup mode says
    so.  (One that is not there at all is a cable not plugged in yet: test_meters.)"""
    port = h.free_port()
    not_a_tty = rig.dir / "notes.txt"
    not_a_tty.write_text("not a serial line")
    rig.config.write_text(
        json.dumps(
            {
                "meter": {"key": KEY},
                "uart": {"device": str(not_a_tty)},
                "mqtt": {"host": "127.0.0.1"},
                "setup": {"port": port},
            }
        )
    )
    fw = rig.add(h.Firmware(rig.config.parent, rig.config, frozen=True))
    shell = rig.shell(port)
    assert shell.command("show uart.device") == f'uart.device = "{not_a_tty}"'
    log = fw.log()
    assert f"cannot open the P1 port: uart.device {not_a_tty} is not a serial device" in log
    assert "setup mode: the P1 port cannot be opened" in log


def raw_session(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    return sock


def read_until(sock, marker, limit=60):
    data, deadline = b"", time.monotonic() + limit
    while marker not in data and time.monotonic() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_hostile_input_at_the_boards_heap(rig):
    """Before any password: a 200 KB line without a newline, sessions beyond two, a
    silent client.  Each gets its answer and its socket closed; the shell stays up at an
    ESP8266's heap."""
    fw = rig.firmware(heapsize="36k")
    save_config(rig)
    first = rig.shell()
    assert first.prompt == "password: "
    first.sock.sendall(b"x" * 200_000)
    first.sock.sendall(b"\r")
    assert first.read().startswith("line too long (at most 256 characters)")
    assert first.command(PASSWORD).startswith("welcome")  # the session goes on
    second = rig.shell()
    third = raw_session(rig.port)
    assert b"busy" in read_until(third, b"later")
    assert third.recv(100) == b""  # closed
    third.close()
    second.close()
    assert first.command("show mqtt.host") == 'mqtt.host = "127.0.0.1"'
    silent = raw_session(rig.port)
    assert b"password:" in read_until(silent, b"password: ")
    start = time.monotonic()
    assert b"no input for 30 s" in read_until(silent, b"bye", limit=120)
    assert silent.recv(100) == b"" and 25 < time.monotonic() - start < 110
    silent.close()
    assert "MemoryError" not in fw.log() and fw.process.alive()
    assert first.command("show mqtt.host") == 'mqtt.host = "127.0.0.1"'


def test_the_station_shell_under_attack_while_the_meter_is_read(rig):
    """The station shell at an ESP8266's heap while the firmware reads the meter: long
    lines, extra sessions and refused slow commands do not cost a reading."""
    broker = rig.broker()
    sub = rig.subscriber(broker.port, "smartyreader/state")
    sim = rig.simulator(interval=0.5, count=40)
    setup_mode = rig.firmware()
    save_config(
        rig, **{"mqtt.port": broker.port, "uart.device": sim.link, "setup.station_shell": "on"}
    )
    shell = rig.shell()
    shell.command(PASSWORD)
    assert shell.command("reboot") == "rebooting"
    setup_mode.stop()  # it rebooted into the reader: now the one at the board's heap
    board = rig.dir / "board"  # its own log
    board.mkdir()
    fw = rig.add(
        h.Firmware(board, rig.config, frozen=True, setup_port=rig.port, heapsize=STATION_HEAP)
    )
    h.wait_for(lambda: sub.messages(), 60, "the first state")
    first = rig.shell()
    first.command(PASSWORD)
    assert first.command("scan").startswith("scan: not while the meter is read")
    assert first.command("test wifi").startswith("test: not while the meter is read")
    for _ in range(5):
        first.sock.sendall(b"y" * 50_000 + b"\n")
        assert first.read().startswith("line too long")
    second = rig.shell()
    extra = [raw_session(rig.port) for _ in range(3)]
    for sock in extra:
        assert b"busy" in read_until(sock, b"later")
        sock.close()
    second.close()
    h.wait_for(lambda: len(sim.frames()) >= 40, 60, "the simulator's 40 frames")
    sent = [
        "20%s-%s-%sT%s:%s:%s" % (t[0:2], t[2:4], t[4:6], t[6:8], t[8:10], t[10:12])
        for t in (f["timestamp"] for f in sim.frames())
    ]

    def got():
        return [json.loads(p)["timestamp"][:19] for _, p in sub.messages()]

    h.wait_for(lambda: sent[-1] in got(), 60, "the last state")
    received = got()
    assert received == sent[sent.index(received[0]) :], "a reading was lost"
    assert "MemoryError" not in fw.log() and "out of memory" not in fw.log()


def test_setup_mode_in_24k(rig):
    """Setup mode's budget: a whole session (help, show, sets, save, show) at a 24 KB heap,
    the application frozen, as on an ESP8266 with room to spare."""
    fw = rig.firmware(heapsize="24k")
    shell = rig.shell()
    assert "keys:" in shell.command("help")
    assert "to fix before save" in shell.command("show")
    configure(
        shell,
        **{
            "meter.key": KEY,
            "mqtt.host": "192.168.1.10",
            "uart.device": "/dev/ttyUSB1",
            "setup.password": PASSWORD,
        },
    )
    assert shell.command("save").startswith("saved")
    assert shell.command("show").endswith("complete")
    assert "MemoryError" not in fw.log() and "out of memory" not in fw.log()


def test_a_second_meter_added_shown_and_removed_in_the_shell(rig):
    """An ESP32 with one meter gets a second one: `set meters.2.key` turns the config into
    a list whose first meter keeps its key, line and topic; the second takes the board's
    second line; a third is refused on save (two UARTs), and removed."""
    rig.config.write_text(
        json.dumps({"meter": {"key": KEY}, "mqtt": {"host": "b", "topic": "home/smarty"}})
    )
    rig.firmware(board="mhet_esp32minikit", heapsize=STATION_HEAP)
    shell = rig.shell()
    assert "meters.N.KEY" in shell.command("help")
    second = "f0e0d0c0b0a090807060504030201000"
    assert shell.command(f"set meters.2.key {second}") == 'meters.2.key = "****00"'
    assert (
        shell.command("set meters.4.name x")
        == "meters.4: there are 2 meters: the next is meters.3"
    )
    shown = shell.command("show meters.2")
    for line in (
        "meters.2.uart.id = 2",
        "meters.2.uart.rx = 16",
        "meters.2.data_request.pin = 26",
    ):
        assert line in shown
    assert 'meters.2.topic = "home/smarty/2"' in shown and second not in shown
    first = shell.command("show meters.1")
    assert 'meters.1.topic = "home/smarty"' in first and "meters.1.uart.rx = 1" in first
    assert shell.command("show meters.2.uart.rx") == "meters.2.uart.rx = 16"
    assert shell.command("set meters.2.uart.rx 1") == "meters.2.uart.rx = 1"
    assert "meters.2.uart.rx: GPIO 1 is taken by meters.1.uart.rx" in shell.command("show")
    assert shell.command("unset meters.2.uart.rx") == "meters.2.uart.rx: back to its default"
    assert shell.command(f"set meters.3.key {KEY}").startswith("meters.3.key")
    configure(shell, **{"setup.password": PASSWORD})
    assert "reads 2 meters at most (its free receiving UARTs), not 3" in shell.command("save")
    assert shell.command("unset meters.3") == "meters.3 removed (the meters after it move up one)"
    assert shell.command("save").startswith("saved")
    saved = json.loads(rig.config.read_text())
    assert "meter" not in saved and saved["meters"] == [
        {"key": KEY, "topic": "home/smarty"},
        {"key": second},
    ]
