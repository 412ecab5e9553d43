"""`tools/p1.py decode` on every test vector, on CPython and both MicroPython builds:
each file gives its documented result (host_tests/vectors/README.md)."""

import json
import re
import subprocess
import sys
from decimal import Decimal

import pytest

from conftest import ROOT, VECTORS

P1 = [sys.executable, str(ROOT / "tools" / "p1.py")]
RUNTIMES = ("cpython", "micropython", "micropython32")
TELEGRAMS = VECTORS / "telegrams"
FRAMES = VECTORS / "frames"


def decode(runtime, *args):
    """(exit status, [JSON objects], stderr) of p1.py decode."""
    proc = subprocess.run(
        [*P1, "decode", "--runtime", runtime, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = [json.loads(line, parse_float=Decimal) for line in proc.stdout.splitlines()]
    return proc.returncode, results, proc.stderr


def kinds(results):
    return ["ok" if r["ok"] else r["error"] for r in results]


def key_of(name):
    return (FRAMES / name).read_text().strip()


# The telegram files whose outcome is not simply "one valid telegram".
TELEGRAM_EXPECTED = {
    "athombv_lux_spec_example_NO_BLANK_LINE.txt": ["crc"],
    "relip_simulator_MODIFIED_header_and_1.8.0.txt": ["crc"],
    "dsmrreader_error_bad_crc_ABCD.txt": ["crc"],
    # a telegram cut short by the start of a second, valid one (CRC from offset 225)
    "dsmrreader_error_duplicate_data.txt": ["frame", "ok"],
    # dsmr-reader rejects it for its clock; the telegram itself is valid
    "dsmrreader_error_future_timestamp.txt": ["ok"],
    # the junk before it has no "/": noise, then one valid telegram
    "dsmrreader_error_incomplete_tail_then_complete.txt": ["ok"],
    # no "!" at all: incomplete at the end of the input
    "athombv_iskra-mt-382-no-crc.txt": ["frame"],
    "athombv_iskra-mt-382-no-crc-with-text-message.txt": ["frame"],
}


def telegram_files():
    return sorted(TELEGRAMS.rglob("*.txt"))


def expected_kinds(path):
    if path.name in TELEGRAM_EXPECTED:
        return TELEGRAM_EXPECTED[path.name]
    if path.parent.name == "crc_mismatch":
        return ["crc"]
    if path.parent.name == "error_cases":
        return None  # listed above, or "no valid telegram" (wassasin_overflow)
    return ["ok"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_telegram_vector(runtime):
    files = telegram_files()
    assert len(files) >= 60
    failures = []
    for path in files:
        status, results, stderr = decode(runtime, path)
        got = kinds(results)
        want = expected_kinds(path)
        if want is None:  # an overflowing, invalid telegram: errors only
            ok = got and "ok" not in got
        else:
            ok = got == want
        if not ok or status != (0 if want == ["ok"] else 1):
            failures.append(
                f"{path.relative_to(TELEGRAMS)}: got {got} (exit {status}), "
                f"want {want or 'errors only'} {stderr[-200:]}"
            )
    assert not failures, "\n".join(failures)


def number_lines(text):
    """{code: [Decimal]} of every numeric value in a telegram's text, as written."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(\d+-\d+:\d+\.\d+\.\d+)(?:\*255)?((?:\([^)]*\))+)$", line.strip())
        if m:
            values = re.findall(r"\(([^)]*)\)", m.group(2))
            out[m.group(1)] = [v.split("*")[0] for v in values]
    return out


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_values_keep_the_meters_exact_digits(runtime):
    """Every one-value numeric object in the valid Luxembourg telegrams comes out as a
    JSON number equal to the digits the meter wrote (no float on the way)."""
    checked = 0
    for path in sorted((TELEGRAMS / "lux").glob("*.txt")):
        if expected_kinds(path) != ["ok"]:
            continue
        status, results, _ = decode(runtime, path)
        assert status == 0
        obis = results[0]["obis"]
        for code, values in number_lines(path.read_text(errors="replace")).items():
            if len(values) == 1 and re.fullmatch(r"-?\d+\.\d+", values[0]) and code != "1-3:0.2.8":
                assert obis[code] == Decimal(values[0]), (path.name, code)
                assert str(obis[code]) == str(Decimal(values[0])), "digits, not just value"
                checked += 1
    assert checked > 50  # guards against a vacuous pass


def test_a_value_a_32_bit_float_cannot_hold(tmp_path):
    """112743.030 kWh survives on the single-precision 32-bit port."""
    text = (TELEGRAMS / "lux" / "relip_simulator_2023_3phase_export.txt").read_bytes()
    text = text.replace(b"1-0:1.8.0(000017.901*kWh)", b"1-0:1.8.0(112743.030*kWh)")
    sys.path.insert(0, str(ROOT / "tools"))
    import p1meter

    path = tmp_path / "big.txt"
    path.write_bytes(p1meter.with_crc(text))
    for runtime in RUNTIMES:
        status, results, _ = decode(runtime, path)
        assert status == 0
        assert results[0]["fields"]["energy_import"] == Decimal("112743.030")
        assert str(results[0]["fields"]["energy_import"]) == "112743.030"


# ---- encrypted frames ----

FRAME_CASES = [
    # file, key file, auth key file, expected kinds
    ("esphome-libs_encrypted_packet.hex", "esphome-libs_encrypted_packet.key", None, ["ok"]),
    (
        "athombv_lux_spec_example_with-aad.hex",
        "athombv_lux_spec_example_with-aad.key",
        "athombv_lux_spec_example_with-aad.ak",
        ["crc"],
    ),
    (
        "athombv_lux_spec_example_with-aad.hex",
        "athombv_lux_spec_example_with-aad.key",
        None,
        ["auth"],
    ),
    (
        "athombv_lux_spec_example_without-aad.hex",
        "athombv_lux_spec_example_without-aad.key",
        None,
        ["auth"],
    ),
    (
        "austria_sagemcom_sc1_frame.hex",
        "austria_sagemcom_sc1_frame.key",
        "austria_sagemcom_sc1_frame.ak",
        ["auth"],
    ),
    (
        "dlms-cosem_ggc_shortlen_datanotification.hex",
        "dlms-cosem_ggc_shortlen_datanotification.key",
        "dlms-cosem_ggc_shortlen_datanotification.ak",
        ["parse"],
    ),
    (
        "sgrimee_smarty-reader_fake_vector_NOKEY.hex",
        "esphome-libs_encrypted_packet.key",
        None,
        ["auth"],
    ),
]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(
    "frame, key, auth_key, want",
    FRAME_CASES,
    ids=[f"{c[0][:24]}-{'ak' if c[2] else 'lux'}" for c in FRAME_CASES],
)
def test_every_frame_vector(runtime, frame, key, auth_key, want):
    args = ["--key", key_of(key)]
    if auth_key:
        args += ["--auth-key", key_of(auth_key)]
    status, results, stderr = decode(runtime, *args, FRAMES / frame)
    assert kinds(results) == want, (results, stderr)
    assert status == (0 if want == ["ok"] else 1)
    for r in results:
        assert key_of(key).lower() not in json.dumps(r).lower(), "the key must never be printed"
    if want == ["ok"]:
        # the plaintext the vector documents, decoded on its own, gives the same fields
        plain = FRAMES / frame.replace(".hex", ".plaintext.txt")
        _, direct, _ = decode(runtime, plain)
        assert results[0]["fields"] == direct[0]["fields"]
        assert results[0]["meta"]["crc"] == "7EF9"
        assert results[0]["meta"]["frame_counter"] == 0x10000001
        assert bytes.fromhex(results[0]["meta"]["system_title"]) == b"SYSTEMID"


def test_frames_among_noise_and_telegrams(tmp_path):
    """A capture with noise, a plaintext telegram and frames, split anywhere."""
    frame = bytes.fromhex((FRAMES / "esphome-libs_encrypted_packet.hex").read_text())
    telegram = (TELEGRAMS / "lux" / "luxmetering_spec_v1.1.3_example_4mbus.txt").read_bytes()
    capture = tmp_path / "capture.bin"
    capture.write_bytes(
        b"\x00\xff garbage " + frame + b"\r\n\x13" + telegram + frame + frame[:100]
    )
    for runtime in RUNTIMES:
        status, results, _ = decode(
            runtime, "--key", key_of("esphome-libs_encrypted_packet.key"), capture
        )
        assert kinds(results) == ["ok", "ok", "ok", "frame"], runtime
        assert status == 1


def test_wrong_key_is_reported_as_authentication_failure():
    status, results, _ = decode(
        "micropython32", "--key", "00" * 16, FRAMES / "esphome-libs_encrypted_packet.hex"
    )
    assert kinds(results) == ["auth"]
    assert "wrong meter key" in results[0]["message"]


def test_no_key_for_an_encrypted_frame():
    status, results, _ = decode("cpython", FRAMES / "esphome-libs_encrypted_packet.hex")
    assert kinds(results) == ["auth"] and "no meter key" in results[0]["message"]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(
    "key, message",
    [
        ("0011", "meter key must be 32 hex digits, got 4 characters"),
        ("zz" * 16, "meter key must be hex digits"),
    ],
)
def test_bad_key_argument(runtime, key, message):
    status, results, stderr = decode(
        runtime, "--key", key, FRAMES / "esphome-libs_encrypted_packet.hex"
    )
    assert status == 2 and results == []
    assert message in stderr
    assert key not in stderr or len(key) < 8


def test_missing_file_and_empty_capture(tmp_path):
    status, _, stderr = decode("cpython", tmp_path / "nope.bin")
    assert status == 2 and "nope.bin" in stderr
    empty = tmp_path / "noise.bin"
    empty.write_bytes(b"\x00" * 100)
    status, results, _ = decode("micropython", empty)
    assert status == 1 and kinds(results) == ["frame"]
    assert "no frame found" in results[0]["message"]
