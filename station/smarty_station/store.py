# The station's SQLite file (WAL): readings keyed by meter and the meter's own timestamp
# (a reading delivered twice is stored once), exact scaled integers (Wh, W, litres), and
# per meter the 15-minute and daily register extremes maintained on ingest, from which
# energies are register differences.  One Store per thread (SQLite connections are not
# shared); WAL lets the web pages read while the collector writes.

import sqlite3
from pathlib import Path
from datetime import date, datetime, timedelta, timezone

from .readings import Reading

QUARTER = 900  # seconds: the grid tariff's 15-minute slot

SCHEMA = """
CREATE TABLE IF NOT EXISTS meters (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS readings (
    meter INTEGER NOT NULL REFERENCES meters(id),
    ts INTEGER NOT NULL,             -- UTC seconds, the meter's timestamp
    utc_offset INTEGER NOT NULL,     -- minutes
    energy_import INTEGER,           -- Wh
    energy_export INTEGER,           -- Wh
    power_import INTEGER,            -- W
    power_export INTEGER,            -- W
    gas INTEGER,                     -- litres
    PRIMARY KEY (meter, ts)
) WITHOUT ROWID;
-- register extremes per 15-minute slot (UTC start) and per local day: registers only
-- grow, so a slot's energy is its maximum minus the previous slot's (or its minimum)
CREATE TABLE IF NOT EXISTS quarters (
    meter INTEGER NOT NULL, start INTEGER NOT NULL,
    import_min INTEGER, import_max INTEGER, export_min INTEGER, export_max INTEGER,
    PRIMARY KEY (meter, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS days (
    meter INTEGER NOT NULL, day TEXT NOT NULL,
    import_min INTEGER, import_max INTEGER, export_min INTEGER, export_max INTEGER,
    gas_min INTEGER, gas_max INTEGER, readings INTEGER NOT NULL,
    PRIMARY KEY (meter, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS mailed (day TEXT PRIMARY KEY, at INTEGER NOT NULL);
"""

_EXTREMES = """
    {0}_min = min(coalesce({0}_min, excluded.{0}_min), coalesce(excluded.{0}_min, {0}_min)),
    {0}_max = max(coalesce({0}_max, excluded.{0}_max), coalesce(excluded.{0}_max, {0}_max))"""
_ADD_QUARTER = (
    "INSERT INTO quarters VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
    + ",".join(_EXTREMES.format(n) for n in ("import", "export"))
)
_ADD_DAY = (
    "INSERT INTO days VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET"
    + ",".join(_EXTREMES.format(n) for n in ("import", "export", "gas"))
    + ", readings = readings + 1"
)


def _sql_digits(column):
    """SQL for thousandths as the meter's digits (17901 -> '17.901'; NULL -> '')."""
    return (
        f"CASE WHEN {column} IS NULL THEN '' WHEN {column} < 0 "
        f"THEN printf('-%d.%03d', -{column} / 1000, -{column} % 1000) "
        f"ELSE printf('%d.%03d', {column} / 1000, {column} % 1000) END"
    )


_CSV_LINE = (
    "strftime('%Y-%m-%dT%H:%M:%S', ts + utc_offset * 60, 'unixepoch') || printf('%s%02d:%02d', "
    "CASE WHEN utc_offset < 0 THEN '-' ELSE '+' END, abs(utc_offset) / 60, abs(utc_offset) % 60)"
    + "".join(
        " || ',' || " + _sql_digits(c)
        for c in ("energy_import", "energy_export", "power_import", "power_export", "gas")
    )
    + " || char(10)"
)
_COLUMNS = "ts, utc_offset, energy_import, energy_export, power_import, power_export, gas"


