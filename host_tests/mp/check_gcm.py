# Runs GCM cases on MicroPython: check_gcm.py MODULE CASES_FILE
# Each line: key iv aad ct tag pt|FAIL (hex, "-" for empty).  Every case is decrypted
# (and, unless FAIL, encrypted); ValueError("authentication failed") is the only
# acceptable outcome of a FAIL case.  With "flips", every good case is also checked
# to fail after one flipped byte in ct, tag, iv and aad.
import sys
from binascii import unhexlify

aesgcm = __import__(sys.argv[1], None, None, ["AESGCM"])
flips = len(sys.argv) > 3 and sys.argv[3] == "flips"


def unhex(field):
    return b"" if field == "-" else unhexlify(field)


def rejects(g, iv, aad, ct, tag):
    try:
        g.decrypt(iv, aad, ct, tag)
    except ValueError as e:
        return str(e) == "authentication failed"
    return False


def flipped(data):
    if not data:
        return None
    b = bytearray(data)
    b[len(b) // 2] ^= 0x01
    return bytes(b)


passed = failed = 0
with open(sys.argv[2]) as f:
    for number, line in enumerate(f):
        key, iv, aad, ct, tag, pt = line.split()
        key, iv, aad, ct, tag = unhex(key), unhex(iv), unhex(aad), unhex(ct), unhex(tag)
        g = aesgcm.AESGCM(key)
        problems = []
        if pt == "FAIL":
            if not rejects(g, iv, aad, ct, tag):
                problems.append("not rejected")
        else:
            pt = unhex(pt)
            if g.decrypt(iv, aad, ct, tag) != pt:
                problems.append("decrypt")
            if g.encrypt(iv, aad, pt, taglen=len(tag)) != (ct, tag):
                problems.append("encrypt")
            if flips:
                for name, args in (
                    ("ct", (iv, aad, flipped(ct), tag)),
                    ("tag", (iv, aad, ct, flipped(tag))),
                    ("iv", (flipped(iv), aad, ct, tag)),
                    ("aad", (iv, flipped(aad), ct, tag)),
                ):
                    if None not in args and not rejects(g, *args):
                        problems.append("flipped " + name + " accepted")
        if problems:
            failed += 1
            print("case", number, ", ".join(problems))
        else:
            passed += 1
print(passed, "passed,", failed, "failed")
