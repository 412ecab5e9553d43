# Opens the queue in sys.argv[1] as the firmware would after a reset, adds reading 6 and
# prints what comes out: "waiting N lost N" then the readings' numbers.
import sys

from smartyreader.queue import Queue

queue = Queue(sys.argv[1], 1, 256)
print("waiting", queue.waiting, "lost", queue.lost)
state, legacy = b'{"n": 6}', b"legacy 6"
slot = queue.slot()
slot[: len(state)] = state
slot[len(state) : len(state) + len(legacy)] = legacy
queue.commit(len(state), len(legacy))
while True:
    reading = queue.oldest()
    if reading is None:
        break
    print(int(bytes(reading[0])[6:-1]))
    queue.pop()
