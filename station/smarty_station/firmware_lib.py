# The one place the station reaches into the firmware: the pure P1 core (`smarty`) and the
# payload rules (`smartyreader.publish`) are plain Python that runs on CPython too, so
# `read` uses them as they are instead of a copy.  They are found in the repository's
# firmware/lib (the package is installed editable from the checkout: `make venv`), or in
# the folder SMARTY_FIRMWARE_LIB names.

import os
import sys
from pathlib import Path

FIRMWARE_LIB = Path(
    os.environ.get("SMARTY_FIRMWARE_LIB")
    or Path(__file__).resolve().parents[2] / "firmware" / "lib"
)


def use():
    """Makes `smarty` and `smartyreader` importable; RuntimeError if they are not there."""
    if not (FIRMWARE_LIB / "smarty" / "reader.py").exists():
        raise RuntimeError(
            f"the firmware's library is not at {FIRMWARE_LIB}: install the station from a "
            "checkout of the repository (make venv), or set SMARTY_FIRMWARE_LIB"
        )
    if str(FIRMWARE_LIB) not in sys.path:
        sys.path.insert(0, str(FIRMWARE_LIB))
