"""Memory budget of the decode path (framer -> decrypt -> CRC -> parse) on the 32-bit
port with the ESP ports' word size: 1000 Smarty frames of 1234 bytes in a row, the heap
after gc.collect() the same at frame 10 and at frame 1000.

Two ways the code can live on a board, both measured:
- frozen into the firmware (custom build, or ROMFS): code in flash; budget 20 KB;
- .mpy files on the filesystem, loaded into RAM (stock firmware): budget 32 KB
  (the 20 KB the issue asks for is not reached this way; see BENCHMARKS.md).
"""

import shutil
import subprocess
import sys

import pytest

from conftest import BIN, MP_SCRIPTS, ROOT, run_micropython

sys.path.insert(0, str(ROOT / "tools"))
import p1meter  # noqa: E402

KEY = bytes(range(16))
FROZEN_HEAP = "20k"
MPY_HEAP = "32k"


@pytest.fixture(scope="module")
def frame_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("frame") / "frame.bin"
    frame = p1meter.encrypt_frame(p1meter.smarty_telegram(), KEY)
    assert len(frame) == 1234
    path.write_bytes(frame)
    return path


def compile_core(directory):
    """firmware/lib/smarty as .mpy files (x86 code for the viper module)."""
    out = directory / "smarty"
    out.mkdir(parents=True)
    for source in (ROOT / "firmware" / "lib" / "smarty").glob("*.py"):
        subprocess.run(
            [
                str(BIN / "mpy-cross"),
                "-march=x86",
                "-o",
                str(out / (source.stem + ".mpy")),
                str(source),
            ],
            check=True,
        )
    return directory


def run_loop(tmp_path, frame_file, heapsize, micropypath):
    # The script runs from a directory of its own: MicroPython puts the script's
    # directory first on the path, and no smarty/ may hide there.
    script_dir = tmp_path / "script"
    script_dir.mkdir()
    script = shutil.copy(MP_SCRIPTS / "decode_loop.py", script_dir)
    out = run_micropython(
        "micropython32",
        script,
        frame_file,
        KEY.hex(),
        1000,
        64,
        heapsize=heapsize,
        micropypath=micropypath,
    )
    return dict(line.split(" ", 1) for line in out.strip().splitlines())


def check(result):
    assert result["telegrams"] == "1000" and result["errors"] == "0"
    assert result["energy_export"] == "55437.011"  # exact through the 32-bit float port
    assert result["backend"] == "aesgcm"
    assert result["heap_10"] == result["heap_last"], "the heap grows: a leak"


def test_frozen_core_in_20k(tmp_path, frame_file):
    check(run_loop(tmp_path, frame_file, FROZEN_HEAP, [".frozen"]))


def test_mpy_core_loaded_into_ram(tmp_path, frame_file):
    mpy = compile_core(tmp_path / "mpy")
    check(run_loop(tmp_path, frame_file, MPY_HEAP, [mpy]))
