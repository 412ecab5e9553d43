# DSMR telegrams: checksum and parsing into readings.
#
#   /XXX5<identification>
#
#   1-0:1.8.0(000273.764*kWh)
#   0-1:24.2.1(200706103140S)(00000.006*m3)
#   !8B52
#
# The CRC is CRC16/ARC (reflected polynomial 0xA001, init 0) over "/" up to and
# including "!".  DSMR 2.2 and 3 telegrams have no CRC; DSMR 4 and 5 must have one.
#
# A Telegram is a view over the bytes it was parsed from (checked in full by parse());
# its readings are produced on demand (Reading below), so a telegram costs no memory
# beyond its bytes.  It is valid as long as they are: the Reader's next feed() reuses
# them.

from binascii import unhexlify
from collections import namedtuple

from . import const
from .errors import ChecksumError, ParseError
from .obis import MBUS_DEVICES, MBUS_UNKNOWN, STATE_CLASS, UNIT_CLASS, lookup
from .values import Fixed

# One reading of a telegram: field name, value (Fixed, int, text, list or None), unit,
# Home Assistant device class and state class (or None), and the OBIS code it came from.
Reading = namedtuple("Reading", ("name", "value", "unit", "device_class", "state_class", "code"))

try:  # viper where the firmware has it, else the pure-Python twin below
    from .crc_viper import crc16_arc as _crc16
except (ImportError, SyntaxError, ValueError):
    # CRC16/ARC four bits at a time: a table of 16 entries instead of 256.
    _CRC_NIBBLE = [0] * 16
    for _i in range(16):
        _crc = _i
        for _ in range(4):
            _crc = (_crc >> 1) ^ 0xA001 if _crc & 1 else _crc >> 1
        _CRC_NIBBLE[_i] = _crc

    def _crc16(data, start, end):
        table = _CRC_NIBBLE
        crc = 0
        for i in range(start, end):
            crc ^= data[i]
            crc = (crc >> 4) ^ table[crc & 15]
            crc = (crc >> 4) ^ table[crc & 15]
        return crc


def crc16(data, start=0, end=None):
    """CRC16/ARC of data[start:end]."""
    return _crc16(data, start, len(data) if end is None else end)


def ascii_text(data):
    """bytes as str; bytes outside printable ASCII become "\\xNN" (never an error).
    Built as bytes: chr() would intern each character as a name for good, at any time
    (on MicroPython; py/modbuiltins.c), where a new pool of names may not find room."""
    for c in data:
        if not 32 <= c < 127:
            break
    else:  # the usual case: one str, no pieces
        return str(data, "ascii")
    out = bytearray()
    for c in data:
        if 32 <= c < 127:
            out.append(c)
        else:
            out.extend(("\\x%02x" % c).encode())
    return out.decode()


_MONTH_DAYS = const(b"\x1f\x1d\x1f\x1e\x1f\x1e\x1f\x1f\x1e\x1f\x1e\x1f")  # Feb: 29


def iso_time(text, winter="+01:00", summer="+02:00"):
    """YYMMDDhhmmss[S|W] -> ISO 8601 with the offset the flag implies (Luxembourg's by
    default).  None for what is not a date, and for the placeholders meters send for
    "no value yet": 632525252525W, all zeros, and any time on 1 January of 2000
    (000101...) or 1970 (700101..., the Unix epoch, which would read as 2070)."""
    digits, flag = text[:12], text[12:]
    if len(digits) != 12 or not digits.isdigit() or flag not in ("", "S", "W"):
        return None
    month, day = int(digits[2:4]), int(digits[4:6])
    if (
        not (
            1 <= month <= 12
            and 1 <= day <= _MONTH_DAYS[month - 1] - (month == 2 and int(digits[:2]) % 4 > 0)
            and digits[6:8] < "24"
            and digits[8:10] < "60"
            and digits[10:12] < "60"
        )
        or digits[2:6] == "0101"
        and digits[:2] in ("00", "70")
    ):
        return None
    return "20%s-%s-%sT%s:%s:%s%s" % (
        digits[0:2],
        digits[2:4],
        digits[4:6],
        digits[6:8],
        digits[8:10],
        digits[10:12],
        summer if flag == "S" else winter if flag == "W" else "",
    )


def number(text):
    """An int or Fixed of "[-]digits[.digits]"; None if text is not such a number."""
    whole, dot, fraction = (text[1:] if text[:1] == "-" else text).partition(".")
    if not whole.isdigit() or (dot and not fraction.isdigit()):
        return None
    return Fixed(text) if dot else int(text)


