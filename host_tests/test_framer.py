"""The stream framer and the Reader around it: chunking, noise, truncation, overflow,
lying headers, silences; property tests that no valid frame is ever lost; and the
same captures decoded identically on MicroPython."""

import json
import random
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import MP_SCRIPTS, ROOT, VECTORS, run_micropython

sys.path[:0] = [str(ROOT / "firmware" / "lib"), str(ROOT / "tools")]
import p1meter  # noqa: E402
from smarty.errors import FrameError, P1Error  # noqa: E402
from smarty.framer import Framer  # noqa: E402
from smarty.reader import Reader  # noqa: E402

KEY = bytes(range(16))
TELEGRAM = (
    VECTORS / "telegrams" / "lux" / "luxmetering_spec_v1.1.3_example_4mbus.txt"
).read_bytes()
SMARTY = p1meter.smarty_telegram()


def frame(counter, key=KEY):
    return p1meter.encrypt_frame(SMARTY, key, frame_counter=counter)


def framer_items(data, chunk=None, size=2048):
    """What a bare Framer makes of data fed in chunks: frame bytes or error text."""
    framer = Framer(size)
    out = []
    chunk = chunk or len(data) or 1
    for i in range(0, len(data), chunk):
        out += [
            str(x) if isinstance(x, FrameError) else bytes(x)
            for x in framer.feed(data[i : i + chunk])
        ]
    out += [str(x) if isinstance(x, FrameError) else bytes(x) for x in framer.flush()]
    return out, framer


def identities(data, chunks, key=KEY, size=2048, now=None):
    """Frame counters (encrypted) or headers (plaintext) of the telegrams a Reader finds,
    and the error kinds, feeding data cut at the given offsets."""
    reader = Reader(key, buffer_size=size)
    got, errors = [], []
    cuts = [0, *sorted(chunks), len(data)]
    for n, (a, b) in enumerate(zip(cuts, cuts[1:])):
        if now is not None:  # a read that finds nothing at that time: a silence if late
            chunk = list(reader.feed(b"", now[n]))
        else:
            chunk = []
        for item in chunk + list(reader.feed(data[a:b], None if now is None else now[n])):
            if isinstance(item, P1Error):
                errors.append(item.kind)
            else:
                got.append(item.frame_counter if item.system_title else item.header)
    for item in reader.flush():
        if isinstance(item, P1Error):
            errors.append(item.kind)
        else:
            got.append(item.frame_counter if item.system_title else item.header)
    return got, errors


# ---- single cases ----


def test_a_frame_split_at_every_position():
    data = frame(7) + TELEGRAM
    for cut in range(0, len(data), 7):
        assert framer_items(data[:cut] + data[cut:], chunk=None)[0] == [frame(7), TELEGRAM]
        got, errors = identities(data, [cut])
        assert got == [7, "Lux5\\253694471_M"] and errors == [], cut


def test_one_byte_at_a_time():
    items, framer = framer_items(b"\x00noise" + frame(1) + TELEGRAM, chunk=1)
    assert items == [frame(1), TELEGRAM]
    assert framer.noise_bytes == 6


def test_short_and_long_form_ber_lengths():
    for size in (20, 100, 200, 1204):  # 81 xx and 82 xx xx; short form below 0x80
        pt = SMARTY[:size]
        f = p1meter.encrypt_frame(pt, KEY)
        assert framer_items(b"xx" + f + b"yy")[0] == [f], size
    short = p1meter.encrypt_frame(b"/ABC5\r\n\r\n!", KEY)
    assert short[10] < 0x80 and framer_items(short)[0] == [short]


def test_noise_with_false_starts_between_frames():
    noise = b"\xdb\x09\xdb" + b"/ab" + b"/1AB" + bytes(range(256)).replace(b"\xdb", b"")
    got, errors = identities(noise + frame(1) + noise + frame(2) + noise, [5, 300, 1500])
    assert got == [1, 2]


def test_truncated_frame_then_good_frame():
    """The cut frame's header claims bytes that the next frame provides: its tag fails,
    and the rescan finds the next frame inside it."""
    got, errors = identities(frame(1)[:700] + frame(2) + frame(3), [100, 1000, 2000])
    assert got == [2, 3] and errors == ["auth"]


def test_truncated_telegram_then_good_telegram():
    got, errors = identities(TELEGRAM[:500] + TELEGRAM, [50])
    assert got == ["Lux5\\253694471_M"] and errors == ["frame"]


