# The AES-GCM API of the C module `aesgcm`, for the Python tiers (gcm_viper, gcm_pure):
# they give _tag() (the full 16-byte tag) and _ctr() (CTR from counter 2); this class
# checks arguments, verifies the tag in constant time and never leaves plaintext behind
# a wrong tag.


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
