"""A simulated Smarty meter on a pty (host, CPython): `p1.py simulate`.

Every interval it advances the telegram's timestamp and energy counters, encrypts it
as a Smarty does (random system title, increasing frame counter) and writes the frame
at 115200 8N1 pace.  Faults, each on every Nth frame: noise before the frame, a
truncated frame, a wrong key, a replayed (earlier) frame, an oversize frame.  One JSON
line per frame on stdout says what was sent.
"""

import json
import os
import pty
import random
import re
import sys
import termios
import time
import tty
from datetime import datetime, timedelta
from decimal import Decimal

from p1meter import encrypt_frame, with_crc

BYTES_PER_SECOND = 11520  # 115200 baud, 10 bits per byte
CHUNK = 16
FAULTS = ("noise", "truncate", "wrong_key", "replay", "oversize")


class Meter:
    """The telegram template, advanced interval by interval."""

    def __init__(self, template):
        self.template = template[: template.rindex(b"!") + 1]

    def _value(self, code):
        m = re.search(re.escape(code.encode()) + rb"\((\d+\.\d+)\*", self.template)
        return m.group(1).decode() if m else None

    def telegram(self, elapsed):
        """The template `elapsed` seconds later: timestamp moved, counters grown by the
        powers it states (exact, in the meter's own format)."""
        text = self.template
        m = re.search(rb"0-0:1\.0\.0\((\d{12})([SW])\)", text)
        if m:
            stamp = datetime.strptime(m.group(1).decode(), "%y%m%d%H%M%S") + timedelta(
                seconds=elapsed
            )
            text = text.replace(
                m.group(0),
                b"0-0:1.0.0(%s%s)" % (stamp.strftime("%y%m%d%H%M%S").encode(), m.group(2)),
            )
        values = {}
        for counter, power in (
            ("1-0:1.8.0", "1-0:1.7.0"),
            ("1-0:2.8.0", "1-0:2.7.0"),
            ("1-0:3.8.0", "1-0:3.7.0"),
            ("1-0:4.8.0", "1-0:4.7.0"),
        ):
            start = self._value(counter)
            if start is None:
                continue
            # energy + power x time, exact, in the meter's own digits and width
            grown = Decimal(start) + Decimal(self._value(power) or 0) * Decimal(elapsed) / 3600
            new = str(grown.quantize(Decimal(start))).rjust(len(start), "0")
            text = re.sub(
                re.escape(counter.encode()) + rb"\(\d+\.\d+\*",
                counter.encode() + b"(" + new.encode() + b"*",
                text,
            )
            values[counter] = new
        return with_crc(text), values


def open_pty(link):
    """A pty whose slave is reachable at `link` (a symlink); returns the master fd and
    the slave fd, kept open so the link stays valid while readers come and go."""
    master, slave = pty.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    attrs = termios.tcgetattr(slave)
    attrs[4] = attrs[5] = termios.B115200
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.ttyname(slave), link)
    return master, slave


def paced_write(fd, data, rate):
    """data at `rate` bytes a second in CHUNK pieces; rate 0: all of it at once (a frame
    is never split by this process being descheduled: a real meter does not pause
    inside a frame, and the reader would rightly take such a pause for a cut)."""
    if not rate:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        return
    start = time.monotonic()
    for i in range(0, len(data), CHUNK):
        os.write(fd, data[i : i + CHUNK])
        if rate:
            delay = start + (i + CHUNK) / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def run(args):
    meter = Meter(open(args.telegram, "rb").read())
    key = bytes.fromhex(args.key)
    rng = random.Random(args.seed)
    title = b"SAG" + rng.randbytes(5)
    master, slave = open_pty(args.pty)
    out = sys.stdout
    print(
        json.dumps({"pty": os.ttyname(slave), "link": args.pty, "system_title": title.hex()}),
        file=out,
        flush=True,
    )
    sent = []  # good frames, for --replay
    counter = args.first_counter
    try:
        n = 0
        while args.count is None or n < args.count:
            n += 1
            telegram, values = meter.telegram(n * (args.step or max(1.0, args.interval)))
            fault = next(
                (f for f in FAULTS if getattr(args, f) and n % getattr(args, f) == 0), None
            )
            if args.then and n > args.after:
                fault = args.then.replace("-", "_")
            frame_key = bytes(16) if fault == "wrong_key" else key
            frame = encrypt_frame(telegram, frame_key, title, counter)
            record = {
                "n": n,
                "frame_counter": counter,
                "fault": fault,
                "bytes": len(frame),
                "values": values,
                "timestamp": re.search(rb"0-0:1\.0\.0\((\w+)\)", telegram).group(1).decode(),
            }
            if fault == "replay" and sent:
                frame = sent[-1]
                record["frame_counter"] = int.from_bytes(frame[14:18], "big")
                record["values"] = None
            elif fault == "truncate":
                frame = frame[: len(frame) * 3 // 5]
            elif fault == "oversize":
                frame = encrypt_frame(telegram + telegram, key, title, counter)
            if fault == "noise" and args.then == "noise" and n > args.after:
                frame = rng.randbytes(len(frame))
                record["values"] = None
            elif fault == "noise":
                paced_write(master, rng.randbytes(args.noise_bytes), args.rate)
            if fault == "silence":
                frame, record["values"] = b"", None
            if fault in (None, "noise") and record["values"] is not None:
                sent.append(frame)
            counter += 1  # the meter's counter moves on, whatever the line does
            print(json.dumps(record), file=out, flush=True)
            paced_write(master, frame, args.rate)
            time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        os.close(master)
        os.close(slave)
        if os.path.islink(args.pty):
            os.unlink(args.pty)
    return 0


def add_arguments(p):
    p.add_argument("--telegram", required=True, help="plaintext telegram file (the template)")
    p.add_argument("--key", required=True, help="meter key, 32 hex digits")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between frames")
    p.add_argument(
        "--step",
        type=float,
        help="meter seconds per frame (default: the interval, "
        "at least 1 s, so that every frame has its own timestamp)",
    )
    p.add_argument("--pty", required=True, metavar="LINK", help="path of a symlink to the pty")
    p.add_argument("--count", type=int, help="stop after this many frames")
    p.add_argument(
        "--rate",
        type=int,
        default=BYTES_PER_SECOND,
        help="bytes per second (default 115200 8N1; 0: as fast as possible)",
    )
    p.add_argument("--first-counter", type=int, default=1)
    p.add_argument("--seed", type=int)
    p.add_argument("--noise-bytes", type=int, default=64)
    p.add_argument(
        "--then",
        choices=("silence", "noise", "wrong-key"),
        help="after --after frames, the line goes silent, carries only noise (a frame's "
        "worth each interval) or frames with a wrong key",
    )
    p.add_argument("--after", type=int, default=0, metavar="N", help="good frames before --then")
    for fault in FAULTS:
        p.add_argument(
            "--" + fault.replace("_", "-"),
            type=int,
            metavar="N",
            default=0,
            help=f"{fault.replace('_', ' ')} on every Nth frame",
        )
