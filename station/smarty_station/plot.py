# The pictures, with matplotlib (Agg, no display): a day's power (import and export)
# and energy since midnight; a month's energy per day as bars.  Sized for a phone
# (about 1000 px wide, large type).  Returns PNG bytes.

import io
from calendar import monthrange
from datetime import date, datetime, time

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

_STYLE = {"font.size": 15, "axes.titlesize": 17, "axes.grid": True, "grid.alpha": 0.3}


def _png(figure):
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    return out.getvalue()


def day_png(day, readings, baseline):
    """The day's power (kW) and energy since midnight (kWh); `baseline`: the (import,
    export) registers at midnight."""
    with matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=(10, 8), layout="constrained")
        power, energy = figure.subplots(2, 1, sharex=True)
        times = [r.local for r in readings]
        for axis in (power, energy):
            axis.set_xlim(datetime.combine(day, time()), datetime.combine(day, time(23, 59, 59)))
        power.plot(times, [(r.power_import or 0) / 1000 for r in readings], label="import")
        power.plot(times, [(r.power_export or 0) / 1000 for r in readings], label="export")
        power.set_ylim(bottom=0)
        power.set_ylabel("power (kW)")
        power.set_title(f"{day.isoformat()}: power")
        power.legend(loc="upper left")
        for index, label in ((0, "import"), (1, "export")):
            base = baseline[index]
            values = [
                (reg - base) / 1000 if reg is not None and base is not None else None
                for reg in (r.energy_import if index == 0 else r.energy_export for r in readings)
            ]
            energy.plot(times, [float("nan") if v is None else v for v in values], label=label)
        energy.set_ylabel("energy today (kWh)")
        energy.legend(loc="upper left")
        energy.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
        energy.xaxis.set_major_locator(mdates.HourLocator(interval=3))
        if not readings:
            power.text(0.5, 0.5, "no readings", transform=power.transAxes, ha="center")
        return _png(figure)


def month_png(month, days):
    """Bars of energy per day (kWh, import and export); `days` as Store.days() gives."""
    first = date(month.year, month.month, 1)
    count = monthrange(first.year, first.month)[1]
    by_day = {d[0].day: d for d in days}
    numbers = list(range(1, count + 1))
    imports = [(by_day[n][1] or 0) / 1000 if n in by_day else 0 for n in numbers]
    exports = [(by_day[n][2] or 0) / 1000 if n in by_day else 0 for n in numbers]
    with matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=(10, 6), layout="constrained")
        axis = figure.subplots()
        axis.bar([n - 0.2 for n in numbers], imports, width=0.4, label="import")
        axis.bar([n + 0.2 for n in numbers], exports, width=0.4, label="export")
        axis.set_xlim(0.4, count + 0.6)
        axis.set_xticks([n for n in numbers if n == 1 or n % 5 == 0])
        axis.set_ylabel("energy (kWh)")
        axis.set_title(first.strftime("%B %Y: energy per day"))
        axis.legend(loc="upper left")
        return _png(figure)
