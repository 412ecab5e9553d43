# What the pages, the CSV and the mail say about readings: pure functions of what the
# store returns.  Numbers are written with the meter's digits (readings.digits).

from datetime import timedelta

from .readings import digits

CSV_HEADER = (
    "timestamp,energy_import_kwh,energy_export_kwh,power_import_kw,power_export_kw,gas_m3\n"
)


def iso(reading):
    offset = reading.utc_offset
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset), 60)
    return reading.local.isoformat() + f"{sign}{hours:02d}:{minutes:02d}"


def csv_text(lines):
    """The day's CSV from its lines (Store.day_csv)."""
    return CSV_HEADER + "".join(lines)


def since(register, base):
    return None if register is None or base is None else register - base


def latest(reading, baseline):
    """The newest reading as the page shows it (text, exact)."""
    if reading is None:
        return {"meter": None}
    net = None
    if reading.power_import is not None and reading.power_export is not None:
        net = reading.power_import - reading.power_export
    return {
        "meter": reading.meter,
        "timestamp": iso(reading),
        "day": reading.day.isoformat(),
        "energy_import": digits(reading.energy_import),
        "energy_export": digits(reading.energy_export),
        "power_import": digits(reading.power_import),
        "power_export": digits(reading.power_export),
        "net_power": digits(net),
        "gas": digits(reading.gas),
        "energy_import_today": digits(since(reading.energy_import, baseline[0])),
        "energy_export_today": digits(since(reading.energy_export, baseline[1])),
    }


def day_totals(summary, baseline):
    """The day's energy (Wh), peak powers (W) and reading count (Store.day_summary), for
    pages and mail."""
    count, peak_import, peak_export, last = summary
    return {
        "readings": count,
        "energy_import": since(last and last.energy_import, baseline[0]),
        "energy_export": since(last and last.energy_export, baseline[1]),
        "peak_import": peak_import,
        "peak_export": peak_export,
        "last": iso(last) if last else None,
    }


def totals_text(meter, day, totals):
    return (
        f"Smarty {meter}, {day.isoformat()}\n\n"
        f"energy imported: {digits(totals['energy_import'])} kWh\n"
        f"energy exported: {digits(totals['energy_export'])} kWh\n"
        f"peak import power: {digits(totals['peak_import'])} kW\n"
        f"peak export power: {digits(totals['peak_export'])} kW\n"
        f"readings: {totals['readings']} (the last at {totals['last']})\n"
    )


def neighbours(day):
    return day - timedelta(days=1), day + timedelta(days=1)
