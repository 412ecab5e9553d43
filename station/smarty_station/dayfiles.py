# Day files as the seed's subscriber wrote them, so that its gnuplot template still
# works: one file per local day, `YYYY_MM_DD.min` in the day-files folder, a line per
# reading `dd.mm.yy HH:MM:SS energy energy_today power` (energy: the import register in
# kWh; energy_today: kWh since local midnight; power: the meter's import power in W).
# When a reading of a new day arrives, the earlier days' files move to the archive.

import logging
import os
from pathlib import Path

from .readings import digits

log = logging.getLogger(__name__)


def file_name(day):
    return day.strftime("%Y_%m_%d") + ".min"


def line(reading, energy_today):
    power = "" if reading.power_import is None else str(reading.power_import)
    fields = (
        reading.local.strftime("%d.%m.%y %H:%M:%S"),
        digits(reading.energy_import),
        digits(energy_today),
        power or "0",
    )
    return " ".join(fields) + "\n"


class DayFiles:
    def __init__(self, folder, archive=None):
        self.folder = Path(folder)
        self.archive = Path(archive) if archive else None
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.archive:
            self.archive.mkdir(parents=True, exist_ok=True)
        self.newest = None  # the newest day written

    def append(self, reading, energy_today):
        day = reading.day
        if self.newest is None or day > self.newest:
            self.newest = day
            self.rotate(day)
        with open(self.folder / file_name(day), "a") as f:
            f.write(line(reading, energy_today))

    def rotate(self, today):
        """Moves the files of days before `today` to the archive folder."""
        if not self.archive:
            return
        current = file_name(today)
        for path in sorted(self.folder.glob("????_??_??.min")):
            if path.name < current:
                target = self.archive / path.name
                if target.exists():  # a day written again after it was archived: add to it
                    with open(target, "a") as out:
                        out.write(path.read_text())
                    path.unlink()
                else:
                    os.replace(path, target)
                log.info("archived the day file %s", path.name)
