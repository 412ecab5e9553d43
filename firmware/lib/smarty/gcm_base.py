# The AES-GCM API of the C module `aesgcm`, for the Python tiers (gcm_viper, gcm_pure):
# they give _tag() (the full 16-byte tag) and _ctr() (CTR from counter 2); this class
# checks arguments, verifies the tag in constant time and never leaves plaintext behind
# a wrong tag.  And GHASH's 4-bit tables (Shoup's method), which both tiers build: here,
# so that gcm_viper does not load gcm_pure's AES.


def check(iv, tag):
    if len(iv) != 12:
        raise ValueError("IV must be 12 bytes")
    if tag is not None and not 12 <= len(tag) <= 16:
        raise ValueError("tag must be 12 to 16 bytes")


class GcmBase:
    def decrypt(self, iv, aad, ct, tag):
        out = bytearray(len(ct))
        self.decrypt_into(iv, aad, ct, tag, out)
        return bytes(out)

    def decrypt_into(self, iv, aad, ct, tag, out):
        """out may be ct itself (in place); after a wrong tag it holds no plaintext:
        zeroed, or in place the untouched ciphertext."""
        check(iv, tag)
        if len(out) < len(ct):
            raise ValueError("out buffer too small")
        expected = self._tag(iv, aad, ct)
        diff = 0  # constant time: no early exit
        for i in range(len(tag)):
            diff |= expected[i] ^ tag[i]
        if diff:
            if out is not ct:
                for i in range(len(ct)):
                    out[i] = 0
            raise ValueError("authentication failed")
        self._ctr(iv, ct, out)

    def encrypt(self, iv, aad, pt, taglen=12):
        check(iv, None)
        if not 12 <= taglen <= 16:
            raise ValueError("tag must be 12 to 16 bytes")
        out = bytearray(len(pt))
        self._ctr(iv, pt, out)
        return bytes(out), bytes(self._tag(iv, aad, out)[:taglen])


def _reduction(r):
    # What shifting the 4 low bits r out of the GHASH accumulator adds at the top
    # (R = 0xE1 << 120, one bit at a time).
    for _ in range(4):
        r = (r >> 1) ^ (0xE1 << 120 if r & 1 else 0)
    return r


_REM4 = [_reduction(r) for r in range(16)]


def h_multiples(h):
    """[n * H for n in 0..15] in GHASH's reflected bit order: [8] = H, [4] = H * x, ...
    (the 4-bit table of Shoup's method)."""
    table = [0] * 16
    for i in (8, 4, 2, 1):
        table[i] = h
        h = (h >> 1) ^ (0xE1 << 120 if h & 1 else 0)
    for i in (2, 4, 8):
        for j in range(1, i):
            table[i + j] = table[i] ^ table[j]
    return table
