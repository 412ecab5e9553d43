# Weeks of running, on MicroPython: the ESP ports' time.ticks_ms() wraps every 2**30 ms
# (12.4 days; micropython32's too) and ticks_diff() spans only half of that.  A clock
# that the script moves on (the port's own ticks_add() and ticks_diff()) stands in for
# the ticks of smartyreader.uptime_s(), called at least hourly as the loops do.  Prints
# what a user would see after days: the uptime, the diag's ages, persistent trouble, the
# frame counters saved, the WiFi fallback.
import asyncio
import json
import sys
import time

import smartyreader
from smartyreader import app, uptime_s
from smartyreader.app import App, Meter
from smartyreader.receiver import Receiver, ReplayGuard

HOUR_MS = 3600 * 1000
DAY_S = 24 * 3600


class Ticks:
    """time.ticks_ms() that this script moves on, from just before a wrap."""

    ticks_diff = staticmethod(time.ticks_diff)

    def __init__(self):
        self.now = time.ticks_add(0, -5000)  # the wrap 5 s from now

    def ticks_ms(self):
        return self.now

    def run(self, ms, step_ms=HOUR_MS):
        """ms go by, the loops looking at the uptime every step_ms."""
        while ms > 0:
            step = min(ms, step_ms)
            self.now = time.ticks_add(self.now, step)
            ms -= step
            uptime_s()


clock = Ticks()
smartyreader.time = clock  # before uptime_s() first looks: its count starts here
start = uptime_s()

clock.run(999 * 1001, step_ms=999)  # milliseconds carried: 999 x 1001 ms = 999.999 s
print("carried", uptime_s() - start)


class Port:
    def request(self, on):
        pass


class Framer:
    noise_bytes = timeouts = overflows = 0


class Reader:
    framer = Framer()
    counters = {"frames_ok": 1}
    backend = "aesgcm"


class Queue:
    dropped = lost = waiting = on_flash = written = 0
    max_readings = 8640


class Publisher:
    broker = None
    counters = {"reconnects": 0}
    last_error = None

    class wifi:
        up = True

        @classmethod
        def connected(cls):  # an hour between two looks
            clock.run(HOUR_MS)
            if uptime_s() - start > 60 * DAY_S:
                raise RuntimeError("no WiFi fallback in 60 days")
            return cls.up


directory = sys.argv[1]
guard = ReplayGuard(directory + "/counters.txt", ["0badcafe"])
receiver = Receiver(Port(), Reader(), guard, None, None)
meter = Meter(receiver, "t")
reader_app = App([meter], Queue(), guard, Publisher())

# A good frame, then a week of silence, then only noise for 11 minutes.
guard.replayed(b"SAG", 1)
receiver.last_good = receiver.last_bytes = uptime_s()
clock.run(7 * DAY_S * 1000)
print("week of silence", receiver.trouble(uptime_s()), receiver.between_frames(uptime_s()))
clock.run(11 * 60 * 1000, step_ms=1000)
receiver.last_bytes = uptime_s()
print("then noise", receiver.trouble(uptime_s()))

# The frame counters: saved with the first frame, then at most hourly (here: a week on).
saved = open(directory + "/counters.txt").read()
guard.replayed(b"SAG", 2)
print("counters", saved.split(), open(directory + "/counters.txt").read().split())

# The diag after 20 days, the last good frame 13 days ago.
clock.run(13 * DAY_S * 1000 - 11 * 60 * 1000 - 999999)
buf = bytearray(2048)
diag = json.loads(bytes(buf[: reader_app.diagnostics(buf, meter)]))
print("diag", diag["uptime_s"] - start, diag["last_frame_s"], diag["last_bytes_s"])

# The home WiFi away for longer than ticks_diff() spans: the fallback (8 days) comes.
app._WIFI_POLL_S = 0
Publisher.wifi.up = False
outage = uptime_s()
try:
    asyncio.run(reader_app._watch_wifi(8 * DAY_S, None))
except app._Ended as e:
    print("wifi fallback", e.args[0] == app.NO_WIFI, (uptime_s() - outage) // 3600)
print("uptime", uptime_s() - start, (uptime_s() - start) // DAY_S)
