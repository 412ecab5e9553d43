# The replay guard's file across resets, on MicroPython: counters kept per meter under
# the id of its key; a new key forgets them, an old file (no ids) and damaged lines do
# not stop the rest from loading.  Prints what each step gives.
import sys

from smarty.keys import key_id
from smartyreader.assemble import kept_counters
from smartyreader.receiver import ReplayGuard

path = sys.argv[1] + "/counters.txt"
one, two = b"SAG\x00\x00\x00\x00\x01", b"SAG\x00\x00\x00\x00\x02"
k1, k2, k3 = key_id(bytes(range(16))), key_id(bytes(16)), key_id(b"\xff" * 16)
print("ids", k1, k2, k3)


def restart(keys):
    return ReplayGuard(path, keys, kept_counters(path, keys))


guard = restart([k1, k2])
print("new", guard.replayed(one, 100), guard.replayed(two, 7, 1))
print("again", guard.replayed(one, 100), guard.replayed(one, 99), guard.replayed(two, 7, 1))
guard.replayed(one, 101)
guard.save()
print("file", sorted(open(path).read().splitlines()))

# a reset: the same keys
guard = restart([k1, k2])
print("reset", guard.replayed(one, 101), guard.replayed(two, 7, 1))
# a reset with a new key for the first meter: its counter starts anew, not the second's
guard = restart([k3, k2])
print("new key", guard.replayed(one, 1), guard.replayed(two, 7, 1))
# the second meter removed from the config: its line is not loaded
guard = restart([k3])
print("one meter", sorted(guard.last))

# a file of the firmware before key ids, with a damaged line and a stranger's
with open(path, "w") as f:
    f.write("5341470000000001 500\ngarbage\n5341470000000002/2 x\n5341470000000001/0 9\n")
guard = restart([k1, k2])
print("old file", sorted(guard.last.items()), guard.replayed(one, 500), guard.replayed(one, 501))
