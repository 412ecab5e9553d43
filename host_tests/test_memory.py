"""Memory budget of the decode path (framer -> decrypt -> CRC -> parse) on the 32-bit
port with the ESP ports' word size: 1000 Smarty frames of 1234 bytes in a row, the heap
after gc.collect() the same at frame 10 and at frame 1000.

Two ways the code can live on a board, both measured:
- frozen into the firmware (custom build, or ROMFS): code in flash; budget 20 KB;
- .mpy files on the filesystem, loaded into RAM, with the aesgcm natmod beside them, on
  micropython32-stock (nothing of ours frozen: the code's names and strings interned on
  the heap, as on a stock image): budget 36 KB (the 20 KB the issue asks for is not
  reached this way; measured on the build with our code frozen in, whose names cost
  nothing, it looked like 28 KB; see BENCHMARKS.md).
"""

import shutil
import sys

import pytest

from conftest import MP_SCRIPTS, ROOT, run_micropython

sys.path.insert(0, str(ROOT / "tools"))
import p1harness as h  # noqa: E402
import p1meter  # noqa: E402

KEY = bytes(range(16))
FROZEN_HEAP = "20k"
MPY_HEAP = "36k"


@pytest.fixture(scope="module")
def frame_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("frame") / "frame.bin"
    frame = p1meter.encrypt_frame(p1meter.smarty_telegram(), KEY)
    assert len(frame) == 1234
    path.write_bytes(frame)
    return path


def run_loop(tmp_path, frame_file, heapsize, micropypath, runtime="micropython32"):
    # The script runs from a directory of its own: MicroPython puts the script's
    # directory first on the path, and no smarty/ may hide there.
    script_dir = tmp_path / "script"
    script_dir.mkdir()
    script = shutil.copy(MP_SCRIPTS / "decode_loop.py", script_dir)
    out = run_micropython(
        runtime,
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
    mpy = h.compile_mpy(tmp_path / "mpy", ("smarty",), natmod=True)
    check(run_loop(tmp_path, frame_file, MPY_HEAP, [mpy], "micropython32-stock"))
