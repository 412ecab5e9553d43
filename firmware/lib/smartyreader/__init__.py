# The SmartyReader firmware's device runtime around the P1 core (smarty): hardware
# (hw), network (net), MQTT (broker, publish, discovery), configuration (config), the
# meter reader (app: receiver, publisher, queue), the setup shell (shell, setup),
# start-up (start, boot, assemble).

import time

_line = None  # a transmit-only UART the log also goes to (log.tx), or None
_ticks = None  # time.ticks_ms() when uptime_s() last looked
_seconds = _ms = 0  # the uptime so far: whole seconds, and the milliseconds carried


def log(message):
    print("smartyreader: " + message)
    if _line is not None:
        _line.write("smartyreader: " + message + "\r\n")


def beside(config_path, name):
    """A file of the firmware's own (queue, counters, sensors...) in the directory
    config.json is in."""
    slash = config_path.rfind("/")
    return config_path[: slash + 1] + name


def write_whole(path, text):
    """Writes text to path whole or not at all: a complete temporary file, then a rename,
    so a reset in the middle leaves the old file.  Where the filesystem cannot rename
    over a file (FAT), the old one is removed first; the temporary is complete by then.
    OSError (a full filesystem) to the caller."""
    import os

    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        f.write(text)
    try:
        os.rename(temporary, path)
    except OSError:
        os.remove(path)
        os.rename(temporary, path)


def log_to(uart):
    """Sends the log to `uart` as well (the only way to watch a board whose console
    UART is the meter's line)."""
    global _line
    _line = uart


def uptime_s():
    """Whole seconds since the first call (the reader's start), for what may last days:
    the uptime, a meter's silence, a WiFi outage.  Not time.ticks_ms() itself: it wraps
    every 2**30 ms (12.4 days) on the ESP ports, and ticks_diff() spans only half of
    that, so an uptime of a week would come out negative.  Adds up the ticks between
    calls: called more often than every 6 days (each meter's loop calls it on every
    read), it never wraps (a small int for 34 years)."""
    global _ticks, _seconds, _ms
    now = time.ticks_ms()
    if _ticks is not None:
        _ms += time.ticks_diff(now, _ticks)
    _ticks = now
    _seconds += _ms // 1000
    _ms %= 1000
    return _seconds


def forget(name):
    """Drops a module that is done with (`import` brings it back): its code is heap when
    the application runs from .mpy files in RAM."""
    import sys

    sys.modules.pop(name, None)
    package, _, attribute = name.rpartition(".")
    parent = sys.modules.get(package)
    if parent is not None and attribute in parent.__dict__:
        delattr(parent, attribute)
