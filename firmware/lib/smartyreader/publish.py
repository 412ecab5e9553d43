# What is published, built from a telegram's readings: the state JSON, per-field
# values, Home Assistant discovery configs and the legacy (weigu SmartyReader)
# payload.  No I/O here.

from smarty.jsonout import dumps
from smarty.values import Fixed

# Units as Home Assistant spells them.
HA_UNITS = {"m3": "m³"}
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
        if self._fields:
            self.write(b", ")
        self._fields += 1
        self.write(b'"')
        self.write(name)  # field names are snake_case: nothing to escape
        self.write(b'": ')
        if (
            isinstance(value, (str, list, tuple, dict))
            or value is None
            or value is True
            or value is False
        ):
            self.write(dumps(value))
        else:  # int or Fixed: the digits
            self.write(str(value))

    def close(self):
        self.write(b"}")

    def line(self, name, value):
        """One per-field line: `name payload` and a newline (payloads hold none)."""
        self.write(name)
        self.write(b" ")
        self.write(field_payload(value))
        self.write(b"\n")


def field_lines(buf, start, end):
    """(name, payload) memoryviews of the per-field lines SlotWriter.line() wrote into
    buf[start:end]."""
    view = memoryview(buf)
    while start < end:
        newline = buf.find(b"\n", start, end)
        space = buf.find(b" ", start, newline)
        yield view[start:space], view[space + 1 : newline]
        start = newline + 1


def field_payload(value):
    """A value as a per-field topic's payload: digits, text, or JSON for a list."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return dumps(value)
    return str(value)


def sensor_line(reading):
    """A reading's line in the compact list of Home Assistant sensors (field, unit,
    device class, state class; "-" for none), or b"" if it gets no sensor: numbers and
    timestamps do."""
    if not (is_published_number(reading[1]) or reading[3] == "timestamp"):
        return b""
    return ("%s %s %s %s\n" % tuple(x or "-" for x in reading[:1] + reading[2:5])).encode()


def discovery(prefix, node, topic, meter_name, sensors, length):
    """(topic, payload) of the retained Home Assistant discovery config of each sensor in
    sensors[:length], lines of sensor_line()."""
    device = {
        "identifiers": [node],
        "name": meter_name,
        "manufacturer": "Sagemcom",
        "model": "Smarty (SmartyReader)",
    }
    start = 0
    while start < length:
        end = sensors.find(b"\n", start, length)
        field, unit, device_class, state_class = (
            None if x == "-" else x for x in sensors[start:end].decode().split(" ")
        )
        start = end + 1
        config = {
            "name": field.replace("_", " "),
            "unique_id": node + "_" + field,
            "object_id": node + "_" + field,
            "state_topic": topic + "/state",
            "value_template": "{{ value_json.%s }}" % field,
            "availability_topic": topic + "/status",
            "device": device,
        }
        if unit:
            config["unit_of_measurement"] = HA_UNITS.get(unit, unit)
        if device_class:
            config["device_class"] = device_class
        if state_class:
            config["state_class"] = state_class
        yield "%s/sensor/%s/%s/config" % (prefix, node, field), dumps(config)


def legacy_payload(raw_timestamp, import_raw, export_raw):
    """The weigu SmartyReader payload: dt is the meter's timestamp, c1/p1 the import and
    export energy exactly as the meter writes them ("000273.764*kWh")."""
    return dumps({"dt": raw_timestamp, "c1": import_raw, "p1": export_raw})


def legacy_notice(kind, message):
    """A legacy message that is not a reading: dt starts with "e" (error) or "c"
    (connected), as the weigu subscriber expects."""
    return dumps({"dt": ("error: " if kind == "error" else "connected: ") + message})
