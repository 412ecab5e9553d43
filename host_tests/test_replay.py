"""The replay guard (smartyreader.receiver.ReplayGuard, its file read by
smartyreader.assemble.kept_counters) on MicroPython: frame counters
kept across resets per meter and per key (DLMS starts a meter's counter anew with a new
key), and the key's id (smarty.keys.key_id) as CPython computes it."""

import hashlib
import sys

from conftest import ROOT, run_firmware_script

sys.path[:0] = [str(ROOT / "firmware" / "lib")]
from smarty.keys import key_id  # noqa: E402


def test_key_id_is_the_start_of_the_keys_sha256():
    key = bytes(range(16))
    assert key_id(key) == hashlib.sha256(key).hexdigest()[:8]
    assert key_id(bytes(16)) != key_id(key)


def test_counters_outlive_a_reset_under_their_key(tmp_path):
    out = run_firmware_script("replay_guard.py", tmp_path).splitlines()
    k1, k2, k3 = (key_id(k) for k in (bytes(range(16)), bytes(16), b"\xff" * 16))
    assert out == [
        f"ids {k1} {k2} {k3}",  # MicroPython's ids are CPython's
        "new None None",
        "again 100 100 7",  # the last counter accepted: a replay
        f"file ['5341470000000001 {k1} 101', '5341470000000002/2 {k2} 7']",
        "reset 101 7",
        "smartyreader: a new key for meter 1: its frame counters start anew",
        "new key None 7",
        f"one meter ['5341470000000001 {k3}']",
        f"old file [('5341470000000001 {k1}', 500)] 500 None",
    ], out
