# The receiver's and the publisher's loops on MicroPython with parts that fail: a
# MemoryError and a bug in the read path, a MemoryError and a bug while publishing, a
# MemoryError while looking at the WiFi.
# Prints the counters after both loops ran a while: each failure counted, the loops alive,
# the reading published after all.
import asyncio
import sys

from smartyreader.publisher import Publisher
from smartyreader.receiver import Receiver, ReplayGuard


class Port:
    def request(self, on):
        pass

    def readinto(self, buf):
        return 0


class Framer:
    def space(self):
        return memoryview(bytearray(16))

    def received(self, n, now):
        pass


class Reader:
    def __init__(self):
        self.framer = Framer()
        self.calls = 0

    def frames(self):
        self.calls += 1
        if self.calls == 1:
            raise MemoryError("memory allocation failed")
        if self.calls == 2:
            raise KeyError("a bug")
        return iter(())


class Queue:
    online = False
    waiting = used = meter = 0

    def __init__(self):
        self.readings = [(b'{"n": 1}', b"")]

    def oldest(self):
        return self.readings[0] if self.readings else None

    def pop(self):
        self.readings.pop(0)


class Broker:
    host, port = "broker", 1883
    looked_up = True

    def __init__(self):
        self.connected = False
        self.publishes = 0
        self.sent = []

    def connect(self):
        self.connected = True

    def publish(self, topic, payload, retain=False, qos=0):
        self.publishes += 1
        if self.publishes == 1:
            raise MemoryError("memory allocation failed")
        if self.publishes == 2:
            raise TypeError("a bug")
        self.sent.append((topic, bytes(payload)))

    def close(self):
        self.connected = False

    def ping(self):
        pass


class Outlet:  # a meter's topics and receiver (app.Meter)
    legacy_topic = name = sensors_path = None
    discovery_sent = False

    class receiver:  # its line between two frames: a connect may block
        @staticmethod
        def between_frames(now):
            return True

    class payloads:  # no telegram yet: no meter id, no discovery
        meter = None

    def __init__(self, topic):
        self.topic = topic


class WiFi:
    checks = 0

    def connected(self):
        self.checks += 1
        if self.checks == 1:  # the check's own garbage (a log line; a model's file)
            raise MemoryError("memory allocation failed")
        return True


async def main(directory):
    receiver = Receiver(
        Port(), Reader(), ReplayGuard(directory + "/counters.txt", ["k"]), None, None
    )
    broker = Broker()
    publisher = Publisher(
        broker, Queue(), WiFi(), [Outlet("t")], "t/status", keepalive_s=0, diag_interval_s=3600
    )
    tasks = [asyncio.create_task(receiver.run()), asyncio.create_task(publisher.run())]
    for _ in range(300):  # the publisher waits 1 s after each failure
        await asyncio.sleep_ms(100)
        if broker.sent:
            break
    for task in tasks:
        task.cancel()
    print("receiver", receiver.counters["memory_errors"], receiver.counters["errors"])
    print("publisher", publisher.counters["memory_errors"], publisher.counters["errors"])
    print("sent", broker.sent)


asyncio.run(main(sys.argv[1]))

# persistent trouble: what asks for a restart, and what does not (times: uptime_s())
r = Receiver(Port(), Reader(), ReplayGuard(sys.argv[1] + "/c.txt", ["k"]), None, None)
r.last_good, r.last_bytes = 0, 700
print("no frame", r.trouble(700))
r.auth_streak = 3
print("wrong key", r.trouble(700))
r.last_good = 690
r._memory_errors = [650, 660, 670, 680, 690]
print("memory", r.trouble(700))
r._memory_errors = [600, 660, 670, 680, 690]
print("memory spread", r.trouble(700))
# one meter of several: its silent line is no reason to restart the others
r = Receiver(Port(), Reader(), ReplayGuard(sys.argv[1] + "/c.txt", ["k"]), None, None, alone=False)
r.last_good, r.last_bytes = 0, 700
print("no frame of one of several", r.trouble(700))

# a reading queued for a meter no longer configured is dropped, not published as another's
q = Queue()
q.meter, q.dropped = 4, 0
b = Broker()
b.publishes = 2  # past the failures it injects
Publisher(b, q, WiFi(), [Outlet("t")], "t/status").send_oldest()
print("unconfigured", q.dropped, b.sent, q.readings)

# the meters are read between any two readings the publisher sends, and after its
# connect: each may wait seconds (PUBACKs, CONNACK), and on an ESP32 the reader's loop
# feeds the watchdog
turns = []


class Patient(Broker):
    def connect(self):
        self.connected = True
        turns.append("C")

    def publish(self, topic, payload, retain=False, qos=0):
        turns.append("P")


class Backlog(Queue):
    def __init__(self):
        self.readings = [(b"{}", b"")] * 5

    @property
    def waiting(self):
        return len(self.readings)


class Up:
    def connected(self):
        return True


async def reader():
    while True:
        if turns[-1:] != ["R"]:
            turns.append("R")
        await asyncio.sleep_ms(0)


async def backlog():
    q = Backlog()
    publisher = Publisher(Patient(), q, Up(), [Outlet("t")], "t/status", keepalive_s=0)
    tasks = [asyncio.create_task(reader()), asyncio.create_task(publisher.run())]
    for _ in range(500):
        await asyncio.sleep_ms(10)
        if not q.readings:
            break
    for task in tasks:
        task.cancel()
    print("turns", "".join(turns))


asyncio.run(backlog())
