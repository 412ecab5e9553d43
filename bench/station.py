#!/usr/bin/env python3
"""The station's numbers (a section of BENCHMARKS.md; `bench/run.py` adds it, or run this
alone to print it): ingest rate into SQLite, a day's page and CSV (8640 readings), the
month view with a year of readings in the database, and the database's bytes per year.
Pages are fetched over HTTP from the station's own server (waitress) on loopback."""

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from smarty_station.collect import Collector
from smarty_station.config import Mqtt
from smarty_station.config import Store as StoreConfig
from smarty_station.readings import Reading
from smarty_station.store import Store
from smarty_station.web import create_app, serve

METER = "SAG1030700026568"
STEP = 10  # seconds between telegrams
DAY = 86400 // STEP  # 8640 readings


def synthetic(start, count):
    """Readings every 10 s from `start` (UTC midnight, meter in winter time): 1.234 kW
    imported, 0.5 kW exported, the registers growing exactly with it, gas slowly."""
    base = int(start.replace(tzinfo=timezone.utc).timestamp()) - 3600
    for n in range(count):
        seconds = n * STEP
        yield Reading(
            METER,
            base + seconds,
            60,
            17_901_000 + seconds * 1234 // 3600,
            55_437_011 + seconds * 500 // 3600,
            1234,
            500,
            1_234_567 + seconds // 36,
        )


def ingest_rate(directory):
    """(readings/s through the collector's path: one transaction per reading, day-file
    line; readings/s in batches of 1000)."""
    store_config = StoreConfig(directory / "ingest.sqlite", directory / "data", directory / "arch")
    collector = Collector(Mqtt(host="127.0.0.1"), store_config)
    collector._open()
    readings = list(synthetic(datetime(2026, 1, 1), 5000))
    start = time.perf_counter()
    for reading in readings:
        collector.ingest(reading)
    single = len(readings) / (time.perf_counter() - start)
    collector.store.close()
    store = Store(directory / "batch.sqlite")
    readings = list(synthetic(datetime(2026, 1, 1), 50000))
    start = time.perf_counter()
    for i in range(0, len(readings), 1000):
        store.add_many(readings[i : i + 1000])
    batched = len(readings) / (time.perf_counter() - start)
    store.close()
    return single, batched


def fill_year(path, days):
    store = Store(path)
    first = datetime(2026, 1, 1)
    start = time.perf_counter()
    readings = synthetic(first, days * DAY)
    while True:
        batch = [r for _, r in zip(range(10000), readings)]
        if not batch:
            break
        store.add_many(batch)
    seconds = time.perf_counter() - start
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return seconds


def fetch_times(base, path, rounds):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        with urllib.request.urlopen(base + path, timeout=60) as response:
            body = response.read()
            assert response.status == 200, path
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, len(body)


def measure(days=365, rounds=11):
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        single, batched = ingest_rate(directory)
        db = directory / "year.sqlite"
        fill_seconds = fill_year(db, days)
        db_bytes = db.stat().st_size
        rows = days * DAY
        server = serve(create_app(db), "127.0.0.1", 0)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = "http://127.0.0.1:%d" % server.socket.getsockname()[1]
        day = (date(2026, 1, 1) + timedelta(days=days // 2)).isoformat()
        pages = {}
        for path in (f"/day/{day}", f"/day/{day}.csv", f"/month/{day[:7]}", f"/day/{day}.png"):
            fetch_times(base, path, 1)  # warm: templates, matplotlib's fonts
            pages[path] = fetch_times(base, path, rounds)
        server.close()
    return {
        "single": single,
        "batched": batched,
        "rows": rows,
        "fill_seconds": fill_seconds,
        "db_bytes": db_bytes,
        "pages": pages,
        "days": days,
    }


def section(days=365, rounds=11):
    m = measure(days, rounds)
    per_row = m["db_bytes"] / m["rows"]
    year = per_row * 365 * DAY
    lines = [
        "## The station (`smarty-station`): SQLite and pages",
        "",
        f"A database of {m['days']} days of readings every 10 s ({m['rows']:,} rows, one "
        f"meter, scaled integers, with the 15-minute and daily aggregates kept on ingest); "
        "pages fetched over HTTP from the station's waitress server on loopback, median of "
        f"{rounds} requests.",
        "",
        "| what | figure | target |",
        "|---|---:|---:|",
        f"| ingest, the collector's path (a transaction and a day-file line per reading) "
        f"| {m['single']:,.0f} readings/s | ≥ 2000 |",
        f"| ingest, batches of 1000 | {m['batched']:,.0f} readings/s | |",
        f"| database file, bytes per reading (with aggregates) | {per_row:.1f} | |",
        f"| database bytes per year (3.15 M readings) | {year / 1e6:,.0f} MB | |",
    ]
    targets = {"day/": "< 100 ms", ".csv": "< 100 ms", "month/": "< 300 ms", ".png": ""}
    for path, (ms, size) in m["pages"].items():
        kind = next(k for k in (".png", ".csv", "month/", "day/") if k in path)
        lines.append(f"| `{path}` ({size:,} bytes) | {ms:.1f} ms | {targets[kind]} |")
    lines += [
        "",
        f"Filling the database took {m['fill_seconds']:.0f} s. The day's PNG is drawn by "
        "matplotlib on every request.",
        "",
    ]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    print("\n".join(section(args.days, args.rounds)))


if __name__ == "__main__":
    sys.exit(main())
