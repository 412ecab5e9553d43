"""The station's web page in a real browser: Debian's Chromium, headless, driven over
the DevTools protocol (websocket-client).  The page must show today's values, update
them by itself when new readings arrive (no reload), and draw its plot."""

import base64
import io
import itertools
import json
import shutil
from datetime import datetime
from decimal import Decimal

import pytest
import stationrig as s
import websocket
from PIL import Image
from stationrig import TOPIC, h

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1000,1400",
)


class Browser:
    """Chromium with one page, and the DevTools calls the tests need."""

    def __init__(self, directory):
        binary = shutil.which("chromium")
        assert binary, "chromium is not installed: run 'sudo make deps'"
        self.port = h.free_port()
        self.process = h.Process(
            [
                binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={directory / 'chromium-profile'}",
                f"--remote-debugging-port={self.port}",
                "about:blank",
            ],
            directory / "chromium.log",
        )
        target = h.wait_for(self._page, 60, "chromium's DevTools")
        self.socket = websocket.create_connection(
            target["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        self.ids = itertools.count(1)

    def _page(self):
        try:
            status, _, body = s.http(f"http://127.0.0.1:{self.port}/json/list", timeout=5)
        except OSError:
            return None
        pages = [t for t in json.loads(body) if t["type"] == "page"] if status == 200 else []
        return pages[0] if pages else None

    def call(self, method, **params):
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.socket.recv())
            if reply.get("id") == message_id:
                assert "error" not in reply, reply
                return reply["result"]

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def open(self, url):
        self.call("Page.navigate", url=url)
        h.wait_for(
            lambda: (
                self.evaluate(f"location.href === {json.dumps(url)} && document.readyState")
                == "complete"
            ),
            60,
            f"{url} loaded",
        )

    def screenshot(self):
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        image = Image.open(io.BytesIO(data))
        image.load()
        return image

    def stop(self):
        self.socket.close()
        self.process.stop()


@pytest.fixture
def rig(tmp_path):
    rig = h.Rig(tmp_path, "00" * 16)
    yield rig
    rig.stop()


def text_of(browser, element):
    return browser.evaluate(f"document.getElementById({json.dumps(element)}).textContent")


def test_page_shows_today_and_refreshes_without_reload(rig):
    broker = rig.broker()
    web_port = h.free_port()
    station = rig.add(s.Station(s.write_config(rig.dir, broker.port, web_port, refresh=1)))
    station.wait_connected()
    publisher = s.Publisher(broker.port)
    sent = s.states(datetime(2026, 12, 1, 9, 0, 0), 40)
    for payload, _, _ in sent[:20]:
        publisher.send(TOPIC + "/state", payload)
    s.wait_for(lambda: len(s.rows(rig.dir)) == 20, 60, "20 readings", station)
    browser = rig.add(Browser(rig.dir))
    base = f"http://127.0.0.1:{web_port}"
    browser.open(base + "/")

    def shown(values):
        return text_of(browser, "energy_import") == str(Decimal(values["1-0:1.8.0"]))

    assert shown(sent[19][1])
    assert text_of(browser, "meter") == s.METER
    h.wait_for(
        lambda: browser.evaluate("document.getElementById('plot').naturalWidth") == 1000,
        60,
        "today's plot",
    )
    browser.evaluate("window.notReloaded = true")
    for payload, _, _ in sent[20:]:
        publisher.send(TOPIC + "/state", payload)
    publisher.stop()
    h.wait_for(lambda: shown(sent[-1][1]), 60, "the newest values on the page")
    assert browser.evaluate("window.notReloaded") is True  # updated in place, not reloaded
    registers = [Decimal(v["1-0:1.8.0"]) for _, v, _ in sent]
    assert Decimal(text_of(browser, "energy_import_today")) == registers[-1] - registers[0]
    assert text_of(browser, "power_export") == "3.454"
    h.wait_for(
        lambda: (
            "2026-12-01T09%3A06%3A30" in browser.evaluate("document.getElementById('plot').src")
            and browser.evaluate("document.getElementById('plot').complete")
        ),
        60,
        "the plot reloaded",
    )
    image = browser.screenshot()
    image.save(rig.dir / "page.png")  # to look at, when the test fails
    assert image.size[0] == 1000
    colors = image.convert("RGB").getcolors(1 << 20)
    assert len(colors) > 50  # text and the plot, not a blank page
    # the day and month pages
    browser.open(base + "/day/2026-12-01")
    assert browser.evaluate("document.getElementById('readings').textContent") == "40"
    assert browser.evaluate("document.getElementById('next').getAttribute('href')") == (
        "/day/2026-12-02"
    )
    browser.open(base + "/month/2026-12")
    assert Decimal(text_of(browser, "total_import")) == registers[-1] - registers[0]
