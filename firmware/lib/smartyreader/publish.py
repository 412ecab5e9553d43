# What is published, built from a telegram's readings: the state JSON, per-field
# values, the sensor lines Home Assistant discovery is made of (discovery.py) and the
# legacy (weigu SmartyReader) payload.  No I/O here: payloads are written into the
# buffers and sinks given.

from smarty import const
from smarty.jsonout import dumps
from smarty.values import Fixed


# Computed fields, as sensor_line() writes them: name, unit, device class, state class
COMPUTED_SENSORS = (
    b"net_power kW power measurement\n"
    b"energy_import_today kWh energy total_increasing\n"
    b"energy_export_today kWh energy total_increasing\n"
)


def difference(a, b):
    """a - b, exact (Fixed or int); None if either is missing."""
    if a is None or b is None:
        return None
    a, b = _fixed(a), _fixed(b)
    places = max(len(a.text.partition(".")[2]), len(b.text.partition(".")[2]))
    value = a.scaled(places) - b.scaled(places)
    digits = "%0*d" % (places + 1, abs(value))
    text = digits[:-places] + "." + digits[-places:] if places else digits
    return Fixed("-" + text if value < 0 else text)


def _fixed(v):
    return v if isinstance(v, Fixed) else Fixed(str(v))


def is_published_number(value):
    return isinstance(value, (int, Fixed)) and not isinstance(value, bool)


class SlotWriter:
    """Writes payloads one after another into a given buffer (a ring slot): the state
    JSON, the legacy payload, the per-field lines.  No pieces, no copy: nothing of a
    reading stays on the heap between frames to fragment it."""

    def __init__(self):
        self.buf = None
        self.length = 0
        self._fields = 0

    def start(self, buf):
        self.buf, self.length = buf, 0

    def write(self, text):
        data = text.encode() if isinstance(text, str) else text
        end = self.length + len(data)
        if end > len(self.buf):
            raise ValueError("payload longer than %d bytes" % len(self.buf))
        self.buf[self.length : end] = data
        self.length = end

    def open(self):
        self._fields = 0
        self.write(b"{")

    def field(self, name, value):
        """One member of the JSON object: `"name": value`."""
        if (
            isinstance(value, (str, list, tuple, dict))
            or value is None
            or value is True
            or value is False
        ):
            self.member(name, dumps(value))
        else:  # int or Fixed: the digits
            self.member(name, str(value))

    def member(self, name, json_text):
        """A member whose value is JSON text already."""
        if self._fields:
            self.write(b", ")
        self._fields += 1
        self.write(b'"')
        self.write(name)  # member names are snake_case: nothing to escape
        self.write(b'": ')
        self.write(json_text)

    def close(self):
        self.write(b"}")


_QUOTE = const(0x22)
_COMMA = const(0x2C)
_BACKSLASH = const(0x5C)


def json_members(buf, start, end):
    """(name start, name end, value start, value end) of each member of the JSON object
    SlotWriter wrote into buf[start:end] (names are plain, values any JSON): the per-field
    topics' payloads, read back from the queued state without parsing it."""
    i = start + 1  # after "{"
    while i < end - 1:
        name = i + 1  # after the quote
        colon = buf.find(b'": ', name, end)
        value = i = colon + 3
        depth, text = 0, False
        while i < end - 1:
            c = buf[i]
            if text:
                if c == _BACKSLASH:
                    i += 1
                elif c == _QUOTE:
                    text = False
            elif c == _QUOTE:
                text = True
            elif c == 0x5B or c == 0x7B:  # [ {
                depth += 1
            elif c == 0x5D or c == 0x7D:  # ] }
                depth -= 1
            elif c == _COMMA and not depth:
                break
            i += 1
        yield name, colon, value, i
        i += 2  # ", "


def field_payload(buf, value, value_end):
    """A member's value as its per-field topic's payload: digits, the text of a string
    (its quotes off), JSON for a list, nothing for null: (start, end) in buf."""
    if buf[value] == _QUOTE:
        return value + 1, value_end - 1
    if value_end - value == 4 and buf[value : value + 4] == b"null":
        return value, value
    return value, value_end


