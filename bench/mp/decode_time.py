# Time per frame (decrypt + verify + CRC + parse into fields) on MicroPython for each
# GCM backend given, interleaved round by round.  Prints "backend median_us" lines.
#   decode_time.py ROUNDS KEY_HEX FRAME_FILE BACKEND...
import sys
import time
from binascii import unhexlify

from smarty.reader import Reader

rounds, key = int(sys.argv[1]), unhexlify(sys.argv[2])
with open(sys.argv[3], "rb") as f:
    frame = f.read()
readers = [(name, Reader(key, backend=name)) for name in sys.argv[4:]]
times = {name: [] for name, _ in readers}
for _ in range(rounds):
    for name, reader in readers:
        t0 = time.ticks_us()
        fields = reader.decode(frame).fields()
        times[name].append(time.ticks_diff(time.ticks_us(), t0))
        if str(fields["energy_export"]) != "55437.011":
            raise SystemExit(name + ": wrong value")
for name, _ in readers:
    values = sorted(times[name])
    print(name, values[len(values) // 2])
