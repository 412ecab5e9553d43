# Time per Smarty-sized frame (decrypt+verify, 1204 bytes + 17-byte AAD) on MicroPython
# for each GCM implementation given, interleaved round by round so that both see the
# same machine load.  Prints "name median_us" lines.
#   gcm_time.py ROUNDS NAME=MODULE ...
import sys
import time

rounds = int(sys.argv[1])
key, iv, aad = bytes(range(16)), bytes(12), b"\x30" + bytes(range(16))
pt = bytes(32 + i % 90 for i in range(1204))
impls = []
for spec in sys.argv[2:]:
    name, module = spec.split("=")
    mod = __import__(module, None, None, ["AESGCM"])
    impls.append((name, mod.AESGCM(key), []))
ct, tag = impls[0][1].encrypt(iv, aad, pt)
out = bytearray(len(ct))
for _ in range(rounds):
    for name, g, times in impls:
        t0 = time.ticks_us()
        g.decrypt_into(iv, aad, ct, tag, out)
        times.append(time.ticks_diff(time.ticks_us(), t0))
        if out != pt:
            raise SystemExit(name + ": wrong plaintext")
for name, g, times in impls:
    times.sort()
    print(name, times[len(times) // 2])
