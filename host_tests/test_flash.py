"""tools/flash.py: the esptool and mpremote commands for each board (checked by the real
esptool's own argument parser), deploy to a directory the unix port boots and reads a
meter from, clear errors (no port, a silent board, the wrong firmware, a bad config),
the serial monitor on a real pty, the setup client over real TCP, package.json."""

import json
import os
import pty
import subprocess
import sys
import time
import tty

import pytest

from conftest import BIN, NATMOD, ROOT

sys.path.insert(0, str(ROOT / "tools"))
import deploy  # noqa: E402
import p1harness as h  # noqa: E402

FLASH = ROOT / "tools" / "flash.py"
KEY = "000102030405060708090a0b0c0d0e0f"
BOARDS = {
    "lolin_d1_mini_pro": ("esp8266", "0x0", "xtensa"),
    "mhet_esp32minikit": ("esp32", "0x1000", "xtensawin"),
}


def flash_py(*args, stdin=None, timeout=120):
    return subprocess.run(
        [sys.executable, str(FLASH), *map(str, args)],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
    )


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "firmware.bin"
    path.write_bytes(b"\xe9" + bytes(4095))  # an ESP image starts with 0xE9
    return path


@pytest.mark.parametrize("board", BOARDS)
def test_flash_commands_for_each_board(board, image):
    chip, offset, _ = BOARDS[board]
    proc = flash_py(
        "flash", "--board", board, "--port", "/dev/ttyUSB0", "--firmware", image, "--dry-run"
    )
    assert proc.returncode == 0, proc.stderr
    erase, write = proc.stdout.strip().splitlines()
    esptool = f"{sys.executable} -m esptool --chip {chip} --port /dev/ttyUSB0 --baud 460800"
    assert erase == f"{esptool} erase_flash"
    assert write == (
        f"{esptool} write_flash --flash_mode dio --flash_size detect {offset} {image}"
    )
    # the real esptool accepts these arguments: it gets as far as opening the port
    real = subprocess.run(
        write.replace("/dev/ttyUSB0", "/dev/no-such-port").split(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = real.stdout + real.stderr
    assert real.returncode != 0 and "/dev/no-such-port" in out
    assert "usage:" not in out and "invalid" not in out.lower()


def test_flash_errors_say_what_to_do(tmp_path, image):
    proc = flash_py(
        "flash", "--board", "lolin_d1_mini_pro", "--port", "/dev/ttyUSB97", "--firmware", image
    )
    assert proc.returncode == 1
    assert "flash.py flash: no serial port /dev/ttyUSB97: is the board plugged in" in proc.stderr
    (tmp_path / "page.html").write_text("<html>")
    proc = flash_py(
        "flash",
        "--board",
        "mhet_esp32minikit",
        "--port",
        "/dev/ttyUSB0",
        "--firmware",
        tmp_path / "page.html",
        "--dry-run",
    )
    assert "page.html is not an ESP firmware image" in proc.stderr
    proc = flash_py("flash", "--board", "esp01", "--port", "/dev/ttyUSB0", "--dry-run")
    assert "no board esp01: --board one of lolin_d1_mini_pro, mhet_esp32minikit" in proc.stderr
    proc = flash_py(
        "flash",
        "--board",
        "lolin_d1_mini_pro",
        "--port",
        "/dev/ttyUSB0",
        "--firmware",
        tmp_path / "missing.bin",
        "--dry-run",
    )
    assert "no firmware image" in proc.stderr and "ESP8266_GENERIC" in proc.stderr


@pytest.mark.parametrize("board", BOARDS)
def test_deploy_commands_for_each_board(board):
    _, _, arch = BOARDS[board]
    proc = flash_py("deploy", "--board", board, "--port", "/dev/ttyUSB0", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    compiled = [line for line in lines if line.startswith(str(BIN / "mpy-cross"))]
    manifest = deploy.app_files()
    assert len(compiled) == len(manifest)
    for line, path in zip(compiled, manifest):
        # -O3: no line numbers; tracebacks name the module ("smartyreader.queue")
        module = path[: -len(".py")].replace("/", ".").replace(".__init__", "")
        assert f" -march={arch} -O3 -s {module} -o " in line
    assert any(" exec '<probe>'" in line for line in lines)
    copy = next(line for line in lines if "fs cp -r lib :" in line)
    assert copy.endswith("+ fs cp ap_password.txt board.json main.py : + reset")
    assert "-m mpremote connect /dev/ttyUSB0 fs cp" in copy
    staged = ROOT / "build" / "deploy" / board
    natmod = NATMOD / f"aesgcm_{arch}.mpy"
    assert (staged / "lib" / "aesgcm.mpy").exists() == natmod.exists()
    assert (staged / "lib" / "aesgcm.mpy").exists() == (arch == "xtensa")  # no xtensawin gcc
    assert "setup access point password: " in proc.stdout


def test_deploy_to_a_directory_boots_on_the_unix_port(tmp_path):
    """The deployed tree (.mpy files compiled for x64, board.json, main.py, a config
    written by deploy) runs the firmware: a simulated meter's values reach Mosquitto."""
    rig = h.Rig(tmp_path, KEY)
    try:
        broker = rig.broker()
        sim = rig.simulator(interval=0.5)
        sub = rig.subscriber(broker.port, "smartyreader/state")
        config = h.firmware_config(tmp_path / "config.json", KEY, broker.port, sim.link)
        target = tmp_path / "board"
        proc = flash_py(
            "deploy",
            "--board",
            "unix",
            "--target",
            target,
            "--config",
            config,
            "--micropython",
            BIN / "micropython",
        )
        assert proc.returncode == 0, proc.stderr
        files = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
        assert {"main.py", "board.json", "config.json", "ap_password.txt"} <= files
        assert "lib/smartyreader/app.mpy" in files and "lib/smarty/gcm_cpython.mpy" not in files
        assert not any(f.startswith("lib/") and f.endswith(".py") for f in files)
        env = dict(os.environ, MICROPYPATH=".frozen:lib")  # as on a board: frozen, then /lib
        rig.add(
            h.Process([BIN / "micropython", "main.py"], tmp_path / "fw.log", env=env, cwd=target)
        )
        h.wait_for(lambda: sub.messages(), 60, "a state from the deployed firmware")
        assert json.loads(sub.messages()[0][1])["power_import"] is not None
    finally:
        rig.stop()


def test_deploy_refuses_a_bad_config_and_the_wrong_firmware(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"meter": {"key": "12"}, "mqtt": {"host": "h"}}))
    proc = flash_py("deploy", "--board", "unix", "--target", tmp_path / "t", "--config", bad)
    assert proc.returncode == 1 and "not deployed:" in proc.stderr
    assert "meter.key must be 32 hex digits" in proc.stderr
    assert not (tmp_path / "t" / "main.py").exists()
    # a 64-bit unix MicroPython is not an ESP8266's firmware
    proc = flash_py("deploy", "--board", "lolin_d1_mini_pro", "--target", tmp_path / "t")
    assert proc.returncode == 1
    assert "the firmware is for x64, but lolin_d1_mini_pro is xtensa: wrong --board" in proc.stderr


@pytest.fixture
def silent_pty():
    """A serial port with nothing answering on it (a board without MicroPython)."""
    master, slave = pty.openpty()
    tty.setraw(master)
    yield os.ttyname(slave), master
    os.close(master)
    os.close(slave)


def test_a_board_that_does_not_answer(silent_pty):
    port, _ = silent_pty
    proc = flash_py("deploy", "--board", "lolin_d1_mini_pro", "--port", port, timeout=60)
    assert proc.returncode == 1
    assert f"the board on {port} does not answer: is MicroPython on it" in proc.stderr


def test_monitor_prints_the_serial_console(silent_pty):
    port, master = silent_pty
    monitor = subprocess.Popen(
        [sys.executable, str(FLASH), "monitor", "--port", port], stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(1)
        os.write(master, b"smartyreader: setup: join the WiFi SmartyReader-1a2b\r\n")
        line = monitor.stdout.readline()
        assert "join the WiFi SmartyReader-1a2b" in line
    finally:
        monitor.terminate()
        monitor.wait(10)


def test_setup_relays_the_shell_over_tcp(tmp_path):
    port = h.free_port()
    fw = h.Firmware(tmp_path, tmp_path / "config.json", frozen=True, setup=True, setup_port=port)
    try:
        h.wait_for(lambda: "TCP port" in fw.log(), 30, "the setup shell")
        proc = flash_py(
            "setup",
            "127.0.0.1",
            "--shell-port",
            port,
            stdin="set mqtt.port 1884\nshow mqtt.port\nexit\n",
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("mqtt.port = 1884") == 2 and "bye" in proc.stdout
    finally:
        fw.stop()
    proc = flash_py("setup", "127.0.0.1", "--shell-port", h.free_port())
    assert "cannot reach the setup shell at 127.0.0.1" in proc.stderr


def test_package_json_installs_what_the_manifest_freezes():
    package = json.loads((ROOT / "package.json").read_text())
    urls = package["urls"]
    assert [u[0] for u in urls] == deploy.app_files()
    for destination, source in urls:
        assert (ROOT / source).is_file() and source == f"firmware/lib/{destination}"
    assert package["deps"] == [["umqtt.simple", "latest"]]


def test_config_write_is_checked_then_renamed_into_place(tmp_path):
    good = h.firmware_config(tmp_path / "config.json", KEY, 1883, "/dev/ttyUSB1")
    proc = flash_py("config", "--port", "/dev/ttyUSB0", "--write", good, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    read, write = proc.stdout.split("\n", 1)
    assert read.endswith("mpremote connect /dev/ttyUSB0 fs cat :board.json")
    assert f"fs cp {good} :config.json.tmp + exec 'import os" in write
    assert "os.rename('\"'\"'config.json.tmp'\"'\"'" in write  # shell-quoted
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"meter": {"key": KEY}, "mqtt": {"host": "h", "tls": "yes"}}))
    proc = flash_py("config", "--port", "/dev/ttyUSB0", "--write", bad, "--dry-run")
    assert proc.returncode == 1 and "bad.json not written:" in proc.stderr
    assert 'mqtt.tls must be true or false, not "yes"' in proc.stderr
    assert "fs cp" not in proc.stdout
