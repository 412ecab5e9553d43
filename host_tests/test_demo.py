"""`make demo`, one of the two commands a newcomer runs: the simulated meter's readings
reach the console through the frozen firmware at the ESP8266's heap, the broker and the
station, whose page answers; Ctrl-C ends it cleanly."""

import os
import re
import signal
import sys
import urllib.request
from decimal import Decimal

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import p1harness as h  # noqa: E402

STATE = re.compile(r"^\S+\+01:00  import (\S+) kWh  export (\S+) kWh  net power (\S+) kW", re.M)
DIAG = re.compile(r"diag: (\d+) frames ok, 0 auth failures, 0 CRC failures, .* free heap (\d+) B")
PAGE = re.compile(r"web page: (http://127\.0\.0\.1:\d+/)")


def test_demo_shows_the_readings_until_ctrl_c(tmp_path):
    env = dict(os.environ, DEMO_INTERVAL="1", PYTHONUNBUFFERED="1")
    demo = h.Process(
        [sys.executable, "demo.py"], tmp_path / "demo.log", env=env, cwd=ROOT / "tools"
    )
    try:
        h.wait_for(
            lambda: (
                len(STATE.findall(demo.text())) >= 4
                and DIAG.search(demo.text())
                or not demo.alive()
            ),
            240,
            "four readings and a diag on the demo's console",
        )
        out = demo.text()
        assert demo.alive(), out
        readings = [tuple(map(Decimal, r)) for r in STATE.findall(out)]
        for imported, exported, net in readings:
            assert net == Decimal("-3.454")  # the test telegram: 3.454 kW exported
        exports = [r[1] for r in readings]
        assert exports == sorted(exports) and exports[-1] > exports[0]  # the meter runs on
        frames, free = map(int, DIAG.search(out).groups())
        assert frames >= 1 and 1024 < free < 36 * 1024  # the board's heap, not the host's
        url = PAGE.search(out).group(1)
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
    finally:
        demo.stop(signal.SIGINT)
    assert demo.proc.returncode == 0, demo.text()
    assert "demo: stopping" in demo.text()
