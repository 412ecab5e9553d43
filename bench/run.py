#!/usr/bin/env python3
"""`make bench`: measures side by side in one run and writes BENCHMARKS.md.

Instruction counts come from valgrind's callgrind (repeatable on a shared, noisy
machine); times are medians of interleaved rounds and are reported as ratios.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import station as station_bench  # bench/station.py

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "build" / "bin"
BENCH = ROOT / "bench"
AESGCM = ROOT / "cmodules" / "aesgcm"
FRAME_BYTES = 1234  # a Smarty frame on the wire: 1204 bytes of ciphertext
CIPHERTEXT_BYTES = 1204


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


def instructions(cmd):
    """Total instructions of `cmd` under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd])
        summary = re.search(r"^summary: (\d+)", out.read_text(), re.M)
        return int(summary.group(1))


def per_frame(make_cmd, frames=10):
    """Instructions for one frame: the difference between 1 + frames and 1 frame,
    so start-up, imports and key setup cancel out."""
    return (instructions(make_cmd(1 + frames)) - instructions(make_cmd(1))) / frames


def gcm_instructions(tmp):
    rows = []
    for opt in ("-O2", "-Os"):
        exe = Path(tmp) / f"gcm_frame{opt}"
        run(
            [
                "cc",
                "-std=c99",
                opt,
                f"-I{AESGCM}",
                str(BENCH / "gcm_frame.c"),
                str(AESGCM / "gcm.c"),
                "-o",
                str(exe),
            ]
        )
        rows.append((f"C core `gcm.c` ({opt}, x86-64)", per_frame(lambda n: [str(exe), str(n)])))
    script = BENCH / "gcm_frame_cryptography.py"
    rows.append(
        (
            "`cryptography` (OpenSSL) from CPython",
            per_frame(lambda n: [sys.executable, str(script), str(n)]),
        )
    )
    return rows


def micropython_times(runtime, rounds, *impls, path=()):
    env = {"MICROPYPATH": ":".join([".frozen", *map(str, path)])}
    out = run(
        [str(BIN / runtime), str(BENCH / "mp" / "gcm_time.py"), str(rounds), *impls], env=env
    ).stdout
    return {name: int(us) for name, us in (line.split() for line in out.splitlines())}


def decode_times_micropython(runtime, rounds, frame_file, key):
    env = {"MICROPYPATH": f"{ROOT / 'firmware' / 'lib'}:.frozen"}
    out = run(
        [
            str(BIN / runtime),
            str(BENCH / "mp" / "decode_time.py"),
            str(rounds),
            key.hex(),
            str(frame_file),
            "aesgcm",
            "cryptolib+viper",
            "pure-python",
        ],
        env=env,
    ).stdout
    return {name: int(us) for name, us in (line.split() for line in out.splitlines())}


BLOCKS = 7  # turns each runtime takes at decoding frames


def decode_times_cpython(rounds, frame, key):
    """Median µs per frame: our core (cryptography backend) and dsmr_parser (its MSN
    spec: Luxembourg Smarty, encrypted; decryption through dlms_cosem), interleaved."""
    if str(ROOT / "firmware" / "lib") not in sys.path:
        sys.path.insert(0, str(ROOT / "firmware" / "lib"))
    from dsmr_parser.parsers import TelegramParser
    from dsmr_parser.telegram_specifications import MSN
    from smarty.reader import Reader

    reader = Reader(key)
    parser = TelegramParser(MSN)  # LUXEMBOURG_SMARTY + general-glo-ciphering
    frame_hex, key_hex = frame.hex(), key.hex()
    auth_hex = "00112233445566778899AABBCCDDEEFF"

    def ours():
        return str(reader.decode(frame).fields()["energy_export"])

    def theirs():
        telegram = parser.parse(frame_hex, encryption_key=key_hex, authentication_key=auth_hex)
        return str(telegram.ELECTRICITY_EXPORTED_TOTAL.value)

    times = {"ours": [], "dsmr_parser": []}
    for _ in range(rounds):
        for name, fn in (("ours", ours), ("dsmr_parser", theirs)):
            t0 = time.perf_counter_ns()
            value = fn()
            times[name].append((time.perf_counter_ns() - t0) / 1000)
            assert value == "55437.011", (name, value)
    return {name: statistics.median(values) for name, values in times.items()}


