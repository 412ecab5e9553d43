# The SmartyReader firmware's device runtime around the P1 core (smarty): hardware
# (hw), network (net), MQTT (broker, publish, discovery), configuration (config), the
# meter reader (app: receiver, publisher, queue), the setup shell (shell, setup),
# start-up (start, boot, assemble).

_line = None  # a transmit-only UART the log also goes to (log.tx), or None


def log(message):
    print("smartyreader: " + message)
    if _line is not None:
        _line.write("smartyreader: " + message + "\r\n")


def beside(config_path, name):
    """A file of the firmware's own (queue, counters, sensors...) in the directory
    config.json is in."""
    slash = config_path.rfind("/")
    return config_path[: slash + 1] + name


def log_to(uart):
    """Sends the log to `uart` as well (the only way to watch a board whose console
    UART is the meter's line)."""
    global _line
    _line = uart


def forget(name):
    """Drops a module that is done with (`import` brings it back): its code is heap when
    the application runs from .mpy files in RAM."""
    import sys

    sys.modules.pop(name, None)
    package, _, attribute = name.rpartition(".")
    parent = sys.modules.get(package)
    if parent is not None and attribute in parent.__dict__:
        delattr(parent, attribute)
