"""The daily mail into a real SMTP server process on loopback (aiosmtpd, STARTTLS and
login, its certificate checked against the CA file the config names)."""

import email
import email.policy
import io
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import stationrig as s
from PIL import Image
from stationrig import h

from smarty_station import readings
from smarty_station.store import Store

USER, PASSWORD = "station", "mail-secret"


class SmtpServer:
    def __init__(self, directory, port=None):
        self.dir = directory
        self.port = port or h.free_port()
        self.mails = directory / "mails"
        self.mails.mkdir(exist_ok=True)
        self.cert, self.key = directory / "cert.pem", directory / "key.pem"
        if not self.cert.exists():
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
                + ["-keyout", str(self.key), "-out", str(self.cert), "-subj", "/CN=127.0.0.1"]
                + ["-addext", "subjectAltName=IP:127.0.0.1"],
                check=True,
                capture_output=True,
            )
        self.process = None

    def start(self):
        script = Path(__file__).parent / "station_smtp.py"
        args = [self.port, self.cert, self.key, USER, PASSWORD, self.mails]
        self.process = h.Process(
            [sys.executable, str(script), *map(str, args)], self.dir / "smtp.log"
        )
        h.wait_for(
            lambda: "listening" in self.process.text() or not self.process.alive(), 30, "smtp"
        )
        assert self.process.alive(), self.process.text()
        return self

    def received(self):
        return [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(self.mails.glob("*.eml"))
        ]

    def stop(self):
        if self.process:
            self.process.stop()


@pytest.fixture
def rig(tmp_path):
    rig = h.Rig(tmp_path, "00" * 16)
    yield rig
    rig.stop()


def mail_config(server, **extra):
    return {
        "host": "127.0.0.1",
        "port": server.port,
        "starttls": True,
        "user": USER,
        "password": PASSWORD,
        "from": "station@example.org",
        "to": ["me@example.org"],
        "cafile": str(server.cert),
        **extra,
    }


def store_day(directory, start, count=360, step=60):
    sent = s.states(start, count, step)
    store = Store(directory / "station.sqlite")
    store.add_many(readings.from_state(p) for p, _, _ in sent)
    store.close()
    return sent


def check_mail(message, day, sent):
    assert message["Subject"] == f"Smarty {s.METER}: {day.isoformat()}"
    assert message["To"] == "me@example.org"
    body = message.get_body(("plain",)).get_content()
    first, last = (readings.from_state(p) for p in (sent[0][0], sent[-1][0]))
    imported = readings.digits(last.energy_import - first.energy_import)
    assert f"energy imported: {imported} kWh" in body
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == f"smarty_{day.isoformat()}.png"
    image = Image.open(io.BytesIO(attachment.get_content()))
    image.load()
    assert image.format == "PNG" and image.size == (1000, 800)


def test_mail_command_sends_the_day_with_starttls_and_login(rig):
    server = rig.add(SmtpServer(rig.dir).start())
    broker = rig.broker()
    start = s.yesterday_noon() - timedelta(hours=12)
    sent = store_day(rig.dir, start)
    config = s.write_config(rig.dir, broker.port, mail=mail_config(server))
    result = s.run_cli("mail", "--config", config, "--date", start.date().isoformat())
    assert result.returncode == 0, result.stderr
    (message,) = server.received()
    check_mail(message, start.date(), sent)


def test_missed_day_sent_once_after_restart_and_failed_send_retried(rig):
    start = s.yesterday_noon() - timedelta(hours=12)
    sent = store_day(rig.dir, start)
    broker = rig.broker()
    server = SmtpServer(rig.dir)  # not started yet: the first tries fail
    config = s.write_config(rig.dir, broker.port, mail=mail_config(server, at="00:00", retry=1))
    station = rig.add(s.Station(config))
    s.wait_for(lambda: "retrying in 1 s" in station.text(), 60, "a failed send", station)
    rig.add(server.start())
    s.wait_for(lambda: server.received(), 60, "the mail", station)
    (message,) = server.received()
    check_mail(message, start.date(), sent)
    station.stop()
    station = rig.add(s.Station(config))  # the day was mailed: not again
    s.wait_for(lambda: "mail: 0 days due" in station.text(), 60, "a mail round", station)
    assert len(server.received()) == 1
