# gcm_alloc.py MODULE FILE: decrypt_into's heap use, and what a rejected frame leaves
# in the output buffer.  FILE holds: key iv aad ct tag bad_tag (hex, one line); data
# goes through a file because the unix port cannot take an argument over 255 bytes.
import gc
import sys
from binascii import hexlify, unhexlify

aesgcm = __import__(sys.argv[1])
with open(sys.argv[2]) as f:
    key, iv, aad, ct, tag, bad_tag = [unhexlify(a) for a in f.read().split()]
g = aesgcm.AESGCM(key)
out = bytearray(len(ct))
g.decrypt_into(iv, aad, ct, tag, out)  # warm up


def heap_used_by_50_calls():
    # In a function (module-level names would grow the globals dict) and without
    # range() (its iterator is an allocation): only decrypt_into can allocate here.
    gc.collect()
    before = gc.mem_alloc()
    i = 0
    while i < 50:
        g.decrypt_into(iv, aad, ct, tag, out)
        i += 1
    return gc.mem_alloc() - before


print("allocated=%d" % heap_used_by_50_calls())
print("plaintext=" + hexlify(out).decode())
try:
    g.decrypt_into(iv, aad, ct, bad_tag, out)
    print("rejected=no")
except ValueError as e:
    print("rejected=" + str(e))
print("after_reject=" + hexlify(out).decode())
