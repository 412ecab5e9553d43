"""Host-side meter helpers (CPython): build telegrams and encrypted Smarty frames, as
a meter would.  Used by the tests, the benchmarks and `p1.py simulate`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "firmware" / "lib"))

from smarty.dsmr import crc16  # noqa: E402
from smarty.gcm import LUXEMBOURG_AUTH_KEY  # noqa: E402
from smarty.gcm_cpython import AESGCM  # noqa: E402

VECTORS = Path(__file__).resolve().parents[1] / "host_tests" / "vectors"
LUX_TELEGRAM = VECTORS / "telegrams" / "lux" / "relip_simulator_2023_3phase_export.txt"


def with_crc(body):
    """Telegram bytes "/" ... "!" (CRC and CRLF added)."""
    body = body[: body.rindex(b"!") + 1]
    return body + b"%04X\r\n" % crc16(body)


# M-Bus meters a Smarty may carry: device type (EN 13757-3), equipment id, reading
MBUS_METERS = {
    "gas": (3, b"3232323241424344313233343536373839", b"01234.567*m3"),
    "water": (7, b"3333333341424344313233343536373839", b"00321.098*m3"),
}


def smarty_telegram(size=1204, meters=("gas",)):
    """A Luxembourg three-phase telegram with M-Bus `meters` (channels 1, 2, ...), padded
    to exactly `size` bytes with a hex-encoded text message (a 2026 Smarty with gas sends
    1204 bytes; size None: no padding)."""
    body = LUX_TELEGRAM.read_bytes()
    body = body[: body.rindex(b"!")]
    mbus = b""
    for channel, kind in enumerate(meters, 1):
        device_type, equipment_id, reading = MBUS_METERS[kind]
        mbus += (
            b"0-%d:24.1.0(%03d)\r\n0-%d:96.1.0(%s)\r\n0-%d:24.2.1(230315155000W)(%s)\r\n"
            b"0-%d:24.4.0(1)\r\n"
            % (channel, device_type, channel, equipment_id, channel, reading, channel)
        )
    if size is None:
        return with_crc(body + mbus + b"!")
    for n in range(6):  # the empty text messages make way for one padded message
        body = body.replace(b"0-0:96.13.%d()\r\n" % n, b"")
    fixed = len(body) + len(mbus) + len(b"0-0:96.13.0()\r\n!XXXX\r\n")
    pad = size - fixed
    if pad % 2:  # hex text grows by 2: an empty message-code line (15 bytes) fixes parity
        mbus += b"0-0:96.13.1()\r\n"
        pad -= 15
    if pad < 0:
        raise ValueError("cannot pad the telegram to %d bytes" % size)
    message = b"0-0:96.13.0(" + (b"48" * (pad // 2)) + b")\r\n"
    telegram = with_crc(body + mbus + message + b"!")
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
