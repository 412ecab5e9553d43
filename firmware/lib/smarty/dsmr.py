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
# A Telegram is a view over the bytes it was parsed from (checked once, in full, by
# parse()); its readings are produced on demand as tuples
#   (name, value, unit, device class, state class, code)
# so that a telegram costs no more memory than its bytes.  It is valid as long as
# those bytes are: the Reader's next feed() reuses them.

from .errors import ChecksumError, ParseError
from .obis import MBUS_DEVICES, MBUS_UNKNOWN, STATE_CLASS, UNIT_CLASS, lookup
from .values import Fixed



def _crc_nibble(n):
    for _ in range(4):
        n = (n >> 1) ^ 0xA001 if n & 1 else n >> 1
    return n


# CRC16/ARC four bits at a time: a table of 16 entries instead of 256.
_CRC_NIBBLE = tuple(_crc_nibble(n) for n in range(16))


def crc16(data, start=0, end=None):
    """CRC16/ARC of data[start:end]."""
    table = _CRC_NIBBLE
    crc = 0
    for i in range(start, len(data) if end is None else end):
        crc ^= data[i]
        crc = (crc >> 4) ^ table[crc & 15]
        crc = (crc >> 4) ^ table[crc & 15]
    return crc


def ascii_text(data):
    """data as str; bytes outside printable ASCII become "\\xNN" (never a decode error)."""
    try:
        text = str(data, "ascii") if not isinstance(data, str) else data
        if all(" " <= c <= "~" for c in text):
            return text
    except UnicodeError:
        pass
    return "".join(chr(c) if 32 <= c < 127 else "\\x%02x" % c for c in bytes(data))


def decode_hex_text(text):
    """Hex-encoded text ("5341..." -> "SA..."), or text itself if it is not hex."""
    if len(text) % 2 or not all(c in "0123456789abcdefABCDEF" for c in text):
        return text
    return ascii_text(bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2)))


def iso_time(text, winter="+01:00", summer="+02:00"):
    """YYMMDDhhmmss[S|W] -> ISO 8601 with the offset the flag implies (Luxembourg's by
    default); None for placeholders such as 632525252525S or 000101000000W."""
    digits, flag = text[:12], text[12:]
    if len(digits) != 12 or not digits.isdigit() or flag not in ("", "S", "W"):
        return None
    month, day = int(digits[2:4]), int(digits[4:6])
    hour, minute, second = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60):
        return None
    if digits == "000101000000":
        return None
    offset = summer if flag == "S" else winter if flag == "W" else ""
    return "20%s-%s-%sT%s:%s:%s%s" % (digits[0:2], digits[2:4], digits[4:6], digits[6:8],
                                      digits[8:10], digits[10:12], offset)


def is_number(text):
    """True for [-]digits[.digits]: what a meter writes as a number."""
    if text[:1] == "-":
        text = text[1:]
    whole, dot, fraction = text.partition(".")
    return whole.isdigit() and (not dot or fraction.isdigit())


def raw_value(value):
    """A value as sent: a number (unit dropped) if it is one, else the text."""
    number, _, _ = value.partition("*")
    if number and is_number(number):
        return Fixed(number) if "." in number else int(number)
    return value


def check_crc(buf, start, end):
    """Position of the "!" and the CRC text ("8B52", None for DSMR 2.2/3 telegrams,
    which have none) of the telegram buf[start:end]; ChecksumError on a mismatch."""
    bang = buf.rfind(b"!", start, end)
    if bang < 0:
        raise ParseError("telegram has no end mark '!'")
    given = bytes(buf[bang + 1 : min(end, bang + 5)]).strip()
    if not given:
        if buf.find(b"1-3:0.2.8(", start, bang) >= 0 or buf.find(b"0-0:96.1.4(", start, bang) >= 0:
            raise ChecksumError("telegram has no CRC, but its DSMR version (4 or later) requires one")
        return bang, None
    try:
        expected = int(given, 16)
    except ValueError:
        raise ChecksumError("telegram CRC %s is not hex" % ascii_text(given)) from None
    computed = crc16(buf, start, bang + 1)
    if computed != expected:
        raise ChecksumError("CRC mismatch: the telegram says %04X, its bytes give %04X "
                            "(line noise or a corrupted frame)" % (expected, computed))
    return bang, ascii_text(given).upper()


def parse(buf, start=0, end=None, winter="+01:00", summer="+02:00"):
    """A Telegram from buf[start:end] ("/" ... "!CRC"); ChecksumError or ParseError."""
    if end is None:
        end = len(buf)
    if buf[start : start + 1] != b"/":
        raise ParseError("not a DSMR telegram: it starts with %s"
                         % ascii_text(bytes(buf[start : start + 8])))
    bang, crc = check_crc(buf, start, end)
    newline = buf.find(b"\n", start, bang)
    body = newline + 1 if newline >= 0 else bang
    header_end = body - 1 if newline >= 0 else bang
    if header_end > start and buf[header_end - 1] == 0x0D:
        header_end -= 1
    telegram = Telegram(buf, body, bang, ascii_text(bytes(buf[start + 1 : header_end])), crc,
                        winter, summer)
    telegram._check()
    return telegram