class Store:
    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._meters = {}

    def close(self):
        self.db.close()

    # ---- writing ----

    def meter_id(self, name):
        meter = self._meters.get(name)
        if meter is None:
            self.db.execute("INSERT OR IGNORE INTO meters (name) VALUES (?)", (name,))
            meter = self.db.execute("SELECT id FROM meters WHERE name = ?", (name,)).fetchone()[0]
            self._meters[name] = meter
        return meter

    def add(self, reading):
        """Stores a reading; False if it was there already (a redelivery)."""
        return self.add_many((reading,)) == 1

    def add_many(self, readings):
        """Stores readings in one transaction; how many were new."""
        added = 0
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            for r in readings:
                meter = self.meter_id(r.meter)
                cursor = db.execute(
                    "INSERT OR IGNORE INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (meter, r.ts, r.utc_offset, r.energy_import, r.energy_export)
                    + (r.power_import, r.power_export, r.gas),
                )
                if cursor.rowcount != 1:
                    continue
                added += 1
                imp, exp = r.energy_import, r.energy_export
                db.execute(_ADD_QUARTER, (meter, r.ts - r.ts % QUARTER, imp, imp, exp, exp))
                db.execute(_ADD_DAY, (meter, r.day.isoformat(), imp, imp, exp, exp, r.gas, r.gas))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return added

    def count(self, name, n=1):
        self.db.execute(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT DO UPDATE SET value = value + ?",
            (name, n, n),
        )

    def mark_mailed(self, day, at):
        self.db.execute("INSERT OR REPLACE INTO mailed VALUES (?, ?)", (day.isoformat(), at))

    # ---- reading ----

    def counters(self):
        return dict(self.db.execute("SELECT name, value FROM counters"))

    def mailed(self):
        return {date.fromisoformat(d) for (d,) in self.db.execute("SELECT day FROM mailed")}

    def meters(self):
        return [name for (name,) in self.db.execute("SELECT name FROM meters ORDER BY id")]

    def latest(self, meter=None):
        """The newest reading (of a meter, or of any), or None."""
        names = [meter] if meter is not None else self.meters()
        newest = None
        for name in names:
            row = self.db.execute(
                f"SELECT {_COLUMNS} FROM readings WHERE meter = ? ORDER BY ts DESC LIMIT 1",
                (self.meter_id(name),),
            ).fetchone()
            if row and (newest is None or row[0] > newest.ts):
                newest = Reading(name, *row)
        return newest

    def _day_query(self, meter, day, select, order=""):
        """Rows of a meter's local day: the UTC range bounds it whatever the offset (at
        most ±14 h) and lets SQLite use the key; the local time selects exactly."""
        start = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())
        return self.db.execute(
            f"SELECT {select} FROM readings WHERE meter = ? AND ts >= ? AND ts < ? "
            f"AND ts + utc_offset * 60 >= ? AND ts + utc_offset * 60 < ? {order}",
            (self.meter_id(meter), start - 14 * 3600, start + 38 * 3600, start, start + 86400),
        )

    def day_rows(self, meter, day):
        """Every reading of a meter's local day as a tuple (ts, utc_offset, energy_import,
        energy_export, power_import, power_export, gas), oldest first."""
        return self._day_query(meter, day, _COLUMNS, "ORDER BY ts").fetchall()

    def day_csv(self, meter, day):
        """Every reading of a meter's local day as a CSV line (report.CSV_HEADER's
        columns), written by SQLite itself: a day has 8640 of them."""
        lines = self._day_query(meter, day, _CSV_LINE, "ORDER BY ts")
        return [line for (line,) in lines]

    def day(self, meter, day):
        """Every reading of a meter's local day, oldest first."""
        return [Reading(meter, *row) for row in self.day_rows(meter, day)]

    def day_summary(self, meter, day):
        """(readings, peak import power, peak export power, the last reading or None)."""
        count, peak_import, peak_export = self._day_query(
            meter, day, "count(*), max(power_import), max(power_export)"
        ).fetchone()
        last = self._day_query(meter, day, _COLUMNS, "ORDER BY ts DESC LIMIT 1").fetchone()
        return count, peak_import, peak_export, Reading(meter, *last) if last else None

    def baseline(self, meter, day):
        """(import, export) registers at the local midnight that starts `day`: the last
        reading before it (the newest earlier day's maximum), else the day's first."""
        meter_id = self.meter_id(meter)
        row = self.db.execute(
            "SELECT import_max, export_max FROM days WHERE meter = ? AND day < ? "
            "ORDER BY day DESC LIMIT 1",
            (meter_id, day.isoformat()),
        ).fetchone()
        if row is None:
            row = self.db.execute(
                "SELECT import_min, export_min FROM days WHERE meter = ? AND day = ?",
                (meter_id, day.isoformat()),
            ).fetchone()
        return row or (None, None)

    def days(self, meter, first, last):
        """[(date, import Wh, export Wh, gas litres, readings)] of the days first..last
        that have readings: register differences from the previous day's last reading."""
        meter_id = self.meter_id(meter)
        rows = self.db.execute(
            "SELECT day, import_min, import_max, export_min, export_max, gas_min, gas_max, "
            "readings FROM days WHERE meter = ? AND day >= ? AND day <= ? ORDER BY day",
            (meter_id, (first - timedelta(days=1)).isoformat(), last.isoformat()),
        ).fetchall()
        out = []
        previous = None
        for day, imin, imax, emin, emax, gmin, gmax, n in rows:
            this = date.fromisoformat(day)
            if this >= first:
                base = previous if previous and previous[0] == this - timedelta(days=1) else None
                out.append(
                    (
                        this,
                        _difference(imax, base[1] if base else imin),
                        _difference(emax, base[2] if base else emin),
                        _difference(gmax, base[3] if base else gmin),
                        n,
                    )
                )
            previous = (this, imax, emax, gmax)
        return out

    def quarters(self, meter, start, end):
        """[(UTC start, import Wh, export Wh)] of the 15-minute slots in [start, end)."""
        meter_id = self.meter_id(meter)
        rows = self.db.execute(
            "SELECT start, import_min, import_max, export_min, export_max FROM quarters "
            "WHERE meter = ? AND start >= ? AND start < ? ORDER BY start",
            (meter_id, start - QUARTER, end),
        ).fetchall()
        out, previous = [], None
        for slot, imin, imax, emin, emax in rows:
            if slot >= start:
                joined = previous and previous[0] == slot - QUARTER
                out.append(
                    (
                        slot,
                        _difference(imax, previous[1] if joined else imin),
                        _difference(emax, previous[2] if joined else emin),
                    )
                )
            previous = (slot, imax, emax)
        return out


def _difference(a, b):
    return None if a is None or b is None else a - b
