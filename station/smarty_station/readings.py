# A reading as the station keeps it, and the payloads it comes from: the firmware's
# <topic>/state JSON and the legacy (weigu SmartyReader) payload.  Values stay exact:
# the meter's decimal digits become scaled integers (Wh, W, litres), never floats.

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

SCALE = 1000  # kWh -> Wh, kW -> W, m³ -> litres: the meter's three decimals, exactly


class PayloadError(ValueError):
    """A payload the station cannot store (counted and logged by the collector)."""


@dataclass(frozen=True)
class Reading:
    meter: str
    ts: int  # UTC, seconds since the epoch (the meter's own timestamp)
    utc_offset: int  # minutes east of UTC (the meter's S/W flag)
    energy_import: int | None  # Wh
    energy_export: int | None  # Wh
    power_import: int | None  # W
    power_export: int | None  # W
    gas: int | None = None  # litres

    @property
    def local(self):
        """The meter's local time, a naive datetime."""
        return datetime.fromtimestamp(self.ts, timezone.utc).replace(tzinfo=None) + timedelta(
            minutes=self.utc_offset
        )

    @property
    def day(self):
        return self.local.date()


def scaled(value, name):
    """A JSON number (a Decimal, or an int) as an exact integer in thousandths."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise PayloadError(f"{name} is not a number: {value!r}")
    thousandths = Decimal(value) * SCALE
    if thousandths != thousandths.to_integral_value():
        raise PayloadError(f"{name} has more than three decimals: {value}")
    return int(thousandths)


def digits(value):
    """Thousandths as the meter's decimal digits: 17901 -> "17.901"."""
    if value is None:
        return ""
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), SCALE)
    return f"{sign}{whole}.{fraction:03d}"


def _timestamp(text):
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise PayloadError(f"timestamp is not an ISO 8601 time: {text!r}") from None
    if moment.utcoffset() is None:
        raise PayloadError(f"timestamp has no UTC offset: {text!r}")
    return int(moment.timestamp()), int(moment.utcoffset().total_seconds() // 60)


def from_state(payload):
    """A Reading from the firmware's <topic>/state JSON (bytes)."""
    try:
        state = json.loads(payload, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as e:
        raise PayloadError(f"not JSON: {e}") from None
    if not isinstance(state, dict):
        raise PayloadError("not a JSON object")
    meter = state.get("equipment_id")
    if not isinstance(meter, str) or not meter:
        raise PayloadError("no equipment_id")
    if "timestamp" not in state:
        raise PayloadError("no timestamp")
    ts, offset = _timestamp(state["timestamp"])
    values = {
        name: scaled(state.get(name), name)
        for name in ("energy_import", "energy_export", "power_import", "power_export", "gas")
    }
    if values["energy_import"] is None and values["energy_export"] is None:
        raise PayloadError("neither energy_import nor energy_export")
    return Reading(meter, ts, offset, **values)


def _legacy_energy(text, name):
    number = text.removesuffix("*kWh") if isinstance(text, str) else None
    if not number:
        return None
    try:
        return scaled(Decimal(number), name)
    except InvalidOperation:
        raise PayloadError(f"{name} is not a number: {text!r}") from None


def from_legacy(payload, meter):
    """A Reading from the legacy payload {"dt": "230315155344W", "c1": "000017.901*kWh",
    "p1": ...}; None for its notices ("connected: ...", "error: ...")."""
    try:
        message = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise PayloadError(f"not JSON: {e}") from None
    if not isinstance(message, dict) or not isinstance(message.get("dt"), str):
        raise PayloadError("no dt")
    stamp = message["dt"]
    if stamp[:1] in ("c", "e"):
        return None
    if len(stamp) != 13 or not stamp[:12].isdigit() or stamp[12] not in "SW":
        raise PayloadError(f"dt is not a meter timestamp: {stamp!r}")
    offset = 120 if stamp[12] == "S" else 60
    try:
        local = datetime.strptime(stamp[:12], "%y%m%d%H%M%S")
    except ValueError:
        raise PayloadError(f"dt is not a meter timestamp: {stamp!r}") from None
    ts = int((local - timedelta(minutes=offset)).replace(tzinfo=timezone.utc).timestamp())
    energy_import = _legacy_energy(message.get("c1"), "c1")
    energy_export = _legacy_energy(message.get("p1"), "p1")
    if energy_import is None and energy_export is None:
        raise PayloadError("neither c1 nor p1")
    return Reading(meter, ts, offset, energy_import, energy_export, None, None)