def sensor_line(reading):
    """A reading's line in the compact list of Home Assistant sensors (field, unit,
    device class, state class; "-" for none), or b"" if it gets no sensor: numbers and
    timestamps do."""
    if not (is_published_number(reading.value) or reading.device_class == "timestamp"):
        return b""
    fields = (reading.name, reading.unit, reading.device_class, reading.state_class)
    return ("%s %s %s %s\n" % tuple(x or "-" for x in fields)).encode()


def write_legacy(writer, raw_timestamp, import_raw, export_raw):
    """The weigu SmartyReader payload, into a SlotWriter: dt is the meter's timestamp,
    c1/p1 the import and export energy exactly as the meter writes them
    ("000273.764*kWh")."""
    writer.open()
    writer.field("dt", raw_timestamp)
    writer.field("c1", import_raw)
    writer.field("p1", export_raw)
    writer.close()


def legacy_notice(kind, message):
    """A legacy message that is not a reading: dt starts with "e" (error) or "c"
    (connected), as the weigu subscriber expects."""
    return dumps({"dt": ("error: " if kind == "error" else "connected: ") + message})


_LEGACY_CODES = const(("0-0:1.0.0", "1-0:1.8.0", "1-0:2.8.0"))
_WANTED = const(("power_import", "power_export", "energy_import", "energy_export", "timestamp"))


class Payloads:
    """A telegram's payloads, written into a queue slot: the state JSON (every reading,
    then net power and the energy since local midnight) and, with `legacy`, the legacy
    payload.  Keeps what spans telegrams: the energy-today baselines, the meter's id."""

    def __init__(self, legacy=False):
        self.legacy = legacy
        self.writer = SlotWriter()
        self.baselines = {}  # field -> (date, value at the first telegram of that date)
        self.meter = None  # equipment id (or system title) of the first telegram
        # (meter, baselines) as they were before a reset (the receiver keeps them in a
        # file): taken up if the first telegram is that meter's, of that date
        self.kept = None
        self.new_baseline = False  # a baseline was taken: to be kept (the receiver does)

    def write(self, telegram, slot, sensors=None):
        """(state length, legacy length) in slot; ValueError if they do not fit.  With
        `sensors` (anything with write()), a sensor_line() of each reading goes there."""
        writer = self.writer
        wanted = {}
        writer.start(slot)
        writer.open()
        for reading in telegram.readings():
            name, value = reading.name, reading.value
            writer.field(name, value)
            if name in _WANTED or name == "equipment_id":
                wanted[name] = value
            if sensors is not None:
                sensors.write(sensor_line(reading))
        if self.meter is None:
            self.meter = (
                wanted.get("equipment_id") or (telegram.system_title or b"").hex() or "meter"
            )
        for name, value in self.computed(wanted):
            writer.field(name, value)
        if sensors is not None:
            sensors.write(COMPUTED_SENSORS)
        writer.close()
        state = writer.length
        if self.legacy:
            write_legacy(writer, *(telegram.raw(code) or "" for code in _LEGACY_CODES))
        return state, writer.length - state

    def computed(self, fields):
        """[(name, value)]: net power (import - export) and the energy since local
        midnight (since the first telegram of the meter's date: the first after it was
        switched on, if it was off at midnight)."""
        out = [("net_power", difference(fields.get("power_import"), fields.get("power_export")))]
        date = (fields.get("timestamp") or "")[:10]
        kept = self.kept
        if kept:  # the first telegram after a reset: its meter's baselines of that date
            self.kept = None
            if kept[0] == self.meter:
                for name, base in kept[1].items():
                    if base[0] == date:
                        self.baselines[name] = base
        for name in ("energy_import", "energy_export"):
            value = fields.get(name)
            base = self.baselines.get(name)
            if value is not None and (base is None or base[0] != date):
                base = self.baselines[name] = (date, value)
                self.new_baseline = True
            out.append((name + "_today", difference(value, base[1]) if base else None))
        return out
