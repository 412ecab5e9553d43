# The daily mail: the day's plot attached, its totals in the body, sent with smtplib
# (STARTTLS and login when configured).  The Mailer thread sends the day before at
# mail.at each day; a day missed while the station was down (its readings stored, its
# mail not) is sent once after a restart; a failed send is logged and retried.

import logging
import smtplib
import ssl
import threading
import time
from datetime import datetime, timedelta
from email.message import EmailMessage

from . import plot, report

log = logging.getLogger(__name__)


class MailError(Exception):
    pass


def compose(config, store, day):
    """The mail of a day (of the meter with the newest reading)."""
    newest = store.latest()
    if newest is None:
        raise MailError("no readings in the store")
    readings = store.day(newest.meter, day)
    baseline = store.baseline(newest.meter, day)
    totals = report.day_totals(store.day_summary(newest.meter, day), baseline)
    message = EmailMessage()
    message["Subject"] = f"Smarty {newest.meter}: {day.isoformat()}"
    message["From"] = config.sender
    message["To"] = ", ".join(config.to)
    message.set_content(report.totals_text(newest.meter, day, totals))
    message.add_attachment(
        plot.day_png(day, readings, baseline),
        maintype="image",
        subtype="png",
        filename=f"smarty_{day.isoformat()}.png",
    )
    return message


def send(config, message, timeout=30):
    """Sends a message; MailError (saying why) if it fails."""
    try:
        with smtplib.SMTP(config.host, config.port, timeout=timeout) as smtp:
            if config.starttls:
                context = ssl.create_default_context(
                    cafile=str(config.cafile) if config.cafile else None
                )
                smtp.starttls(context=context)
            if config.user:
                smtp.login(config.user, config.password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as e:
        raise MailError(f"sending to {config.host}:{config.port} failed: {e}") from None


def days_due(now, at, mailed, days_with_readings):
    """The days whose mail is due at `now` (local): yesterday once `at` has passed, and
    any earlier day with readings after the last day mailed (missed while down)."""
    today = now.date()
    last_due = today - timedelta(days=1 if (now.hour, now.minute) >= at else 2)
    newest_mailed = max(mailed, default=None)
    due = [
        d
        for d in days_with_readings
        if d <= last_due and d not in mailed and (newest_mailed is None or d > newest_mailed)
    ]
    if newest_mailed is None:  # a new station: no mail for the whole history
        due = [d for d in due if d == last_due]
    return due


class Mailer(threading.Thread):
    def __init__(self, config, store_factory, clock=datetime.now, poll=20):
        super().__init__(name="mailer", daemon=True)
        self.config, self.store_factory, self.clock, self.poll = config, store_factory, clock, poll
        self.stopping = threading.Event()
        self.sent = 0
        self.failures = 0
        self.rounds = 0

    def stop(self):
        self.stopping.set()

    def run(self):
        store = self.store_factory()
        try:
            while not self.stopping.is_set():
                self.round(store)
                self.stopping.wait(self.poll)
        finally:
            store.close()

    def round(self, store):
        newest = store.latest()
        if newest is None:
            return
        now = self.clock()
        days = [
            d[0] for d in store.days(newest.meter, now.date() - timedelta(days=31), now.date())
        ]
        due = days_due(now, self.config.at, store.mailed(), days)
        if due or not self.rounds:
            log.info("mail: %d days due", len(due))
        self.rounds += 1
        for day in due:
            while not self.stopping.is_set():
                try:
                    send(self.config, compose(self.config, store, day))
                except MailError as e:
                    self.failures += 1
                    log.error("mail of %s: %s; retrying in %d s", day, e, self.config.retry)
                    self.stopping.wait(self.config.retry)
                    continue
                store.mark_mailed(day, int(time.time()))
                self.sent += 1
                log.info("mailed %s to %s", day, ", ".join(self.config.to))
                break
