# The energy-today baselines of a meter kept in a file beside config.json (today.txt,
# today-2.txt ...): its id, then a line per register, "<field> <date> <value>".  Written
# when a baseline is taken (once a day), read at the first telegram after a reset, so
# that a reset or a power cut does not set the day's energy back to zero.  Loaded for
# the job and dropped after (receiver._today()).

from smarty.values import Fixed

from . import log, write_whole


def read(path):
    """(meter, {field: (date, value)}): the energy-today baselines keep() left
    in path before a reset, or None (no file, or not a whole one)."""
    try:
        with open(path) as f:
            meter, kept = f.readline().strip(), {}
            for line in f:
                name, date, value = line.split()
                value = Fixed(value)
                value.scaled(3)  # a number: ValueError if not
                kept[name] = (date, value)
        return meter, kept
    except (OSError, ValueError):
        return None


def keep(path, payloads):
    """Writes payloads' meter and energy-today baselines to path (once a day), so that
    a reset does not start the day's energy from zero."""
    lines = [payloads.meter + "\n"]
    for name, (date, value) in payloads.baselines.items():
        lines.append("%s %s %s\n" % (name, date, value))
    try:
        write_whole(path, "".join(lines))
    except OSError as e:  # a full filesystem: they are kept in RAM, as before
        log("cannot keep the energy-today baselines in %s (%s)" % (path, e))
