# The Python side of the aesgcm native module: the same API and errors as the
# built-in `aesgcm` (cmodules/aesgcm/modaesgcm.c).  Merged into the .mpy after the
# C part, whose _init, _crypt and _CONTEXT_SIZE are in scope here.
# ruff: noqa: F821


def _check(iv, tag):
    if len(iv) != 12:
        raise ValueError("IV must be 12 bytes")
    if tag is not None and not 12 <= len(tag) <= 16:
        raise ValueError("tag must be 12 to 16 bytes")


def _raise(status):
    if status == 1:
        raise ValueError("authentication failed")
    if status:
        raise ValueError("aesgcm: internal error %d" % status)


class AESGCM:
    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("key must be 16 bytes")
        # bytearray storage comes from the GC heap: 8-byte aligned, as the C side needs.
        self._context = bytearray(_CONTEXT_SIZE)
        _raise(_init(self._context, key))

    def decrypt(self, iv, aad, ct, tag):
        out = bytearray(len(ct))
        self.decrypt_into(iv, aad, ct, tag, out)
        return bytes(out)

    def decrypt_into(self, iv, aad, ct, tag, out):
        _check(iv, tag)
        if len(out) < len(ct):
            raise ValueError("out buffer too small")
        _raise(_crypt(self._context, iv, aad, ct, tag, out, True))

    def encrypt(self, iv, aad, pt, taglen=12):
        _check(iv, None)
        if not 12 <= taglen <= 16:
            raise ValueError("tag must be 12 to 16 bytes")
        out = bytearray(len(pt))
        tag = bytearray(taglen)
        _raise(_crypt(self._context, iv, aad, pt, tag, out, False))
        return bytes(out), bytes(tag)