def raw_value(value):
    """A value as sent: its number (unit dropped) if it is one, else the text."""
    n = number(value.partition("*")[0])
    return value if n is None else n


def with_unit(value):
    """(number, unit or None) of "001234.567*kvarh" or "42"; (None, None) if value is not
    a number."""
    text, star, unit = value.partition("*")
    n = number(text)
    return (n, unit if star and unit else None) if n is not None else (None, None)


def list_item(value, unit=None):
    """One value of a several-valued object: a number (in `unit`, the reading's own),
    {"value": n, "unit": u} for a number the meter gave another unit (a power failure's
    240*s, a monthly peak's 03.564*kW), else the text as sent."""
    n, own = with_unit(value)
    if n is None:
        return value
    return {"value": n, "unit": own} if own and own != unit else n


def parse(buf, start=0, end=None, winter="+01:00", summer="+02:00"):
    """A Telegram from buf[start:end] ("/" ... "!CRC"); ChecksumError or ParseError."""
    if end is None:
        end = len(buf)
    if buf[start : start + 1] != b"/":
        raise ParseError(
            "not a DSMR telegram: it starts with " + ascii_text(bytes(buf[start : start + 8]))
        )
    bang = buf.rfind(b"!", start, end)
    if bang < 0:
        raise ParseError("telegram has no end mark '!'")
    crc = bytes(buf[bang + 1 : min(end, bang + 5)]).strip()
    if crc:
        try:
            given = int(crc, 16)
        except ValueError:
            raise ChecksumError("telegram CRC %s is not hex" % ascii_text(crc)) from None
        computed = crc16(buf, start, bang + 1)
        if computed != given:
            raise ChecksumError(
                "CRC mismatch: the telegram says %04X, its bytes give %04X "
                "(line noise or a corrupted frame)" % (given, computed)
            )
        crc = ascii_text(crc).upper()
    elif buf.find(b"1-3:0.2.8(", start, bang) >= 0 or buf.find(b"0-0:96.1.4(", start, bang) >= 0:
        raise ChecksumError("telegram has no CRC, but its DSMR version (4 or later) requires one")
    else:
        crc = None
    newline = buf.find(b"\n", start, bang)
    body = newline + 1 if newline >= 0 else bang
    header_end = body - 1 if newline >= 0 else bang
    if header_end > start and buf[header_end - 1] == 0x0D:
        header_end -= 1
    if newline < 0 or buf.find(b"(", body, bang) < 0:
        raise ParseError("telegram has no objects")
    telegram = Telegram(
        buf, body, bang, ascii_text(bytes(buf[start + 1 : header_end])), crc, (winter, summer)
    )
    # Read every line once now: a malformed telegram fails here, not half-way through a
    # consumer's loop.  And learn the M-Bus channels' device types (0-n:24.1.0).
    types = {}
    for code, values in telegram.lines():
        if code[:2] == "0-" and code[3:] == ":24.1.0" and values[0].isdigit():
            types[code[2]] = MBUS_DEVICES.get(int(values[0]), MBUS_UNKNOWN)
    names = [meter[0] for meter in types.values()]
    for channel, (name, unit, device_class) in types.items():
        if names.count(name) > 1 or name == "mbus":  # several gas meters: gas_1, gas_4
            name = "%s_%s" % (name, channel)
        telegram._channels[channel] = (name, unit, device_class)
    return telegram


