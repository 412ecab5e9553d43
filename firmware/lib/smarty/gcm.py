# Decryption of DLMS general-glo-ciphering frames (Smarty): AES-128-GCM, tag always
# verified.  The GCM implementation is chosen once, best available first:
#   aesgcm           the C module (built into the firmware, or aesgcm.mpy natmod)
#   cryptolib+viper  stock ESP firmware: cryptolib's AES + viper GHASH
#   cryptography     CPython with the `cryptography` package
#   pure-python      anywhere

from . import const
from .errors import AuthError, FrameError
from .framer import dlms_frame_length

# Luxembourg's authentication key (AK); the AAD is 0x30 || AK.
LUXEMBOURG_AUTH_KEY = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff"
_SECURITY_BYTE = const(b"\x30")  # encrypted and authenticated: the AAD starts with it
_TAG_LENGTH = const(12)
# (backend name, module that holds its AESGCM class), best first
BACKENDS = (
    ("aesgcm", "aesgcm"),
    ("cryptolib+viper", "smarty.gcm_viper"),
    ("cryptography", "smarty.gcm_cpython"),
    ("pure-python", "smarty.gcm_pure"),
)


def load_backend(name=None):
    """(name, AESGCM class) of the backend asked for, or the best one available."""
    for candidate, module in BACKENDS:
        if name in (None, candidate):
            try:
                return candidate, __import__(module, None, None, ["AESGCM"]).AESGCM
            except (ImportError, AttributeError, SyntaxError):
                # SyntaxError: a firmware without the viper emitter
                if name:
                    raise
    if name:
        raise ValueError(
            "unknown GCM backend %r (one of %s)" % (name, ", ".join(b[0] for b in BACKENDS))
        )
    raise ImportError("no AES-GCM implementation available")  # pure-python always is


class Decryptor:
    def __init__(self, key, auth_key=LUXEMBOURG_AUTH_KEY, backend=None):
        if len(key) != 16:
            raise ValueError("meter key must be 16 bytes")
        if len(auth_key) != 16:
            raise ValueError("auth key must be 16 bytes")
        self.backend, cls = load_backend(backend)
        self._gcm = cls(key)
        self._aad = _SECURITY_BYTE + bytes(auth_key)
        self._iv = bytearray(12)

    def decrypt_in_place(self, buf, start, end):
        """Decrypts the general-glo-ciphering frame buf[start:end] where it lies.
        Returns (system title bytes, frame counter, plaintext start, plaintext end);
        on AuthError the frame's bytes are left as they were."""
        frame = memoryview(buf)[start:end]
        header, total = dlms_frame_length(frame)
        if end - start != total:
            raise FrameError("DLMS frame of %d bytes, its header says %d" % (end - start, total))
        # IV = system title (8) || frame counter (4)
        iv = self._iv
        iv[0:8] = frame[2:10]
        iv[8:12] = frame[header + 1 : header + 5]
        ct_start, ct_end = header + 5, total - _TAG_LENGTH
        ct = frame[ct_start:ct_end]
        try:
            self._gcm.decrypt_into(iv, self._aad, ct, frame[ct_end:total], ct)
        except ValueError:
            raise AuthError(
                "authentication failed: wrong meter key (or auth key), or a corrupted frame"
            ) from None
        counter = iv[8] << 24 | iv[9] << 16 | iv[10] << 8 | iv[11]
        return bytes(iv[0:8]), counter, start + ct_start, start + ct_end