def runtime(frozen):
    """The 32-bit unix port with the application frozen in (a custom image), or its
    stock image counterpart for the application as .mpy files (nothing of ours frozen:
    the code's names and strings are interned on the heap as it loads, as on a board)."""
    return "micropython32" if frozen else "micropython32-stock"


def heap_run(heap_kb, frame_file, key, micropypath, script_dir):
    """The decode loop's output at -X heapsize=heap_kb k, or None if it fails."""
    proc = subprocess.run(
        [
            str(BIN / runtime(micropypath == ".frozen")),
            "-X",
            f"heapsize={heap_kb}k",
            str(script_dir / "decode_loop.py"),
            str(frame_file),
            key.hex(),
            "1000",
            "64",
        ],
        capture_output=True,
        text=True,
        env={"MICROPYPATH": micropypath},
    )
    if proc.returncode:
        return None
    return dict(line.split(" ", 1) for line in proc.stdout.strip().splitlines())


def smallest_heap(frame_file, key, micropypath, script_dir):
    """(smallest heap in KB that decodes 1000 frames, its output at that size)."""
    for kb in range(8, 65):
        result = heap_run(kb, frame_file, key, micropypath, script_dir)
        if result and result["telegrams"] == "1000":
            return kb, result
    return None, None


def _firmware_run(tmp, kb, frozen, path, frames, interval, rate=None, meters=1, esp32=False):
    """Runs the firmware at kb KB of heap on `frames` frames of each of `meters`
    simulated three-phase Smartys with gas and water, each with its own key (discovery,
    per-field topics and legacy payload on, QoS 1): on the unix port (the first meter's
    2 KB rxbuf held on the heap, as an ESP8266 has it) or, `esp32`, on the ESP32 model
    (UART1 and UART2; their rings in the IDF's memory, as the ESP32 has them): (states
    published, the diag messages, the firmware's log, how many frames sent after a
    meter's first published reading were not published)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import p1harness as h
    import p1meter

    tmp = Path(tmp)
    telegram = tmp / "telegram.txt"
    telegram.write_bytes(p1meter.smarty_telegram(None, ("gas", "water")))
    keys = [bytes(range(i, i + 16)).hex() for i in range(0, 16 * meters, 16)]
    broker = h.Broker(tmp / "broker").start()
    sub = h.Subscriber(tmp, broker.port, topics=("smartyreader/#",))
    sims = []
    for i, key in enumerate(keys):
        (tmp / f"m{i}").mkdir()
        sims.append(
            h.Simulator(
                tmp / f"m{i}", key, interval=interval, count=frames, telegram=telegram, rate=rate
            )
        )
    mqtt = {"host": "127.0.0.1", "port": broker.port, "per_field": True, "legacy": True}
    tree = {"meters": [{"key": k} for k in keys], "mqtt": mqtt, "diag": {"interval": 5}}
    if esp32:
        lines = {n: s.link for n, s in enumerate(sims, 1)}
        model = h.BoardModel(tmp / "air", "esp32", lines, {})
        tree["wifi"] = {"ssid": "home", "password": "secret123"}
        options = {
            "heapsize": model.heapsize(kb * 1024, runtime(frozen)),
            "board": "mhet_esp32minikit",
            "path": [h.BoardModel.MODELS, *path],
            "env": model.env(),
        }
    else:
        for meter, sim in zip(tree["meters"], sims):
            meter["uart"] = {"device": str(sim.link)}
        options = {"heapsize": f"{kb}k", "path": path}
    config = tmp / "config.json"
    config.write_text(json.dumps(tree))
    fw = h.Firmware(tmp, config, runtime=runtime(frozen), frozen=frozen, **options)
    try:
        try:  # a firmware that died at this heap reads nothing: the simulator then blocks
            h.wait_for(
                lambda: all(len(s.frames()) >= frames for s in sims) or not fw.process.alive(),
                frames * interval * 4 + 60,
                "frames",
            )
            time.sleep(6)  # the last readings, and a diag after them
        except TimeoutError:
            pass
        messages = sub.messages()
    finally:
        for p in [sub, fw, *sims, broker]:
            p.stop()
    states = [m for t, m in messages if t.endswith("/state")]
    diags = [json.loads(m) for t, m in messages if t.endswith("/diag")]
    missing = 0  # frames sent after a meter's first published reading, never published
    for n, sim in enumerate(sims, 1):
        topic = "smartyreader/%d/state" % n if meters > 1 else "smartyreader/state"
        got = [json.loads(m)["timestamp"] for t, m in messages if t == topic]
        sent = [h.iso(f["timestamp"]) for f in sim.frames()]
        missing += len([t for t in sent if not got or (t >= got[0] and t not in got)])
    return states, diags, fw.log(), missing


def firmware_heap(frozen, path=(), meters=1, esp32=False):
    """Smallest heap (KB, 2 KB steps, by bisection) at which the whole firmware publishes
    every one of 20 frames of each meter from its first reading on (those sent while it
    starts are lost, as on a real line; at least 8) with no MemoryError (see
    _firmware_run), or None up to 128 KB."""

    def fits(kb):
        with tempfile.TemporaryDirectory() as tmp:
            states, _, log, missing = _firmware_run(
                tmp, kb, frozen, path, 20, 1, None, meters, esp32
            )
        published = len(states) >= 8 * meters and not missing
        return published and "MemoryError" not in log and "out of memory" not in log

    low, high = 11, 64  # in 2 KB steps: 22 KB fails, 128 KB is the most looked at
    if not fits(2 * high):
        return None
    while high - low > 1:
        middle = (low + high) // 2
        if fits(2 * middle):
            high = middle
        else:
            low = middle
    return 2 * high


def memory_parts():
    """[(part, bytes)] of the reader's heap: host_tests/mp/memory_parts.py frozen."""
    out = run(
        [str(BIN / "micropython32"), str(ROOT / "host_tests" / "mp" / "memory_parts.py")],
        env=dict(os.environ, MICROPYPATH=".frozen"),
    ).stdout
    return [
        (line.rsplit(" ", 1)[0].replace("_", " "), int(line.rsplit(" ", 1)[1]))
        for line in out.split("\n")
        if line
    ]