class Telegram:
    def __init__(self, buf, body, bang, header, crc, offsets):
        self.header = header  # identification after "/", as text
        self.crc = crc  # as the meter sent it ("8B52"), None for DSMR 2.2/3
        self.system_title = None  # set by the Reader for encrypted frames
        self.frame_counter = None
        self._buf, self._body, self._bang = buf, body, bang
        self._offsets = offsets  # UTC offsets of winter and summer time
        self._channels = {}

    def raw(self, code):
        """The first value of object `code` as the meter wrote it ("000273.764*kWh"), or
        None: found in the telegram's bytes, without a pass over every line (each pass
        leaves a line's worth of objects per line for the collector)."""
        buf, end = self._buf, self._bang
        for suffix in (b"(", b"*255("):  # EasyMeter writes the default F group
            key = b"\n" + code.encode() + suffix
            at = buf.find(key, self._body - 1, end)
            if at >= 0:
                start = at + len(key)
                stop = buf.find(b")", start, end)
                if stop < 0:
                    return None
                value = bytes(buf[start:stop])
                try:
                    return str(value, "utf-8")
                except UnicodeError:
                    return ascii_text(value)
        return None

    def lines(self):
        """(code, [values]) for each object line; DSMR 3 continuation lines joined."""
        buf, pos, end = self._buf, self._body, self._bang
        current = None
        number_ = 1
        while pos < end:
            newline = buf.find(b"\n", pos, end)
            stop = end if newline < 0 else newline
            line = bytes(buf[pos : stop - 1 if stop > pos and buf[stop - 1] == 0x0D else stop])
            pos = stop + 1
            number_ += 1
            if not line:
                continue
            try:
                line = str(line, "utf-8")
            except UnicodeError:
                line = ascii_text(line)
            paren = line.find("(")
            if paren < 0 or line[-1] != ")":
                raise ParseError("line %d is not an OBIS object: %s" % (number_, line[:40]))
            values = line[paren + 1 : -1].split(")(")
            if paren == 0 and current is not None:  # DSMR 3: the value on the next line
                current[1].extend(values)
                continue
            if paren == 0:
                raise ParseError("line %d has no OBIS code: %s" % (number_, line[:40]))
            if current is not None:
                yield current
            code = line[:paren]
            if code.endswith("*255"):  # EasyMeter writes the default F group
                code = code[:-4]
            current = (code, values)
        if current is not None:
            yield current

    def readings(self):
        """A Reading for every reading, in telegram order.  Unknown codes are named by
        their code and kept raw."""
        seen = set()
        cursor = 0  # table position of the row before: telegram and table share an order
        for code, values in self.lines():
            row, channel = obis_row(code, cursor)
            if row is not None:
                cursor = row.end
            for reading in _readings(code, values, row, channel, self._channels, self._offsets):
                # Two objects with one name: keep both.  Only the table's equipment ids
                # share a name (test_dsmr checks): only they are remembered, a set of
                # every name would hold 60 strings through the loop (the ESP8266 heap).
                name = reading.name
                if name.endswith("equipment_id"):
                    if name in seen:
                        name += "_" + code.replace(":", "_").replace(".", "_").replace("-", "_")
                        reading = Reading(name, *reading[1:])
                    seen.add(name)
                yield reading

    def fields(self):
        return {r.name: r.value for r in self.readings()}

    def get(self, name, default=None):
        for r in self.readings():
            if r.name == name:
                return r.value
        return default


def obis_row(code, start=0):
    """(OBIS table row or None, M-Bus channel digit or None) of a code."""
    row = lookup(code, start)
    if row is None and code[:2] == "0-" and code[2:3] in "1234" and code[3:4] == ":":
        return lookup("0-n" + code[3:], start), code[2]
    return row, None


def _readings(code, values, row, channel, channels, offsets):
    """The readings (one, or a number and its timestamp) of one object line."""
    if row is None:  # unknown: named by its code, kept as sent with the meter's unit
        if len(values) > 1:
            return (Reading(code, [list_item(v) for v in values], None, None, None, code),)
        value, unit = with_unit(values[0])
        if value is None:
            return (Reading(code, values[0], None, None, None, code),)
        return (Reading(code, value, unit, UNIT_CLASS.get(unit), None, code),)
    name, unit, kind = row.name, row.unit, row.kind
    if channel is not None:
        meter = channels.get(channel) or ("mbus_" + channel, None, None)
        if kind in ("mbus", "mbus3"):
            name, unit = meter[0], meter[1]
        else:
            name = meter[0] + "_" + name
    if kind == "time":
        return (Reading(name, iso_time(values[0], *offsets), None, "timestamp", None, code),)
    if kind == "hex":
        try:
            text = ascii_text(unhexlify(values[0]))
        except ValueError:  # not hex after all: as sent
            text = values[0]
        return (Reading(name, text, None, None, None, code),)
    if kind == "text":
        return (Reading(name, values[0], None, None, None, code),)
    if kind == "list":
        return (Reading(name, [list_item(v, unit) for v in values], unit, None, None, code),)
    # a number; event, mbus, mbus3 also a timestamp (DSMR 3: unit, then number)
    if kind == "mbus3" and len(values) >= 3:
        unit = values[-2] or unit
    text, star, meter_unit = values[-1].partition("*")
    unit = meter_unit if star else unit
    value = number(text)
    if value is None:  # kept as sent, never an error
        reading = Reading(name, values[-1], unit, None, None, code)
    else:
        device_class = meter[2] if channel is not None and kind[0] == "m" else UNIT_CLASS.get(unit)
        reading = Reading(name, value, unit, device_class, STATE_CLASS.get(kind), code)
    if kind in ("event", "mbus", "mbus3"):
        return (
            reading,
            Reading(
                name + "_timestamp", iso_time(values[0], *offsets), None, "timestamp", None, code
            ),
        )
    return (reading,)
