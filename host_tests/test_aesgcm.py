"""The aesgcm C module on MicroPython: built in and as a natmod, 64- and 32-bit."""

import os
import random

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM as ReferenceAESGCM
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from conftest import MP_SCRIPTS, run_micropython
from gcm_vectors import GcmCase, nist_cases


def run_cases(aesgcm_runtime, tmp_path, cases, *extra):
    runtime, module, path = aesgcm_runtime
    cases_file = tmp_path / "cases.txt"
    cases_file.write_text("\n".join(c.line() for c in cases) + "\n")
    out = run_micropython(
        runtime, MP_SCRIPTS / "check_gcm.py", module, cases_file, *extra, path=path
    )
    return out.strip().splitlines()


def test_nist_vectors(aesgcm_runtime, tmp_path):
    cases = nist_cases()
    assert len(cases) == 750 and sum(c.pt is None for c in cases) == 186
    lines = run_cases(aesgcm_runtime, tmp_path, cases)
    assert lines[-1] == "750 passed, 0 failed", lines[-20:]


def reference_encrypt(key, iv, aad, pt, taglen):
    """cryptography's AES-GCM with a truncated tag."""
    encryptor = Cipher(algorithms.AES(key), modes.GCM(iv, min_tag_length=taglen)).encryptor()
    encryptor.authenticate_additional_data(aad)
    ct = encryptor.update(pt) + encryptor.finalize()
    return ct, encryptor.tag[:taglen]


def random_cases(count, seed):
    rng = random.Random(seed)
    lengths = [0, 1, 15, 16, 17, 1234, 2048] + [rng.randrange(0, 2049) for _ in range(count)]
    cases = []
    for i, length in enumerate(lengths[:count]):
        key, iv = rng.randbytes(16), rng.randbytes(12)
        aad = rng.randbytes((0, 17, rng.randrange(1, 300))[i % 3])
        pt = rng.randbytes(length)
        ct, tag = reference_encrypt(key, iv, aad, pt, (12, 16)[i % 2])
        cases.append(GcmCase(key, iv, aad, pt, ct, tag))
    return cases


def test_reference_implementation_agrees():
    """The full-tag helper is cryptography's AESGCM itself."""
    key, iv, aad, pt = os.urandom(16), os.urandom(12), b"\x30" + os.urandom(16), os.urandom(100)
    ct, tag = reference_encrypt(key, iv, aad, pt, 16)
    assert ReferenceAESGCM(key).encrypt(iv, pt, aad) == ct + tag


def test_random_cases_match_cryptography(aesgcm_runtime, tmp_path):
    """1000 random cases: our decrypt and encrypt equal cryptography's; a flipped byte
    in ct, tag, iv or aad is rejected."""
    cases = random_cases(1000, seed=20261122)
    assert {len(c.pt) for c in cases} >= {0, 1234, 2048}
    assert {len(c.aad) for c in cases} >= {0, 17}
    assert {len(c.tag) for c in cases} == {12, 16}
    lines = run_cases(aesgcm_runtime, tmp_path, cases, "flips")
    assert lines[-1] == "1000 passed, 0 failed", lines[-20:]


def test_decrypt_into_allocates_nothing_and_zeroes_on_failure(aesgcm_runtime, tmp_path):
    runtime, module, path = aesgcm_runtime
    key, iv, aad = os.urandom(16), os.urandom(12), b"\x30" + bytes(range(0, 256, 17))
    pt = os.urandom(1204)
    ct, tag = reference_encrypt(key, iv, aad, pt, 12)
    bad_tag = bytes([tag[0] ^ 1]) + tag[1:]
    data = tmp_path / "case.txt"
    data.write_text(" ".join(x.hex() for x in (key, iv, aad, ct, tag, bad_tag)))
    out = run_micropython(runtime, MP_SCRIPTS / "gcm_alloc.py", module, data, path=path)
    result = dict(line.split("=", 1) for line in out.splitlines())
    assert result["allocated"] == "0"
    assert result["plaintext"] == pt.hex()
    assert result["rejected"] == "authentication failed"
    assert result["after_reject"] == "00" * len(ct)


@pytest.mark.parametrize(
    "call, message",
    [
        ("aesgcm.AESGCM(bytes(15))", "key must be 16 bytes"),
        ("aesgcm.AESGCM(bytes(32))", "key must be 16 bytes"),
        ("g.decrypt(bytes(11), b'', b'', bytes(12))", "IV must be 12 bytes"),
        ("g.decrypt(bytes(12), b'', b'', bytes(11))", "tag must be 12 to 16 bytes"),
        ("g.decrypt(bytes(12), b'', b'', bytes(17))", "tag must be 12 to 16 bytes"),
        (
            "g.decrypt_into(bytes(12), b'', bytes(4), bytes(12), bytearray(3))",
            "out buffer too small",
        ),
        ("g.encrypt(bytes(12), b'', b'', taglen=8)", "tag must be 12 to 16 bytes"),
        ("g.decrypt(bytes(12), b'', b'', bytes(12))", "authentication failed"),
    ],
)
def test_bad_arguments_give_clear_errors(aesgcm_runtime, tmp_path, call, message):
    runtime, module, path = aesgcm_runtime
    script = tmp_path / "bad.py"
    script.write_text(
        f"aesgcm = __import__({module!r})\ng = aesgcm.AESGCM(bytes(16))\n"
        f"try:\n    {call}\n    print('no error')\n"
        "except ValueError as e:\n    print('ValueError:', e)\n"
    )
    assert run_micropython(runtime, script, path=path).strip() == f"ValueError: {message}"
