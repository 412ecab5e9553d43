"""The readings queue (smartyreader.queue): RAM front, flash segments, order, bounds,
recovery after a reset at any byte of a record.  On CPython (the same module as on the
boards), and the recovery case once more on MicroPython's own file API."""

import os
import shutil
import sys

import pytest

from conftest import ROOT, run_firmware_script

sys.path[:0] = [str(ROOT / "firmware" / "lib")]
from smartyreader.queue import Queue  # noqa: E402

SLOT = 256


def put(queue, n):
    state, legacy = b'{"n": %d}' % n, b"legacy %d" % n
    slot = queue.slot()
    slot[: len(state)] = state
    slot[len(state) : len(state) + len(legacy)] = legacy
    queue.commit(len(state), len(legacy))


def take(queue):
    """The oldest reading's number and legacy payload, published (popped); None if empty."""
    reading = queue.oldest()
    if reading is None:
        return None
    state, legacy = bytes(reading[0]), bytes(reading[1])
    queue.pop()
    n = int(state[6:-1])
    assert legacy == b"legacy %d" % n
    return n


def drain(queue):
    out = []
    while (n := take(queue)) is not None:
        out.append(n)
    return out


def files(directory):
    return sorted(os.listdir(directory))


def test_online_readings_stay_in_ram(tmp_path):
    queue = Queue(str(tmp_path / "q"), slots=1, slot_size=SLOT)
    queue.online = True
    for n in range(1, 50):
        put(queue, n)
        assert take(queue) == n
    assert files(tmp_path / "q") == [] and queue.written == 0  # no flash wear


def test_offline_readings_go_to_flash_in_order(tmp_path):
    queue = Queue(str(tmp_path / "q"), slots=1, slot_size=SLOT, max_readings=100)
    queue.online = True
    put(queue, 1)  # in RAM
    queue.online = False
    for n in range(2, 30):
        put(queue, n)
    assert queue.used == 0 and queue.on_flash == 29  # the RAM front spilled first
    queue.online = True
    put(queue, 30)  # something waits on flash: after it, not before
    assert drain(queue) == list(range(1, 31))
    assert files(tmp_path / "q") == [] and queue.waiting == 0


def test_a_reset_loses_nothing_queued(tmp_path):
    directory = str(tmp_path / "q")
    queue = Queue(directory, slots=1, slot_size=SLOT, max_readings=100)
    for n in range(1, 41):
        put(queue, n)
    assert [take(queue) for _ in range(15)] == list(range(1, 16))
    again = Queue(directory, slots=1, slot_size=SLOT, max_readings=100)  # after a reset
    assert again.waiting == 25 and again.lost == 0
    put(again, 41)
    assert drain(again) == list(range(16, 42))


def test_bounded_oldest_dropped_and_counted(tmp_path):
    queue = Queue(str(tmp_path / "q"), slots=1, slot_size=SLOT, max_readings=40)
    for n in range(1, 201):
        put(queue, n)
    assert queue.on_flash <= 40 + queue.segment_readings
    assert queue.dropped + queue.waiting == 200
    got = drain(queue)
    assert got == list(range(201 - len(got), 201))  # the newest, in order


def queued_on_flash(directory, count):
    """A queue in directory holding readings 1..count on flash: its one segment file."""
    queue = Queue(str(directory), slots=1, slot_size=SLOT)
    for n in range(1, count + 1):
        put(queue, n)
    return directory / files(directory)[0]


def test_a_damaged_record_drops_its_segment_counted_lost(tmp_path):
    directory = tmp_path / "q"
    # flip a byte of the first record's payload: its CRC fails, the segment is dropped
    segment = queued_on_flash(directory, 3)
    data = bytearray(segment.read_bytes())
    data[10] ^= 0xFF
    segment.write_bytes(bytes(data))
    reopened = Queue(str(directory), slots=1, slot_size=SLOT)
    assert drain(reopened) == [] and reopened.lost == 3


def test_recovery_from_a_record_cut_at_every_byte(tmp_path):
    """A reset while a record is written leaves any prefix of it: the earlier readings
    all come out, the cut one is counted lost, new readings follow them."""
    template = tmp_path / "template"
    segment = queued_on_flash(template, 5).name
    whole = (template / segment).read_bytes()
    record = len(whole) // 5
    for cut in range(len(whole) - record, len(whole)):
        directory = tmp_path / f"cut{cut}"
        shutil.copytree(template, directory)
        (directory / segment).write_bytes(whole[:cut])
        queue = Queue(str(directory), slots=1, slot_size=SLOT)
        assert queue.waiting == 4 and queue.lost == (cut > len(whole) - record), cut
        put(queue, 6)
        assert drain(queue) == [1, 2, 3, 4, 6], cut
        assert files(directory) == []


def test_recovery_on_micropython(tmp_path):
    """The same module on the 32-bit MicroPython port: its file API, a cut record."""
    template = tmp_path / "q"
    segment = queued_on_flash(template, 5)
    segment.write_bytes(segment.read_bytes()[:-3])
    out = run_firmware_script("queue_drain.py", template)
    assert out.split() == ["waiting", "4", "lost", "1", "1", "2", "3", "4", "6"]


@pytest.mark.parametrize("readings", [1, 7])
def test_queue_state_survives_partial_drains(tmp_path, readings):
    directory = str(tmp_path / "q")
    queue = Queue(directory, slots=1, slot_size=SLOT, max_readings=1000)
    for n in range(1, 30):
        put(queue, n)
    expected = list(range(1, 30))
    while expected:
        for _ in range(min(readings, len(expected))):
            assert take(queue) == expected.pop(0)
        queue = Queue(directory, slots=1, slot_size=SLOT, max_readings=1000)  # reset
        assert queue.waiting == len(expected)


def test_each_reading_keeps_its_meter_in_ram_on_flash_and_after_a_reset(tmp_path):
    directory = str(tmp_path / "q")
    queue = Queue(directory, slots=2, slot_size=SLOT, max_readings=100)
    queue.online = True
    for n in range(1, 30):
        state = b'{"n": %d}' % n
        queue.slot()[: len(state)] = state
        queue.commit(len(state), 0, n % 8)  # the queue's 3 bits: meters 1 to 8

    def meters(q):
        out = []
        while (reading := q.oldest()) is not None:
            out.append((int(bytes(reading[0])[6:-1]), q.meter))
            q.pop()
        return out

    assert meters(queue) == [(n, n % 8) for n in range(1, 30)]
    queue.online = False  # the broker away: on flash, then a reset
    for n in range(30, 45):
        state = b'{"n": %d}' % n
        queue.slot()[: len(state)] = state
        queue.commit(len(state), 0, n % 8)
    assert queue.on_flash  # offline: on flash
    again = Queue(directory, slots=2, slot_size=SLOT, max_readings=100)
    assert meters(again) == [(n, n % 8) for n in range(30, 45)]
