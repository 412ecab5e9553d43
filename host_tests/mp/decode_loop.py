# decode_loop.py FRAME_FILE KEY_HEX COUNT CHUNK: feeds COUNT copies of a frame through
# the Reader in CHUNK-byte pieces, as a UART would.  Prints the heap in use after
# gc.collect() at frame 10 and at frame COUNT, and what came out.
# The frame buffer is allocated first, before imports fragment the heap, as the
# firmware does on an ESP8266.
BUFFER = bytearray(2048)

import gc  # noqa: E402
import sys  # noqa: E402
from binascii import unhexlify  # noqa: E402

from smarty.reader import Reader  # noqa: E402


def main():
    with open(sys.argv[1], "rb") as f:
        frame = f.read()
    count, chunk = int(sys.argv[3]), int(sys.argv[4])
    reader = Reader(unhexlify(sys.argv[2]), buffer=BUFFER)
    data = memoryview(frame)
    telegrams = errors = 0
    heap = {10: 0, count: 0}  # both keys now: growing the dict later would count
    energy = None
    for n in range(1, count + 1):
        for pos in range(0, len(frame), chunk):
            for item in reader.feed(data[pos : pos + chunk]):
                if isinstance(item, Exception):
                    errors += 1
                    print("error", item)
                else:
                    telegrams += 1
                    energy = item.get("energy_export")
                item = None
        if n in (10, count):
            gc.collect()
            heap[n] = gc.mem_alloc()
    print("telegrams", telegrams)
    print("errors", errors)
    print("energy_export", energy)
    print("backend", reader.backend)
    print("heap_10", heap[10])
    print("heap_last", heap[count])
    print("heap_free", gc.mem_free())


main()