def firmware_soak(kb, frozen=True):
    """1000 frames in a row at kb KB: (memory errors, free heap after the per-frame
    collection near frame 100 and at the end, readings published)."""
    with tempfile.TemporaryDirectory() as tmp:
        states, diags, log, _ = _firmware_run(tmp, kb, frozen, (), 1000, 0.05, rate=0)
    early = next((d for d in diags if d["frames_ok"] >= 100), None)
    last = diags[-1] if diags else None
    return (
        log.count("out of memory") + log.count("MemoryError"),
        early and early["free_heap_after_gc"],
        last and last["free_heap_after_gc"],
        len(states),
    )


def meters_memory(counts=(1, 2, 5), kb=128, frames=12):
    """[(meters, free heap after the per-frame collection, MemoryErrors, readings
    published, readings sent)]: the firmware (frozen) reading `n` simulated meters at kb
    KB, a frame a second from each (see _firmware_run)."""
    out = []
    for n in counts:
        with tempfile.TemporaryDirectory() as tmp:
            states, diags, log, _ = _firmware_run(tmp, kb, True, (), frames, 1, meters=n)
        errors = log.count("out of memory") + log.count("MemoryError")
        free = min(d["free_heap_after_gc"] or 1 << 30 for d in diags) if diags else None
        out.append((n, free, errors, len(states), frames * n))
    return out


