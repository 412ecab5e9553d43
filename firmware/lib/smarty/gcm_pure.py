# AES-128-GCM in pure Python: the decryption backend of last resort (any runtime).
#
# Same API as the C module `aesgcm`.  AES works on bytes (no value above 255, so no
# long ints on 32-bit ports); GHASH uses Python ints with a 4-bit table (Shoup).
# Slow by design of the language, not of the algorithm: see BENCHMARKS.md.

from .gcm_base import _REM4, GcmBase, h_multiples


def _rotl8(x, n):
    return ((x << n) | (x >> (8 - n))) & 0xFF


def _make_sbox():
    # Walk GF(2^8) with the generator 3 (p) and its inverse (q = 1/p): the S-box of
    # p is the affine transform of q.
    sbox = bytearray(256)
    sbox[0] = 0x63
    p = q = 1
    while True:
        p ^= ((p << 1) & 0xFF) ^ (0x1B if p & 0x80 else 0)
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        sbox[p] = q ^ _rotl8(q, 1) ^ _rotl8(q, 2) ^ _rotl8(q, 3) ^ _rotl8(q, 4) ^ 0x63
        if p == 1:
            return bytes(sbox)


_SBOX = _make_sbox()
_MUL2 = bytes(((x << 1) ^ (0x1B if x & 0x80 else 0)) & 0xFF for x in range(256))
# ShiftRows as a gather: state byte i of the next round comes from _SHIFT[i].
_SHIFT = bytes((i + 4 * (i % 4)) % 16 for i in range(16))


def _expand_key(key):
    rk = bytearray(176)
    rk[:16] = key
    rcon = 1
    for i in range(16, 176, 4):
        t0, t1, t2, t3 = rk[i - 4], rk[i - 3], rk[i - 2], rk[i - 1]
        if i % 16 == 0:
            t0, t1, t2, t3 = _SBOX[t1] ^ rcon, _SBOX[t2], _SBOX[t3], _SBOX[t0]
            rcon = _MUL2[rcon]
        rk[i], rk[i + 1], rk[i + 2], rk[i + 3] = (
            rk[i - 16] ^ t0,
            rk[i - 15] ^ t1,
            rk[i - 14] ^ t2,
            rk[i - 13] ^ t3,
        )
    return rk


def _encrypt_block(rk, block):
    """AES-128 of 16 bytes; returns a new bytearray."""
    s = bytearray(16)
    for i in range(16):
        s[i] = block[i] ^ rk[i]
    t = bytearray(16)
    for r in range(16, 160, 16):
        for i in range(16):
            t[i] = _SBOX[s[_SHIFT[i]]]
        for c in range(0, 16, 4):
            a0, a1, a2, a3 = t[c], t[c + 1], t[c + 2], t[c + 3]
            x = a0 ^ a1 ^ a2 ^ a3
            s[c] = a0 ^ x ^ _MUL2[a0 ^ a1] ^ rk[r + c]
            s[c + 1] = a1 ^ x ^ _MUL2[a1 ^ a2] ^ rk[r + c + 1]
            s[c + 2] = a2 ^ x ^ _MUL2[a2 ^ a3] ^ rk[r + c + 2]
            s[c + 3] = a3 ^ x ^ _MUL2[a3 ^ a0] ^ rk[r + c + 3]
    for i in range(16):
        t[i] = _SBOX[s[_SHIFT[i]]] ^ rk[160 + i]
    return t


class AESGCM(GcmBase):
    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("key must be 16 bytes")
        self._rk = _expand_key(key)
        self._table = h_multiples(int.from_bytes(_encrypt_block(self._rk, bytes(16)), "big"))

    def _ghash(self, y, data):
        table, rem = self._table, _REM4
        for i in range(0, len(data), 16):
            chunk = bytes(data[i : i + 16])
            x = y ^ int.from_bytes(chunk + bytes(16 - len(chunk)), "big")
            z = 0
            for _ in range(32):  # nibbles from the end of the block back to its start
                z = (z >> 4) ^ rem[z & 15] ^ table[x & 15]
                x >>= 4
            y = z
        return y

    def _tag(self, iv, aad, ct):
        y = self._ghash(self._ghash(0, aad), ct)
        y = self._ghash(y, (len(aad) * 8).to_bytes(8, "big") + (len(ct) * 8).to_bytes(8, "big"))
        mask = int.from_bytes(_encrypt_block(self._rk, bytes(iv) + b"\x00\x00\x00\x01"), "big")
        return (y ^ mask).to_bytes(16, "big")

    def _ctr(self, iv, data, out):
        counter = bytearray(16)
        counter[:12] = iv
        for i in range(0, len(data), 16):
            n = (i >> 4) + 2
            counter[12], counter[13], counter[14], counter[15] = (
                n >> 24 & 0xFF,
                n >> 16 & 0xFF,
                n >> 8 & 0xFF,
                n & 0xFF,
            )
            stream = _encrypt_block(self._rk, counter)
            for j in range(min(16, len(data) - i)):
                out[i + j] = data[i + j] ^ stream[j]
