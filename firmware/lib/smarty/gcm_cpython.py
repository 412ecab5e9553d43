# AES-128-GCM on CPython through the `cryptography` package (OpenSSL), with the API
# of the C module `aesgcm`.  Not used on MicroPython.

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class AESGCM:
    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("key must be 16 bytes")
        self._algorithm = algorithms.AES(bytes(key))

    def decrypt(self, iv, aad, ct, tag):
        _check(iv, tag)
        decryptor = Cipher(self._algorithm, modes.GCM(bytes(iv), bytes(tag), len(tag))).decryptor()
        decryptor.authenticate_additional_data(bytes(aad))
        try:
            return decryptor.update(bytes(ct)) + decryptor.finalize()
        except InvalidTag:
            raise ValueError("authentication failed") from None

    def decrypt_into(self, iv, aad, ct, tag, out):
        if len(out) < len(ct):
            raise ValueError("out buffer too small")
        try:
            out[: len(ct)] = self.decrypt(iv, aad, ct, tag)
        except ValueError:
            if out is not ct:  # in place, the ciphertext stays as it was
                out[: len(ct)] = bytes(len(ct))
            raise

    def encrypt(self, iv, aad, pt, taglen=12):
        _check(iv, None)
        if not 12 <= taglen <= 16:
            raise ValueError("tag must be 12 to 16 bytes")
        encryptor = Cipher(self._algorithm, modes.GCM(bytes(iv))).encryptor()
        encryptor.authenticate_additional_data(bytes(aad))
        ct = encryptor.update(bytes(pt)) + encryptor.finalize()
        return ct, encryptor.tag[:taglen]


def _check(iv, tag):
    if len(iv) != 12:
        raise ValueError("IV must be 12 bytes")
    if tag is not None and not 12 <= len(tag) <= 16:
        raise ValueError("tag must be 12 to 16 bytes")