def setup_heap(frozen, path=()):
    """Smallest heap (KB, 2 KB steps) at which setup mode serves a session over TCP that
    shows, sets, saves and shows again, or None up to 128 KB."""
    sys.path.insert(0, str(ROOT / "tools"))
    import p1harness as h

    answers = []
    for kb in range(16, 130, 2):
        with tempfile.TemporaryDirectory() as tmp:
            port = h.free_port()
            fw = h.Firmware(
                tmp,
                Path(tmp) / "config.json",
                runtime=runtime(frozen),
                heapsize=f"{kb}k",
                frozen=frozen,
                path=path,
                setup=True,
                setup_port=port,
            )
            try:
                shell = h.SetupClient(port, timeout=10)
                for line in (
                    "help",
                    "show",
                    "set meter.key 000102030405060708090a0b0c0d0e0f",
                    "set mqtt.host 192.168.1.10",
                    "set uart.device /dev/ttyUSB1",
                    "set setup.password bench-password",
                    "save",
                    "show",
                ):
                    answers.append(shell.command(line))
                shell.close()
                ok = answers[-1].endswith("complete") and "Error" not in fw.log()
            except OSError:
                ok = False
            finally:
                fw.stop()
            if ok:
                return kb
    return None


def heap_table(measure, title, text):
    """The markdown lines of a smallest-heap measure, the application frozen and as .mpy."""
    sys.path.insert(0, str(ROOT / "tools"))
    import p1harness as h

    with tempfile.TemporaryDirectory() as tmp:
        mpy = h.compile_mpy(tmp)
        heaps = {
            "frozen into the firmware": measure(True),
            ".mpy files loaded into RAM": measure(False, [mpy]),
        }
    lines = [title, "", text, "", "| where the application lives | smallest heap |", "|---|---:|"]
    for name, kb in heaps.items():
        lines.append(f"| {name} | {f'{kb} KB' if kb else 'over 128 KB'} |")
    return lines + [""]


def esp8266_sizes():
    out = run(["make", "-s", "check-esp8266"], cwd=ROOT).stdout
    total = int(re.search(r"\((\d+) bytes text\+data\+bss\)", out).group(1))
    natmod = (ROOT / "build" / "natmod" / "aesgcm_xtensa.mpy").stat().st_size
    return total, natmod


