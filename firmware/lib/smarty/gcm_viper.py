# AES-128-GCM for stock MicroPython firmware: the block cipher from `cryptolib`
# (AES-ECB, present on the ESP ports) and GHASH and CTR's xor in viper.  Same API as
# the C module `aesgcm`; allocates nothing per call once constructed.
#
# GHASH: Shoup's 4-bit method on four 32-bit words, y0 holding the first four bytes
# (GCM's lowest powers of x).  On 64-bit ports viper's uint is 64 bits, so every left
# shift is masked back to 32 bits; the mask is read from a buffer because 0xFFFFFFFF
# is not a small int on 32-bit ports.

from array import array

import cryptolib
import micropython
from micropython import const

from .gcm_base import _REM4, GcmBase, h_multiples

_ECB = const(1)
_MASK = array("I", [0xFFFFFFFF])


@micropython.viper
def _ghash(table: ptr32, y: ptr32, data: ptr8, length: int, mask_buf: ptr32):
    # y = (y ^ block) * H for each 16-byte block of data[:length] (length % 16 == 0).
    # table[4n..4n+3] = n * H; table[64 + r] = reduction of the 4 bits r, in word 0.
    mask = uint(mask_buf[0])
    y0 = uint(y[0])
    y1 = uint(y[1])
    y2 = uint(y[2])
    y3 = uint(y[3])
    i = 0
    while i < length:
        x0 = y0 ^ (
            uint(data[i]) << 24
            | uint(data[i + 1]) << 16
            | uint(data[i + 2]) << 8
            | uint(data[i + 3])
        )
        x1 = y1 ^ (
            uint(data[i + 4]) << 24
            | uint(data[i + 5]) << 16
            | uint(data[i + 6]) << 8
            | uint(data[i + 7])
        )
        x2 = y2 ^ (
            uint(data[i + 8]) << 24
            | uint(data[i + 9]) << 16
            | uint(data[i + 10]) << 8
            | uint(data[i + 11])
        )
        x3 = y3 ^ (
            uint(data[i + 12]) << 24
            | uint(data[i + 13]) << 16
            | uint(data[i + 14]) << 8
            | uint(data[i + 15])
        )
        z0 = uint(0)
        z1 = uint(0)
        z2 = uint(0)
        z3 = uint(0)
        word = 3
        while word >= 0:  # from the end of the block back to its start
            if word == 3:
                x = x3
            elif word == 2:
                x = x2
            elif word == 1:
                x = x1
            else:
                x = x0
            n = 0
            while n < 8:
                r = int(z3 & 0xF)
                z3 = ((z3 >> 4) | (z2 << 28)) & mask
                z2 = ((z2 >> 4) | (z1 << 28)) & mask
                z1 = ((z1 >> 4) | (z0 << 28)) & mask
                z0 = (z0 >> 4) ^ uint(table[64 + r])
                e = int(x & 0xF) << 2
                z0 ^= uint(table[e])
                z1 ^= uint(table[e + 1])
                z2 ^= uint(table[e + 2])
                z3 ^= uint(table[e + 3])
                x = x >> 4
                n += 1
            word -= 1
        y0 = z0
        y1 = z1
        y2 = z2
        y3 = z3
        i += 16
    y[0] = y0
    y[1] = y1
    y[2] = y2
    y[3] = y3


@micropython.viper
def _xor_into(out: ptr8, data: ptr8, stream: ptr8, offset: int, n: int):
    i = 0
    while i < n:
        out[offset + i] = data[offset + i] ^ stream[i]
        i += 1


@micropython.viper
def _tag_into(y: ptr32, mask: ptr8, out: ptr8):
    # out[0:16] = y (as big-endian bytes) ^ mask
    i = 0
    while i < 4:
        w = uint(y[i])
        out[4 * i] = int(w >> 24) & 0xFF ^ mask[4 * i]
        out[4 * i + 1] = int(w >> 16) & 0xFF ^ mask[4 * i + 1]
        out[4 * i + 2] = int(w >> 8) & 0xFF ^ mask[4 * i + 2]
        out[4 * i + 3] = int(w) & 0xFF ^ mask[4 * i + 3]
        i += 1


@micropython.viper
def _zero(buf: ptr8, n: int):
    i = 0
    while i < n:
        buf[i] = 0
        i += 1


class AESGCM(GcmBase):
    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("key must be 16 bytes")
        self._aes = cryptolib.aes(key, _ECB)
        h = bytearray(16)
        self._aes.encrypt(bytes(16), h)
        multiples = h_multiples(int.from_bytes(h, "big"))
        table = array("I", bytes(4 * 80))
        for n, m in enumerate(multiples):
            for w in range(4):
                table[4 * n + w] = (m >> (96 - 32 * w)) & 0xFFFFFFFF
        for r in range(16):
            table[64 + r] = _REM4[r] >> 96
        self._table = table
        self._y = array("I", bytes(16))
        self._block = bytearray(16)  # padding, lengths, then the tag
        self._counter = bytearray(16)
        self._stream = bytearray(16)

    def _absorb(self, data):
        full = len(data) & ~15
        if full:
            _ghash(self._table, self._y, data, full, _MASK)
        rest = len(data) - full
        if rest:
            block = self._block
            _zero(block, 16)
            for i in range(rest):
                block[i] = data[full + i]
            _ghash(self._table, self._y, block, 16, _MASK)

    def _set_counter(self, n):
        c = self._counter
        c[12], c[13], c[14], c[15] = n >> 24 & 0xFF, n >> 16 & 0xFF, n >> 8 & 0xFF, n & 0xFF

    def _tag(self, iv, aad, ct):
        """The full 16-byte tag, left in self._block."""
        y = self._y
        y[0] = y[1] = y[2] = y[3] = 0
        self._absorb(aad)
        self._absorb(ct)
        block = self._block
        _zero(block, 16)
        for i, bits in ((4, len(aad) << 3), (12, len(ct) << 3)):
            block[i], block[i + 1], block[i + 2], block[i + 3] = (
                bits >> 24 & 0xFF,
                bits >> 16 & 0xFF,
                bits >> 8 & 0xFF,
                bits & 0xFF,
            )
        _ghash(self._table, y, block, 16, _MASK)
        self._counter[:12] = iv
        self._set_counter(1)
        self._aes.encrypt(self._counter, self._stream)
        _tag_into(y, self._stream, block)
        return block

    def _ctr(self, iv, data, out):
        self._counter[:12] = iv
        stream = self._stream
        n = len(data)
        offset = 0
        block = 2
        while offset < n:
            self._set_counter(block)
            self._aes.encrypt(self._counter, stream)
            _xor_into(out, data, stream, offset, min(16, n - offset))
            offset += 16
            block += 1