def test_header_that_lies_short_and_long():
    f2 = frame(2)
    too_short = bytearray(frame(1))
    too_short[11:13] = (60).to_bytes(2, "big")  # says 73 bytes: the tag check fails
    too_long = bytearray(frame(1))
    too_long[11:13] = (1600).to_bytes(2, "big")  # swallows frame 2 as well
    for lying in (too_short, too_long):
        got, errors = identities(bytes(lying) + f2 + frame(3), [])
        assert got == [2, 3], (got, errors)
        assert errors and set(errors) <= {"auth", "frame"}


def test_frame_longer_than_the_buffer():
    big = p1meter.encrypt_frame(SMARTY + SMARTY, KEY)  # 2438 bytes
    items, _ = framer_items(big + frame(5))
    assert "does not fit the 2048-byte buffer" in items[0]
    got, errors = identities(big + frame(5), [1000, 3000])
    assert got == [5] and "frame" in errors


def test_telegram_longer_than_the_buffer():
    small = p1meter.with_crc(b"/ABC5 small\r\n\r\n1-0:1.8.0(000001.000*kWh)\r\n!")
    items, _ = framer_items(TELEGRAM + small, chunk=64, size=512)
    assert items[0] == "telegram longer than the 512-byte buffer"
    assert items[-1] == small


def test_silence_ends_an_incomplete_frame():
    """A gap longer than timeout_ms: the cut frame is reported at once, the next frame
    decodes without waiting for a tag failure."""
    data = frame(1)[:600] + frame(2)
    got, errors = identities(data, [600], now=[0, 5000])
    assert got == [2] and errors == ["frame"]
    reader = Reader(KEY)
    items = list(reader.feed(frame(1)[:600], 0)) + list(reader.feed(b"", 5000))
    assert "incomplete DLMS frame: 600 of 1234 bytes" in str(items[0])
    assert [t.frame_counter for t in reader.feed(frame(2), 5010)] == [2]


def test_a_slow_reader_is_not_a_silence():
    """Bytes read late (the reader was busy for seconds: a publish, a TLS handshake)
    arrive all at once: no silence was seen, so nothing is cut and no frame is lost."""
    reader = Reader(KEY)
    items = list(reader.feed(frame(1)[:600], 0)) + list(reader.feed(b"", 400))
    items += list(reader.feed(frame(1)[600:] + frame(2), 5000))
    items += list(reader.feed(b"", 5100)) + list(reader.feed(frame(3), 9000))
    assert [getattr(t, "frame_counter", t) for t in items] == [1, 2, 3]
    assert reader.framer.timeouts == 0


def test_telegram_without_crlf_at_the_end_of_input():
    telegram = (
        VECTORS / "telegrams" / "lux" / "dsmrreader_luxembourg_smarty_2019.txt"
    ).read_bytes()
    assert telegram.endswith(b"!1BB8")
    assert framer_items(telegram)[0] == [telegram]
    got, _ = identities(telegram, [], key=None)
    assert len(got) == 1


def test_dsmr3_telegram_ends_at_bang():
    telegram = (VECTORS / "telegrams/other/dsmr_parser/dsmr_parser_TELEGRAM_V3.txt").read_bytes()
    items, _ = framer_items(telegram + TELEGRAM, chunk=33)
    assert items == [telegram.rstrip(b"\n") + b"\n", TELEGRAM]


def test_wrong_key_and_no_key():
    got, errors = identities(frame(1) + frame(2), [], key=bytes(16))
    assert got == [] and errors == ["auth", "auth"]
    reader = Reader(None)
    assert [e.kind for e in reader.feed(frame(1))] == ["auth"]
    assert reader.counters["auth_failures"] == 1


def test_a_wrong_key_is_only_an_authentication_failure():
    # A ciphertext is random bytes: rescanned after its wrong tag, "/" + three letters and
    # a "!" in it once made an empty "telegram" (frames_ok) in about one frame in 60, and
    # chance frame errors and CRC failures beside the authentication failures.
    data = b"".join(frame(n) for n in range(1, 601))
    cuts = random.Random(7).sample(range(1, len(data)), 3000)
    got, errors = identities(data, cuts, key=bytes(16))
    assert got == [] and errors == ["auth"] * 600


def test_a_bang_without_crc_or_crlf_ends_no_telegram():
    items, _ = framer_items(b"/ABC a value with ! in it\r\n!1234\r\n" + TELEGRAM)
    assert items == [b"/ABC a value with ! in it\r\n!1234\r\n", TELEGRAM]
    items, _ = framer_items(b"/XYZ!q;" + TELEGRAM)
    assert items == ["incomplete telegram: 7 bytes, then the start of another frame", TELEGRAM]


