"""The real ESP8266 firmware image (`make firmware BOARD=lolin_d1_mini_pro`, built by
`make test`): an image esptool wrote, the aesgcm C module and the application frozen in
(the modules micropython32 freezes), and every memory region of the ESP8266 within its
limit."""

import re
import subprocess

import pytest

from conftest import ROOT

BOARD = "lolin_d1_mini_pro"
IMAGE = ROOT / "build" / "firmware" / f"{BOARD}.bin"
BUILD = ROOT / "build" / "firmware" / f"build-{BOARD}"
# the port's esp8266_2MiB.ld: iram1_0_seg 32K, dram0_0_seg 80K, irom0_0_seg 1M - 36K
LIMITS = {"iram": 32 * 1024, "dram": 80 * 1024, "irom0": 1024 * 1024 - 36 * 1024}


@pytest.fixture(scope="module")
def elf():
    path = BUILD / "firmware.elf"
    assert IMAGE.exists() and path.exists(), "run 'make firmware BOARD=lolin_d1_mini_pro'"
    return path


def frozen_modules(frozen_content):
    """The application's and umqtt's modules in a frozen_content.c."""
    text = frozen_content.read_text()
    return set(re.findall(r'"((?:smarty|smartyreader|umqtt)/\w+\.py)', text))


def regions(elf):
    """Bytes used in IRAM, DRAM and irom0 (flash-mapped code), from the ELF's sections."""
    out = subprocess.run(
        ["xtensa-lx106-elf-size", "-A", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    size = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()[2:] if line.strip()}
    return {
        "iram": size[".text"],
        "dram": size[".data"] + size[".rodata"] + size[".bss"],
        "irom0": size[".irom0.text"],
    }


def test_the_image_is_an_esp8266_image():
    data = IMAGE.read_bytes()
    assert data[0] == 0xE9  # the ESP8266 ROM loader's image magic
    assert 500_000 < len(data) < 1024 * 1024


def test_aesgcm_and_the_application_are_in_it(elf):
    symbols = subprocess.run(
        ["xtensa-lx106-elf-nm", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"\bmp_module_aesgcm\b", symbols)
    # its code runs from flash (irom0 is mapped from 0x40200000): IRAM is for the port
    decrypt = re.search(r"^([0-9a-f]+) t aesgcm_decrypt$", symbols, re.M)
    assert decrypt and int(decrypt.group(1), 16) >= 0x40200000
    on_board = frozen_modules(BUILD / "frozen_content.c")
    on_host = frozen_modules(ROOT / "build" / "unix32-app" / "frozen_content.c")
    application = {m for m in on_board if not m.startswith("umqtt/")}
    assert application == {m for m in on_host if not m.startswith("umqtt/")}
    assert "smartyreader/queue.py" in application and "umqtt/simple.py" in on_board


def test_every_region_within_its_limit(elf):
    used = regions(elf)
    for region, limit in LIMITS.items():
        assert used[region] < limit, (region, used[region], limit)
    # code that must run from IRAM is the port's own: ours went to flash
    assert LIMITS["iram"] - used["iram"] >= 1024, used
