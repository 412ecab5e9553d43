# The SmartyReader firmware's device runtime around the P1 core (smarty): hardware
# (hw), network (net), MQTT (broker, publish), configuration (config), the main loop
# (app), the setup shell (shell, setup) and start-up (start).

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