def esp8266_image():
    """(image bytes, [(region, used, limit)]) of build/firmware/lolin_d1_mini_pro.bin, the
    real image `make esp8266-image` builds (host_tests/test_image.py reads it the same way)."""
    sys.path.insert(0, str(ROOT / "host_tests"))
    import test_image

    image = test_image.IMAGE
    used = test_image.regions(test_image.BUILD / "firmware.elf")
    return image.stat().st_size, [(r, used[r], test_image.LIMITS[r]) for r in test_image.LIMITS]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()

    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {datetime.date.today()} ({platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}, MicroPython 1.25.0 "
        "unix port built by `make micropython`). Every figure below was measured in that one "
        "run; ratios compare figures measured side by side.",
        "",
    ]

    with tempfile.TemporaryDirectory() as tmp:
        gcm = gcm_instructions(tmp)
    cryptography_ipb = gcm[-1][1] / FRAME_BYTES
    lines += [
        "## AES-128-GCM decrypt+verify of a 1234-byte Smarty frame (callgrind)",
        "",
        "Instructions for one frame (1204 bytes of ciphertext, 17-byte AAD, 12-byte tag), "
        "key already set up. Target for the C core: at most 40 instructions per byte.",
        "",
        "| implementation | instructions / frame | per frame byte | per ciphertext byte "
        "| vs cryptography |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, count in gcm:
        lines.append(
            f"| {name} | {count:,.0f} | {count / FRAME_BYTES:.1f} | "
            f"{count / CIPHERTEXT_BYTES:.1f} | "
            f"{count / FRAME_BYTES / cryptography_ipb:.2f}x |"
        )
    lines += [
        "",
        "`cryptography` uses OpenSSL's AES-NI/PCLMULQDQ code; its count includes the Python "
        "calls that drive it (about what a CPython reader pays per frame). The ESP ports "
        "build with -Os, which selects the compact variant (one AES T-table, rotations).",
        "",
    ]

    lines += [
        "## AES-GCM on MicroPython: time per frame",
        "",
        "Median of interleaved rounds; decrypt+verify of one 1204-byte frame: the C "
        "module, the stock-firmware tier (`cryptolib` AES + viper GHASH) and pure "
        "Python. Target: viper tier at least 20x faster than pure Python.",
        "",
        "| runtime | `aesgcm` (C) µs | cryptolib+viper µs | pure Python µs | pure / C "
        "| pure / viper |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lib = [ROOT / "firmware" / "lib"]
    for runtime in ("micropython", "micropython32"):
        t = micropython_times(
            runtime,
            args.rounds,
            "c=aesgcm",
            "viper=smarty.gcm_viper",
            "pure=smarty.gcm_pure",
            path=lib,
        )
        lines.append(
            f"| {runtime} | {t['c']} | {t['viper']} | {t['pure']} | "
            f"{t['pure'] / t['c']:.0f}x | {t['pure'] / t['viper']:.0f}x |"
        )
    lines.append("")

    sys.path.insert(0, str(ROOT / "tools"))
    import p1harness as h
    import p1meter

    key = bytes(range(16))
    frame = p1meter.encrypt_frame(p1meter.smarty_telegram(), key)
    with tempfile.TemporaryDirectory() as tmp:
        frame_file = Path(tmp) / "frame.bin"
        frame_file.write_bytes(frame)
        # The runtimes take turns, a block of rounds each, BLOCKS times: the machine's
        # speed drifts (a shared host), and a runtime measured only in a slow stretch
        # would make the ratios below say more of the machine than of the code.
        blocks = []
        for _ in range(BLOCKS):
            times = {
                rt: decode_times_micropython(rt, args.rounds, frame_file, key)
                for rt in ("micropython", "micropython32")
            }
            times["CPython"] = decode_times_cpython(args.rounds * 5, frame, key)
            blocks.append(times)

    def median(rt, name, over=None):
        """The median over the blocks of a runtime's time, or of its ratio to `over`
        ((runtime, name)) measured in the same block."""
        return statistics.median(
            b[rt][name] / (b[over[0]][over[1]] if over else 1) for b in blocks
        )

    mp = {rt: {n: median(rt, n) for n in blocks[0][rt]} for rt in ("micropython", "micropython32")}
    cp = {n: median("CPython", n) for n in blocks[0]["CPython"]}
    lines += [
        "## Decoding a 1234-byte Smarty frame: decrypt, verify, CRC, parse every field",
        "",
        "Median time per frame in this run; the runtimes took turns, %d blocks of rounds "
        "each, and a ratio is the median of the ratios within a block. CPython rows: our "
        "core (backend `cryptography`) and `dsmr_parser` 1.11.2 with its `MSN` spec "
        "(Luxembourg Smarty, encrypted; tag verified, decryption by `cryptography` "
        "through `dlms_cosem`)." % BLOCKS,
        "",
        "| runtime | implementation | µs per frame |",
        "|---|---|---:|",
        f"| CPython {platform.python_version()} | dsmr_parser | {cp['dsmr_parser']:.0f} |",
        f"| CPython {platform.python_version()} | our core | {cp['ours']:.0f} |",
    ]
    for rt, times in mp.items():
        for backend, us in times.items():
            lines.append(f"| {rt} | our core, `{backend}` | {us:.0f} |")
    lines += [
        "",
        "| ratio | value | target |",
        "|---|---:|---:|",
    ]
    for rt in mp:
        ratio = median(rt, "aesgcm", ("CPython", "dsmr_parser"))
        lines.append(f"| {rt} `aesgcm` / CPython dsmr_parser | {ratio:.2f} | < 1 |")
    for rt in mp:
        ratio = median(rt, "pure-python", (rt, "cryptolib+viper"))
        lines.append(f"| {rt} whole frame, pure-python / cryptolib+viper | {ratio:.1f}x | |")
    ratio = median("CPython", "ours", ("CPython", "dsmr_parser"))
    lines.append(f"| CPython our core / dsmr_parser | {ratio:.2f} | |")
    lines += [
        "",
        "The whole-frame ratio of the GCM tiers is smaller than the GCM-only one above: "
        "parsing, the same for every tier, is most of a frame once decryption is fast.",
        "",
    ]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "script").mkdir()
        (tmp / "script" / "decode_loop.py").write_text(
            (ROOT / "host_tests" / "mp" / "decode_loop.py").read_text()
        )
        frame_file = tmp / "frame.bin"
        frame_file.write_bytes(frame)
        h.compile_mpy(tmp / "mpy", ("smarty",), natmod=True)
        heaps = {
            name: smallest_heap(frame_file, key, path, tmp / "script")
            for name, path in (
                ("frozen into the firmware", ".frozen"),
                (".mpy files loaded into RAM", str(tmp / "mpy")),
            )
        }
    lines += [
        "## Memory of the decode path on the 32-bit port (micropython32)",
        "",
        "1000 frames of 1234 bytes fed in 64-byte chunks (framer, decrypt with `aesgcm`, "
        "CRC, every field parsed); the 2048-byte frame buffer allocated first. Smallest "
        "`-X heapsize` (1 KB steps) that runs all 1000, and the heap in use after "
        "`gc.collect()` at frame 10 and frame 1000. Target: 20 KB with the code "
        "precompiled to .mpy.",
        "",
        "| where the code lives | smallest heap | in use at frame 10 | at frame 1000 |",
        "|---|---:|---:|---:|",
    ]
    for name, (kb, result) in heaps.items():
        if kb is None:
            lines.append(f"| {name} | over 64 KB | | |")
        else:
            lines.append(f"| {name} | {kb} KB | {result['heap_10']} | {result['heap_last']} |")
    lines.append("")

    sys.path.insert(0, str(ROOT / "tools"))
    import p1harness as h

    with tempfile.TemporaryDirectory() as tmp:
        mpy = [h.compile_mpy(Path(tmp) / "mpy")]
        natmod = [h.compile_mpy(Path(tmp) / "natmod", natmod=True)]  # aesgcm beside it
        heaps = [
            ("frozen into the firmware (the ESP8266 image)", 1, firmware_heap(True)),
            (".mpy files, unix port, with the aesgcm natmod", 1, firmware_heap(False, natmod)),
            (".mpy files, ESP32 model, stock image", 1, firmware_heap(False, mpy, esp32=True)),
            (".mpy files, ESP32 model, stock image", 2, firmware_heap(False, mpy, 2, True)),
            (
                ".mpy files, ESP32 model, stock image with the aesgcm natmod",
                1,
                firmware_heap(False, natmod, esp32=True),
            ),
        ]
    lines += [
        "## Memory of the whole firmware on micropython32",
        "",
        "Smallest `-X heapsize` (2 KB steps, by bisection) at which the firmware (simulated "
        "three-phase Smartys with gas and water on ptys, 20 frames each, a second apart, "
        "Mosquitto on loopback; discovery, per-field topics and legacy payload on, QoS 1, "
        "no TLS) publishes every frame sent after its first reading (those sent while it "
        "starts are lost, as on a real line) with no MemoryError. Frozen in: what the "
        "board's image freezes (asyncio, umqtt ...; the application too in the ESP8266 "
        "image) and the board models' names (on a board machine and network are C: their "
        "names are the image's). On the unix port the UART's 2 KB receive ring is held on the "
        "heap, as the ESP8266 allocates it; on the ESP32 model (`host_tests/models`, its "
        "own cost given back) the rings are the IDF driver's, outside the GC heap, as on an "
        "ESP32. The application as `.mpy` files is compiled as `tools/flash.py deploy` "
        "does (`-O3`). A stock ESP32 image has no `aesgcm` (its natmod needs Espressif's "
        "compiler): it decrypts with cryptolib + viper. Targets: 32 KB frozen (an ESP8266 "
        "has about 36 KB), 64 KB for the ESP32's stock path, one meter and two.",
        "",
        "| where the application lives | meters | smallest heap |",
        "|---|---:|---:|",
    ]
    for name, meters, kb in heaps:
        lines.append(f"| {name} | {meters} | {f'{kb} KB' if kb else 'over 128 KB'} |")
    lines.append("")
    parts = memory_parts()
    lines += [
        "Where the whole firmware's heap goes (micropython32, application frozen; "
        "`host_tests/mp/memory_parts.py`): module globals and classes as the reader "
        "imports them (frozen code itself costs nothing), then its buffers; the rest "
        "of a 32 KB heap is the per-frame garbage, collected after each frame.",
        "",
        "| part | bytes |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {n:,} |" for name, n in parts]
    lines += [f"| total | {sum(n for _, n in parts):,} |", ""]
    soak_kb = 32
    errors, early, last, published = firmware_soak(soak_kb)
    lines += [
        f"1000 frames in a row (as fast as the line takes them) at {soak_kb} KB, frozen: "
        f"{errors} MemoryErrors, {published} readings published, free heap after the "
        f"per-frame collection {early} bytes near frame 100 and {last} bytes at the end.",
        "",
    ]
    measured = meters_memory()
    base = measured[0][1]
    lines += [
        "## Several meters on micropython32",
        "",
        "The firmware (application frozen) reading 1, 2 and 5 simulated meters at once "
        "(each a three-phase Smarty with gas and water, its own key and pty, a frame a "
        "second; discovery, per-field and legacy on) at 128 KB: the least free heap "
        "after the per-frame collection any diag reported, and what each meter after "
        "the first costs. Budget: five meters at 64 KB (`host_tests/test_meters.py` runs "
        "them there, with faults).",
        "",
        "| meters | free heap after gc | cost per further meter | MemoryErrors | "
        "readings published / sent |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n, free, errors, published, sent in measured:
        cost = f"{(base - free) // (n - 1):,}" if n > 1 and free and base else ""
        lines.append(f"| {n} | {free:,} | {cost} | {errors} | {published} / {sent} |")
    five = meters_memory((5,), kb=64)[0]
    lines += [
        "",
        f"Five meters at 64 KB: {five[2]} MemoryErrors, {five[3]} of {five[4]} readings "
        f"published, free heap after the per-frame collection at least {five[1]:,} bytes.",
        "",
    ]
    lines += heap_table(
        setup_heap,
        "## Memory of setup mode on micropython32",
        "Smallest `-X heapsize` (2 KB steps) at which setup mode (no config yet) serves a "
        "session over TCP: help, show, four sets, save, show. It loads none of the meter "
        "reader's code.",
    )

    total, natmod = esp8266_sizes()
    lines += [
        "## Size on the ESP8266 (xtensa-lx106, -Os, the port's flags)",
        "",
        "| what | bytes | target |",
        "|---|---:|---:|",
        f"| `aesgcm` objects (gcm.o + modaesgcm.o, text+data) | {total} | 8192 |",
        f"| `aesgcm_xtensa.mpy` natmod | {natmod} | |",
        "",
    ]
    size, used = esp8266_image()
    lines += [
        "## The ESP8266 image (`make firmware BOARD=lolin_d1_mini_pro`)",
        "",
        f"`build/firmware/lolin_d1_mini_pro.bin`: {size:,} bytes (aesgcm in C, the "
        "application, asyncio, umqtt.simple 1.6.0 frozen). Memory regions of the ESP8266 "
        "(limits from the port's esp8266_2MiB.ld):",
        "",
        "| region | used | limit | free |",
        "|---|---:|---:|---:|",
    ]
    for region, n, limit in used:
        lines.append(f"| {region} | {n:,} | {limit:,} | {limit - n:,} |")
    lines.append("")
    lines += station_bench.section()  # bench/station.py: the station's SQLite and pages
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