def test_flipped_byte_and_bad_header_byte():
    for position, kinds in ((500, ["auth"]), (1, []), (12, ["auth"])):
        bad = bytearray(frame(1))
        bad[position] ^= 0x40
        got, errors = identities(bytes(bad) + frame(2), [])
        assert got == [2], position
        assert errors == kinds or set(errors) <= {"auth", "frame"}, (position, errors)


def test_counters():
    reader = Reader(KEY)
    list(reader.feed(frame(1) + frame(2)[:-1] + b"x" + TELEGRAM.replace(b"25.653", b"25.654")))
    list(reader.flush())
    assert reader.counters["frames_ok"] == 1
    assert reader.counters["auth_failures"] == 1
    assert reader.counters["crc_failures"] == 1


# ---- properties ----

FRAMES = [frame(n) for n in range(1, 6)]
# DSMR 5 (version line): without its CRC it is not whole
TELEGRAMS = [
    TELEGRAM,
    p1meter.with_crc(b"/XYZ5 other\r\n\r\n1-3:0.2.8(50)\r\n1-0:1.8.1(000001.000*kWh)\r\n!"),
]


@st.composite
def capture(draw):
    """(bytes, cuts, the identities of the whole valid frames in order)."""
    parts, expected = [], []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["frame", "telegram", "noise", "truncated", "noise"]))
        if kind == "frame":
            n = draw(st.integers(0, len(FRAMES) - 1))
            parts.append(FRAMES[n])
            expected.append(n + 1)
        elif kind == "telegram":
            t = draw(st.sampled_from(TELEGRAMS))
            parts.append(t)
            expected.append("Lux5\\253694471_M" if t is TELEGRAM else "XYZ5 other")
        elif kind == "truncated":  # a telegram without its CRLF is still whole: cut the CRC
            whole = draw(st.sampled_from(FRAMES + TELEGRAMS))
            parts.append(
                whole[: draw(st.integers(1, len(whole) - (3 if whole[0] == 0x2F else 1)))]
            )
        else:
            parts.append(draw(st.binary(min_size=1, max_size=300)))
    data = b"".join(parts)
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=12))
    return data, cuts, expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capture())
def test_no_valid_frame_is_ever_lost(case):
    data, cuts, expected = case
    got, _ = identities(data, cuts)
    # a truncated piece can only hide a frame that follows if it is a prefix of it...
    # which is then that same frame, found again: so exactly the valid frames, in order
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=8))
def test_random_bytes_never_crash(data, cuts):
    got, errors = identities(data, [c for c in cuts if c <= len(data)])
    assert got == []
    assert all(e in ("frame", "auth", "crc", "parse") for e in errors)


def test_noise_costs_no_memory_per_byte():
    """Scanning 2000 bytes of noise on MicroPython allocates (almost) nothing."""
    out = run_micropython(
        "micropython32", MP_SCRIPTS / "framer_alloc.py", path=[ROOT / "firmware" / "lib"]
    )
    result = dict(line.split("=") for line in out.split())
    assert int(result["noise"]) == 2000
    assert int(result["allocated"]) <= 64  # a memoryview or two, not bytes


def test_micropython_decodes_random_captures_like_cpython(tmp_path):
    """The same core on both runtimes: identical output for 25 random captures."""
    rng = random.Random(1122)
    for n in range(25):
        parts = []
        for _ in range(rng.randint(1, 5)):
            choice = rng.random()
            if choice < 0.35:
                parts.append(rng.choice(FRAMES))
            elif choice < 0.5:
                parts.append(rng.choice(TELEGRAMS))
            elif choice < 0.7:
                whole = rng.choice(FRAMES + TELEGRAMS)
                parts.append(whole[: rng.randint(1, len(whole) - 3)])
            else:
                parts.append(rng.randbytes(rng.randint(1, 200)))
        path = tmp_path / f"capture{n}.bin"
        path.write_bytes(b"".join(parts))
        outputs = []
        for runtime in ("cpython", "micropython32"):
            proc = subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "tools" / "p1.py"),
                    "decode",
                    "--runtime",
                    runtime,
                    "--key",
                    KEY.hex(),
                    str(path),
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            results = [json.loads(line) for line in proc.stdout.splitlines()]
            for r in results:  # the GCM implementation is the one thing that differs
                r.get("meta", {}).pop("backend", None)
            outputs.append(results)
        assert outputs[0] == outputs[1], n
