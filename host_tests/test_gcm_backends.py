"""Every GCM backend of the P1 core gives identical results: on every NIST case and
on every test frame, on CPython and on both MicroPython builds."""

import json
import subprocess
import sys

import pytest

from conftest import MP_SCRIPTS, ROOT, run_micropython
from gcm_vectors import nist_cases
from test_decode import FRAME_CASES, FRAMES, decode, key_of

LIB = ROOT / "firmware" / "lib"
BACKENDS = {
    "cpython": ["cryptography", "pure-python"],
    "micropython": ["aesgcm", "cryptolib+viper", "pure-python"],
    "micropython32": ["aesgcm", "cryptolib+viper", "pure-python"],
}
MODULES = {
    "aesgcm": "aesgcm",
    "cryptolib+viper": "smarty.gcm_viper",
    "pure-python": "smarty.gcm_pure",
    "cryptography": "smarty.gcm_cpython",
}
PAIRS = [(runtime, backend) for runtime, names in BACKENDS.items() for backend in names]


@pytest.fixture(scope="module")
def nist_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("nist") / "cases.txt"
    path.write_text("\n".join(c.line() for c in nist_cases()) + "\n")
    return path


@pytest.mark.parametrize("runtime, backend", PAIRS)
def test_nist_vectors_on_every_backend(runtime, backend, nist_file):
    script, module = MP_SCRIPTS / "check_gcm.py", MODULES[backend]
    if runtime == "cpython":
        proc = subprocess.run(
            [sys.executable, str(script), module, str(nist_file)],
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(LIB)},
        )
        out = proc.stdout
    else:
        out = run_micropython(runtime, script, module, nist_file, path=[LIB])
    assert out.strip().splitlines()[-1] == "750 passed, 0 failed", out[-2000:]


@pytest.mark.parametrize(
    "frame, key, auth_key, want",
    FRAME_CASES,
    ids=[f"{c[0][:24]}-{'ak' if c[2] else 'lux'}" for c in FRAME_CASES],
)
def test_every_frame_on_every_backend(frame, key, auth_key, want):
    args = ["--key", key_of(key)] + (["--auth-key", key_of(auth_key)] if auth_key else [])
    outputs = {}
    for runtime, backend in PAIRS:
        _, results, stderr = decode(runtime, "--backend", backend, *args, FRAMES / frame)
        for r in results:
            assert r.get("meta", {}).pop("backend", backend) == backend
        outputs[runtime, backend] = results
    first = outputs[PAIRS[0]]
    assert ["ok" if r["ok"] else r["error"] for r in first] == want
    for pair, results in outputs.items():
        assert json.dumps(results, sort_keys=True, default=str) == json.dumps(
            first, sort_keys=True, default=str
        ), pair


def test_best_backend_is_reported():
    key = key_of("esphome-libs_encrypted_packet.key")
    for runtime, best in (("micropython32", "aesgcm"), ("cpython", "cryptography")):
        _, results, _ = decode(runtime, "--key", key, FRAMES / "esphome-libs_encrypted_packet.hex")
        assert results[0]["meta"]["backend"] == best


def test_unknown_backend_is_a_clear_error():
    status, _, stderr = decode(
        "cpython",
        "--backend",
        "rot13",
        "--key",
        "00" * 16,
        FRAMES / "esphome-libs_encrypted_packet.hex",
    )
    assert status == 2 and "unknown GCM backend 'rot13'" in stderr
