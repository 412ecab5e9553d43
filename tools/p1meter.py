"""Host-side meter helpers (CPython): build telegrams and encrypted Smarty frames, as
a meter would.  Used by the tests, the benchmarks and `p1.py simulate`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "firmware" / "lib"))

from smarty.dsmr import crc16  # noqa: E402
from smarty.gcm import LUXEMBOURG_AUTH_KEY  # noqa: E402
from smarty.gcm_cpython import AESGCM  # noqa: E402

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
LUX_TELEGRAM = VECTORS / "telegrams" / "lux" / "relip_simulator_2023_3phase_export.txt"


def with_crc(body):
    """Telegram bytes "/" ... "!" (CRC and CRLF added)."""
    body = body[: body.rindex(b"!") + 1]
    return body + b"%04X\r\n" % crc16(body)


def smarty_telegram(size=1204):
    """A Luxembourg telegram with a gas meter, padded to exactly `size` bytes with a
    hex-encoded text message (a 2026 Smarty with gas sends 1204 bytes)."""
    body = LUX_TELEGRAM.read_bytes()
    body = body[: body.rindex(b"!")]
    gas = (
        b"0-1:24.1.0(003)\r\n0-1:96.1.0(3232323241424344313233343536373839)\r\n"
        b"0-1:24.2.1(230315155000W)(01234.567*m3)\r\n0-1:24.4.0(1)\r\n"
    )
    for n in range(6):  # the empty text messages make way for one padded message
        body = body.replace(b"0-0:96.13.%d()\r\n" % n, b"")
    fixed = len(body) + len(gas) + len(b"0-0:96.13.0()\r\n!XXXX\r\n")
    pad = size - fixed
    if pad % 2:  # hex text grows by 2: an empty message-code line (15 bytes) fixes parity
        gas += b"0-0:96.13.1()\r\n"
        pad -= 15
    if pad < 0:
        raise ValueError("cannot pad the telegram to %d bytes" % size)
    message = b"0-0:96.13.0(" + (b"48" * (pad // 2)) + b")\r\n"
    telegram = with_crc(body + gas + message + b"!")
    assert len(telegram) == size, len(telegram)
    return telegram


def encrypt_frame(
    plaintext,
    key,
    system_title=b"SAG\x00\x01\x02\x03\x04",
    frame_counter=1,
    auth_key=LUXEMBOURG_AUTH_KEY,
):
    """A DLMS general-glo-ciphering frame as a Smarty sends it:
    DB 08 <system title> 82 <len> 30 <frame counter> <ciphertext> <tag 12>."""
    counter = frame_counter.to_bytes(4, "big")
    ct, tag = AESGCM(key).encrypt(system_title + counter, b"\x30" + auth_key, plaintext, 12)
    length = 1 + 4 + len(ct) + 12
    if length < 0x80:
        ber = bytes([length])
    elif length < 0x100:
        ber = bytes([0x81, length])
    else:
        ber = bytes([0x82]) + length.to_bytes(2, "big")
    return b"\xdb\x08" + system_title + ber + b"\x30" + counter + ct + tag