class Telegram:
    def __init__(self, buf, body, bang, header, crc, winter, summer):
        self.header = header  # identification after "/", as text
        self.crc = crc  # as the meter sent it ("8B52"), None for DSMR 2.2/3
        self.system_title = None  # set by the Reader for encrypted frames
        self.frame_counter = None
        self._buf, self._body, self._bang = buf, body, bang
        self._offsets = (winter, summer)
        self._channels = {}

    def lines(self):
        """(code, [values]) for each object line; DSMR 3 continuation lines joined."""
        buf, pos, end = self._buf, self._body, self._bang
        current = None
        number = 1
        while pos < end:
            newline = buf.find(b"\n", pos, end)
            stop = end if newline < 0 else newline
            line_end = stop - 1 if stop > pos and buf[stop - 1] == 0x0D else stop
            line = ascii_text(bytes(buf[pos:line_end]))
            pos = stop + 1
            number += 1
            if not line:
                continue
            if line[0] == "(" and current is not None:  # DSMR 3: value on the next line
                current[1].extend(_values(line, number))
                continue
            paren = line.find("(")
            if paren <= 0:
                raise ParseError("line %d is not an OBIS object: %s" % (number, line[:40]))
            if current is not None:
                yield current
            code = line[:paren]
            if code.endswith("*255"):  # EasyMeter writes the default F group
                code = code[:-4]
            current = (code, _values(line[paren:], number))
        if current is not None:
            yield current

    def _check(self):
        """Reads every line once: a malformed telegram fails here, not half-way through
        a consumer's loop.  Also learns the M-Bus channels' device types."""
        types = {}
        for code, values in self.lines():
            if code[:2] == "0-" and code[3:] == ":24.1.0" and values[0].isdigit():
                types[code[2]] = MBUS_DEVICES.get(int(values[0]), MBUS_UNKNOWN)
        names = [meter[0] for meter in types.values()]
        for channel, (name, unit, device_class) in types.items():
            if names.count(name) > 1 or name == "mbus":  # several gas meters: gas_1, gas_4
                name = "%s_%s" % (name, channel)
            self._channels[channel] = (name, unit, device_class)

    def readings(self):
        """(name, value, unit, device class, state class, code) for every reading, in
        telegram order.  Unknown codes are named by their code and kept raw."""
        seen = set()
        for code, values in self.lines():
            for reading in _readings(code, values, self._channels, self._offsets):
                name = reading[0]
                if name in seen:  # two objects with one name: keep both
                    name += "_" + "".join(c if c.isdigit() else "_" for c in code)
                    reading = (name,) + reading[1:]
                seen.add(name)
                yield reading

    def fields(self):
        return {r[0]: r[1] for r in self.readings()}

    def get(self, name, default=None):
        for r in self.readings():
            if r[0] == name:
                return r[1]
        return default


def _values(text, line_number):
    if text[-1] != ")":
        raise ParseError("line %d does not end with ')': %s" % (line_number, text[-40:]))
    return text[1:-1].split(")(")


def obis_row(code):
    """(OBIS row or None, M-Bus channel digit or None) of a code."""
    row = lookup(code)
    if row is None and code[:2] == "0-" and code[2:3] in "1234" and code[3:4] == ":":
        return lookup("0-n" + code[3:]), code[2]
    return row, None


def _number(name, value, unit, device_class, state_class, code):
    number, star, meter_unit = value.partition("*")
    unit = meter_unit if star else unit
    if not is_number(number):  # kept as sent, never an error
        return (name, value, unit, None, None, code)
    return (name, Fixed(number) if "." in number else int(number), unit,
            device_class or UNIT_CLASS.get(unit), state_class, code)


def _readings(code, values, channels, offsets):
    entry, channel = obis_row(code)
    if entry is None:  # unknown: kept raw, named by its code
        value = raw_value(values[0]) if len(values) == 1 else [raw_value(v) for v in values]
        yield (code, value, None, None, None, code)
        return
    name, unit, kind = entry[1:]
    device_class = "timestamp" if kind == "time" else None
    state_class = STATE_CLASS.get(kind)
    if channel is not None:
        meter, meter_unit, meter_class = channels.get(channel) or ("mbus_" + channel, None, None)
        if kind in ("mbus", "mbus3"):
            name, unit, device_class = meter, meter_unit, meter_class
        else:
            name = meter + "_" + name
    if kind in ("total", "measure", "number"):
        yield _number(name, values[-1], unit, device_class, state_class, code)
    elif kind == "time":
        yield (name, iso_time(values[0], *offsets), None, device_class, None, code)
    elif kind == "hex":
        yield (name, decode_hex_text(values[0]), None, None, None, code)
    elif kind == "text":
        yield (name, values[0], None, None, None, code)
    elif kind == "list":
        yield (name, [raw_value(v) for v in values], unit, None, None, code)
    else:  # event, mbus, mbus3: a timestamp and a number (DSMR 3: unit, then number)
        if kind == "mbus3" and len(values) >= 3:
            unit = values[-2] or unit
        yield _number(name, values[-1], unit, device_class, state_class, code)
        yield (name + "_timestamp", iso_time(values[0], *offsets), None, "timestamp", None, code)
