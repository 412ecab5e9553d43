# Keys as users write them: 32 hex digits.

from binascii import unhexlify


def parse_key(text, what="meter key"):
    """16 bytes from 32 hex digits (spaces and colons allowed); ValueError that never
    repeats the key."""
    digits = "".join(c for c in str(text) if c not in " :-")
    if len(digits) != 32:
        raise ValueError("%s must be 32 hex digits, got %d characters" % (what, len(digits)))
    try:
        return unhexlify(digits)
    except ValueError:
        raise ValueError("%s must be hex digits (0-9, A-F)" % what) from None


def key_id(key):
    """8 hex digits that tell one key from another and say nothing of it: the start of
    its SHA-256."""
    import hashlib

    return hashlib.sha256(key).digest()[:4].hex()
