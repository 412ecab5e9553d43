# The errors of the P1 core.  `kind` is the short name the decode tool and the
# firmware's counters use.


class P1Error(ValueError):
    kind = "p1"


class FrameError(P1Error):
    """Bytes that do not make a whole frame: noise, truncation, overflow, a bad header."""

    kind = "frame"


class AuthError(P1Error):
    """The GCM tag does not match: wrong key (or auth key), or a corrupted frame."""

    kind = "auth"


class ChecksumError(P1Error):
    """The telegram's CRC16 does not match its bytes, or a DSMR 4+ telegram has none."""

    kind = "crc"


class ParseError(P1Error):
    """A telegram (or decrypted payload) that is not a well-formed DSMR telegram."""

    kind = "parse"
