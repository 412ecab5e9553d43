# decode_loop.py FRAME_FILE KEY_HEX COUNT CHUNK: feeds COUNT copies of a frame through
# the Reader in CHUNK-byte pieces, as a UART would.  Prints the heap in use after
# gc.collect() at frame 10 and at frame COUNT, and what came out.
import gc
import sys
from binascii import unhexlify

from smarty.reader import Reader


def main():
    with open(sys.argv[1], "rb") as f:
        frame = f.read()
    count, chunk = int(sys.argv[3]), int(sys.argv[4])
    reader = Reader(unhexlify(sys.argv[2]))
    data = memoryview(frame)
    telegrams = errors = 0
    heap = {}
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
