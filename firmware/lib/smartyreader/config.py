# config.json: loaded and checked at boot, with a message a user understands for every
# bad or missing key.  Secrets (meter key, passwords) are never printed: show() masks
# them and no message repeats a value of theirs.
#
# Keys are written "section.name"; a board description (board.json) gives the uart,
# data_request and status_led defaults, which config.json may override.
#
# Several meters: a "meters" list, each entry a meter's own key, line and topic
#   {"key": "...", "auth_key": "...", "uart": {...}, "data_request": {...},
#    "topic": "...", "name": "...", "legacy_topic": "..."}
# (its keys written meters.N.key, meters.N.uart.rx, ...; N from 1).  Without it, the
# top-level meter, uart and data_request keys are a list of one.
#
# Two views of one config: merge()'s flat one, {"mqtt.host": ...}, is the keys as a user
# writes them (the setup shell's set and show, the messages); validate()'s sections()
# is what the firmware runs on, each section handed whole to the part it configures:
# {"mqtt": {"host": ...}, "wifi": {...}, ..., "meters": [{"key": ..., "uart": {...},
# "data_request": {...}, "topic": ...}]}.

import json
import os

REQUIRED = ("meter.key", "mqtt.host")  # without them (or a meters list) the reader cannot run
SECRETS = ("meter.key", "meter.auth_key", "wifi.password", "mqtt.password", "setup.password")
_PIN = (0, 48)

# key, default, check: "hex", "text", "topic", "bool", "address", "hostname" or
# (low, high), a whole number from low to high.  All constants: frozen into the image,
# the schema costs no heap.
SCHEMA = (
    ("meter.key", None, "hex"),
    ("meter.auth_key", None, "hex"),
    ("wifi.ssid", None, "text"),
    ("wifi.password", None, "text"),
    ("wifi.hostname", "SmartyReader", "hostname"),  # the name the router shows
    ("wifi.ip", None, "address"),  # a fixed address (with netmask, gateway, dns), not DHCP
    ("wifi.netmask", None, "address"),
    ("wifi.gateway", None, "address"),
    ("wifi.dns", None, "address"),
    # minutes without the home WiFi before setup mode stands in for it (the way back in
    # after a WiFi password change), until it is back or 5 min pass without a session;
    # twice as long before the next time (up to 16 times); 0: never
    ("wifi.fallback_min", 10, (0, 1440)),
    ("mqtt.host", None, "text"),
    ("mqtt.port", None, (1, 65535)),  # 1883, or 8883 with TLS
    ("mqtt.topic", "smartyreader", "topic"),
    ("mqtt.user", None, "text"),
    ("mqtt.password", None, "text"),
    ("mqtt.tls", False, "bool"),
    ("mqtt.ca", None, "text"),  # CA certificate file (PEM or DER) to verify the broker
    ("mqtt.client_id", None, "text"),
    ("mqtt.keepalive", 60, (0, 3600)),
    ("mqtt.discovery", True, "bool"),
    ("mqtt.discovery_prefix", "homeassistant", "topic"),
    ("mqtt.per_field", False, "bool"),
    ("mqtt.legacy", False, "bool"),
    ("mqtt.legacy_topic", None, "topic"),
    ("uart.device", None, "text"),  # a serial device or pty (host, Linux) instead of a UART
    ("uart.id", None, (0, 2)),
    ("uart.rx", None, _PIN),
    ("uart.tx", None, _PIN),
    ("uart.baudrate", 115200, (1200, 921600)),
    ("uart.invert", False, "bool"),
    ("uart.rxbuf", 2048, (256, 16384)),
    ("uart.detach_repl", False, "bool"),
    ("data_request.pin", None, _PIN),
    ("data_request.active_low", False, "bool"),
    ("status_led.pin", None, _PIN),
    ("status_led.active_low", False, "bool"),
    ("setup_button.pin", None, _PIN),
    ("setup.password", None, "text"),
    ("setup.station_shell", False, "bool"),  # the setup shell also on the home network
    ("setup.port", 23, (1, 65535)),
    ("buffer.readings", 8640, (1, 100000)),  # on flash: 24 h of readings
    ("buffer.frame_bytes", 2048, (1300, 8192)),
    ("diag.interval", 60, (5, 3600)),
    # the log on a transmit-only UART: ESP8266 GPIO2 (UART1's TX, D4), ESP32 any output
    # pin (UART2); the status LED leaves that pin
    ("log.tx", None, _PIN),
    ("log.baudrate", 115200, (1200, 921600)),
    ("name", None, "text"),  # the device's name in Home Assistant (default: Smarty <meter id>)
)


def _value_problem(check, value):
    """What is wrong with value for a check of the schema's, or None."""
    if type(check) is tuple:  # type(): true and false are not numbers here
        ok = type(value) is int and check[0] <= value <= check[1]
        return None if ok else "must be a whole number from %d to %d" % check
    if check == "bool":
        return None if value is True or value is False else "must be true or false"
    if check == "hex":
        digits = "".join(c for c in str(value) if c not in " :-")
        if len(digits) == 32 and all(c in "0123456789abcdefABCDEF" for c in digits):
            return None
        return "must be 32 hex digits (16 bytes, as your grid operator gives it)"
    text = isinstance(value, str) and value != ""
    if check == "text":
        return None if text else "must be a non-empty text"
    if check == "topic":
        if text and "#" not in value and "+" not in value:
            return None
        return "must be an MQTT topic without wildcards (# +)"
    if check == "address":
        parts = value.split(".") if text else ()
        if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts):
            return None
        return "must be an IPv4 address such as 192.168.1.50"
    ok = text and len(value) <= 32  # "hostname"
    for c in value if ok else ():
        ok = ok and ("a" <= c.lower() <= "z" or "0" <= c <= "9" or c == "-")
    return None if ok else "must be up to 32 letters, digits and hyphens"


def _pin(value):
    """What is wrong with value as a GPIO number, or None."""
    return _value_problem(_PIN, value)


def _check(key):
    """The schema's check of a key, or None for a key it does not have.  A search, not
    a dict: on an ESP8266 the dict would be heap the station shell needs."""
    if key[:7] == "meters.":
        number, _, name = key[7:].partition(".")
        return _entry_check(name) if number.isdigit() and 0 < int(number) < 100 else None
    for entry in SCHEMA:
        if entry[0] == key:
            return entry[2]
    return None


# Meters a board reads at once: its receiving UARTs (the ESP8266 has UART0 only; the
# ESP32's UART0 is the console, UART1 and UART2 are free); a host has no limit.
_MAX_METERS = {"esp8266": 1, "esp32": 2}


def _entry_check(name):
    if name in ("key", "auth_key"):
        return "hex"
    if name in ("topic", "legacy_topic"):
        return "topic"
    if name == "name":
        return "text"
    if name[:5] == "uart." or name[:13] == "data_request.":
        return _check(name)
    return None


def _line_keys(values):
    """The uart.* and data_request.* items of a flat dict."""
    return [(k, v) for k, v in values.items() if k[:5] == "uart." or k[:13] == "data_request."]


class ConfigError(ValueError):
    def __init__(self, problems):
        self.problems = problems
        super().__init__("config.json: " + "; ".join(problems))


def parse(key, text):
    """The value `set key text` means: the text as the schema takes it (a number, true or
    false, or the text itself); "null" or nothing clears it.  ConfigError if invalid."""
    check = _check(key)
    if check is None:
        raise ConfigError([_unknown(key)])
    text = text.strip()
    if text in ("", "null"):
        return None
    candidates = [text]
    if text.lstrip("-").isdigit():
        candidates.append(int(text))
    word = text.lower()
    if word in ("true", "yes", "on", "false", "no", "off"):
        candidates.append(word in ("true", "yes", "on"))
    message = None
    for value in candidates:
        message = _value_problem(check, value)
        if message is None:
            return value
    shown = "" if key in SECRETS else ", not %s" % text
    raise ConfigError(["%s %s%s" % (key, message, shown)])


def _flatten(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, prefix + key + "."))
        else:
            out[prefix + key] = value
    return out


def _distance(a, b):
    """Edit distance (insertions, deletions, substitutions, adjacent swaps), up to 3."""
    if abs(len(a) - len(b)) > 2:
        return 3
    previous2, previous = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[-1]


def _unknown(key):
    hint = _closest(key)
    return "unknown key %s%s" % (key, " (did you mean %s?)" % hint if hint else "")


def _closest(key):
    """The known key one or two typing slips away from key, for "did you mean"."""
    prefix, known = "", [entry[0] for entry in SCHEMA]
    if key[:7] == "meters.":  # an entry's keys
        number, _, key = key[7:].partition(".")
        prefix = "meters.%s." % number
        known = [k for k in known if _entry_check(k)]
        known += ["key", "auth_key", "topic", "legacy_topic"]
    best = min(known, key=lambda k: _distance(k, key))
    return prefix + best if _distance(best, key) <= 2 else None


_PIN_KEYS = (
    "uart.rx",
    "uart.tx",
    "data_request.pin",
    "status_led.pin",
    "setup_button.pin",
    "log.tx",
)
_OUTPUT_PINS = ("uart.tx", "data_request.pin", "status_led.pin", "log.tx")
# board.json: the config keys above (the board's defaults) and these of its own
_BOARD_KEYS = (
    "name",
    "mcu",
    "arch",
    "gpio",
    "input_only",
    "no_pull",
    "lines",  # the uart and data_request defaults of a second (third ...) meter
)  # and flash.* (tools/flash.py)
_MCUS = ("esp8266", "esp32", "unix")


def _pin_problems(values, board, prefix=""):
    """Pins the board does not have, or an output on an input-only pin."""
    problems = []
    gpio = board.get("gpio") if board else None
    if gpio is None:
        return problems
    for key in _PIN_KEYS:
        pin = values.get(key)
        if pin is None or _pin(pin):  # none, or reported as not a GPIO number
            continue
        if pin not in gpio:
            problems.append(
                "%s%s: GPIO %s is not usable on the %s (usable: %s)"
                % (prefix, key, pin, board.get("name", "board"), " ".join(str(p) for p in gpio))
            )
        elif key in _OUTPUT_PINS and pin in board.get("input_only", ()):
            problems.append("%s%s: GPIO %d is input only on this board" % (prefix, key, pin))
        elif key == "setup_button.pin" and pin in board.get("no_pull", ()):
            problems.append("%s: GPIO %d has no pull-up for a button on this board" % (key, pin))
        elif key == "log.tx" and board.get("mcu") == "esp8266" and pin != 2:
            problems.append("log.tx: the ESP8266's transmit-only UART1 is on GPIO 2 (D4)")
    return problems


def pin_problems(key, value, board):
    """What is wrong with one pin setting on this board (nothing for other keys): set
    checks a value without merging the whole config (an ESP8266's heap in setup mode)."""
    if key[:7] == "meters.":
        number, _, name = key[7:].partition(".")
        return _pin_problems({name: value}, board, "meters.%s." % number)
    return _pin_problems({key: value}, board)


def merge(tree, board=None):
    """(values, problems): the flat config of a config tree over the board's defaults
    and the schema's, and what is wrong with the keys given (not what is missing)."""
    values = {key: default for key, default, _ in SCHEMA}
    if board:
        for key, value in _flatten(board).items():
            if key not in _BOARD_KEYS and _check(key) is not None:
                values[key] = value
    if not isinstance(tree, dict):
        return values, ["must be a JSON object"]
    problems = []
    for key, value in _flatten(tree).items():
        if key == "meters":
            continue
        check = _check(key)
        if check is None:
            problems.append(_unknown(key))
            continue
        message = _key_problem(key, value, check)
        if message:  # reported; the default stays
            problems.append(message)
        else:
            values[key] = value
    problems += _pin_problems(values, board)
    entries = tree.get("meters")
    if entries is not None:  # else meters() makes the list of one when it is asked for
        values["meters"] = _merge_meters(entries, tree, values, board, problems)
    return values, problems


def meters(values):
    """The meters of merged values: the meters list, or the one meter of the top keys."""
    return values["meters"] if "meters" in values else [_single_meter(values)]


def _key_problem(key, value, check):
    message = None if value is None else _value_problem(check, value)
    if message:
        shown = "" if key in SECRETS or key[-3:] == "key" else ", not %s" % json.dumps(value)
        return "%s %s%s" % (key, message, shown)
    return None


def _single_meter(values):
    """The entry of meters that the top-level keys of a one-meter config mean."""
    topic = values["mqtt.topic"]
    meter = {
        "key": values.get("meter.key"),
        "auth_key": values["meter.auth_key"],
        "topic": topic,
        "name": values["name"],
        "legacy_topic": values["mqtt.legacy_topic"] or topic + "/legacy",
    }
    meter.update(_line_keys(values))
    return meter


def _merge_meters(entries, tree, values, board, problems):
    """The flat entries of a meters list over the board's lines and the defaults."""
    if not isinstance(entries, list) or not entries:
        problems.append("meters must be a list of meters (objects), one or more")
        return []
    for section, own in (
        ("meter", "key"),
        ("uart", "uart.*"),
        ("data_request", "data_request.*"),
        ("name", "name"),
    ):
        if section in tree:
            problems.append(
                "%s: with a meters list, each meter has its own (meters.N.%s)" % (section, own)
            )
    if values["mqtt.legacy_topic"]:
        problems.append(
            "mqtt.legacy_topic: with a meters list, each meter has its own (meters.N.legacy_topic)"
        )
    lines = (board or {}).get("lines") or []
    from_board = [k for k, _ in _line_keys(_flatten(board))] if board else ()  # meter 1's
    meters = []
    for n, entry in enumerate(entries, 1):
        prefix = "meters.%d." % n
        meter = {key: default for key, default, _ in SCHEMA if key[:5] == "uart."}
        meter["data_request.pin"], meter["data_request.active_low"] = None, False
        if n == 1:  # the board's own P1 port
            meter.update((k, v) for k, v in _line_keys(values) if k in from_board)
        elif n - 2 < len(lines) and isinstance(lines[n - 2], dict):
            meter.update(_line_keys(_flatten(lines[n - 2])))
        topic = values["mqtt.topic"] + ("/%d" % n if len(entries) > 1 else "")
        meter.update(key=None, auth_key=None, topic=topic, name=None, legacy_topic=None)
        if not isinstance(entry, dict):
            problems.append(prefix[:-1] + " must be an object (key, uart, topic ...)")
            meters.append(meter)
            continue
        for key, value in _flatten(entry).items():
            check = _entry_check(key)
            if check is None:
                problems.append(_unknown(prefix + key))
                continue
            message = _key_problem(prefix + key, value, check)
            if message:
                problems.append(message)
            else:
                meter[key] = value
        meter["legacy_topic"] = meter["legacy_topic"] or "%s/legacy" % meter["topic"]
        problems += _pin_problems(meter, board, prefix)
        meters.append(meter)
    return meters


def _meter_problems(values, board, listed):
    """What the meters ask of the board that it cannot give: more meters than it has
    UARTs for, a UART, serial device, pin or topic that two of them share."""
    meters, problems = values["meters"], []
    board = board or {}
    mcu = board.get("mcu")
    limit = _MAX_METERS.get(mcu, 8)  # 8: the queue's 3 bits
    if len(meters) > limit:
        problems.append(
            "meters: the %s reads %d meter%s at most (its free receiving UARTs), not %d"
            % (board.get("name", "board"), limit, "" if limit == 1 else "s", len(meters))
        )
    owners = {}  # "UART 1", "GPIO 5", "topic x" -> the first key that uses it

    def take(what, key):
        if what in owners:
            problems.append("%s: %s is taken by %s" % (key, what, owners[what]))
        else:
            owners[what] = key

    for key in ("status_led.pin", "setup_button.pin"):
        if values.get(key) is not None and not _pin(values[key]):
            owners["GPIO %d" % values[key]] = key
    if values.get("log.tx") is not None and mcu == "esp32":
        owners["UART 2"] = "log.tx"  # hw.log_line: the ESP32's log line is UART2
    for n, meter in enumerate(meters, 1):
        prefix = "meters.%d." % n if listed else ""
        if not meter["uart.device"] and meter["uart.rx"] is None:
            problems.append(prefix + "uart.rx is missing (or uart.device on a host)")
        if meter["uart.device"]:
            take("the serial device " + meter["uart.device"], prefix + "uart.device")
        elif meter["uart.id"] is not None:
            take("UART %d" % meter["uart.id"], prefix + "uart.id")
            if meter["uart.id"] == 0 and mcu == "esp8266" and not meter["uart.detach_repl"]:
                # ports/esp8266/uart.c: while a UART is in a dupterm slot (the REPL's, at
                # boot), UART0's bytes go to the REPL, a 0x03 among them a Ctrl-C
                problems.append(
                    prefix + "uart.detach_repl: on the ESP8266 UART0 is the REPL's until "
                    "detached: the meter's bytes would go to the REPL (set it true)"
                )
        for key in ("uart.rx", "uart.tx", "data_request.pin"):
            if meter[key] is not None and not _pin(meter[key]):
                take("GPIO %d" % meter[key], prefix + key)
        take("topic " + meter["topic"], prefix + "topic")
    return problems


def validate(tree, board=None, merged=None):
    """The sections() of a config tree over a board's defaults; ConfigError listing
    every problem.  `merged`: merge(tree, board), if made already."""
    values, problems = merged or merge(tree, board)
    listed = isinstance(tree, dict) and "meters" in tree
    values["meters"] = meters(values)
    for key in REQUIRED[listed:]:  # with a meters list, each meter has its key
        if values.get(key) in (None, ""):
            if not any(p.startswith(key + " ") for p in problems):
                problems.append("%s is missing" % key)
    if listed:
        for n, meter in enumerate(values["meters"], 1):
            if not meter["key"] and not any(p.startswith("meters.%d.key " % n) for p in problems):
                problems.append("meters.%d.key is missing" % n)
    problems += _meter_problems(values, board, listed)
    static = [values.get("wifi." + k) for k in ("ip", "netmask", "gateway", "dns")]
    if any(static) and not all(static):
        problems.append("wifi.ip, wifi.netmask, wifi.gateway and wifi.dns go together")
    if (
        board
        and board.get("mcu") == "esp8266"
        and (values.get("mqtt.tls") or values.get("mqtt.ca"))
    ):
        problems.append(
            "mqtt.tls: the ESP8266's TLS (axTLS) cannot check the broker's certificate, and"
            " its buffers do not fit beside the reader: use a broker on your own network"
            " without TLS, or the ESP32"
        )
    if board and board.get("mcu") == "esp8266" and values.get("setup.station_shell"):
        problems.append(
            "setup.station_shell: an ESP8266's heap has no room for the shell beside the"
            " reader: change settings in setup mode (the setup button, the serial console,"
            " or no home WiFi for wifi.fallback_min minutes)"
        )
    if problems:
        raise ConfigError(problems)
    if values["log.tx"] is not None and values["log.tx"] == values["status_led.pin"]:
        values["status_led.pin"] = None  # the log line takes the LED's pin (LOLIN: GPIO2)
    return sections(values)


def sections(values):
    """The config of merged values in sections (see the top of this file): a dict per
    section, the meters' entries with a dict per line setting; mqtt.port set (MQTT's
    own, 1883 or 8883 with TLS, unless given).  The top-level meter, uart and
    data_request keys are in the meters list only."""
    out = _nest(values)
    for section in ("meter", "uart", "data_request"):
        out.pop(section, None)
    mqtt = out["mqtt"]
    if mqtt["port"] is None:
        mqtt["port"] = 8883 if mqtt["tls"] else 1883
    out["meters"] = [_nest(meter) for meter in meters(values)]
    return out


def _nest(flat):
    """{"a.b": 1, "c": 2} as {"a": {"b": 1}, "c": 2} (a meters list left out)."""
    out = {}
    for key, value in flat.items():
        section, dot, name = key.partition(".")
        if dot:
            out.setdefault(section, {})[name] = value
        elif key != "meters":
            out[key] = value
    return out


def check_board(board):
    """The problems of a board description (board.json): what the runtime relies on."""
    if not isinstance(board, dict):
        return ["must be a JSON object"]
    problems = []
    if not isinstance(board.get("name"), str):
        problems.append("name must be a text")
    if board.get("mcu") not in _MCUS:
        problems.append("mcu must be one of %s" % ", ".join(_MCUS))
    gpio, input_only = board.get("gpio"), board.get("input_only", [])
    for name, pins in (("gpio", gpio), ("input_only", input_only)):
        if pins is not None and not (
            isinstance(pins, list) and all(_pin(p) is None for p in pins)
        ):
            problems.append("%s must be a list of GPIO numbers" % name)
    config = {}
    for key, value in _flatten(board).items():
        if _check(key) is not None:
            config[key] = value
        elif key not in _BOARD_KEYS and not key.startswith("flash."):
            problems.append("unknown key %s" % key)
    lines = board.get("lines", [])
    for n, line in enumerate(lines if isinstance(lines, list) else [None], 2):
        flat = _flatten(line) if isinstance(line, dict) else {"": None}
        for key, value in flat.items():
            check = _check(key) if key[:5] == "uart." or key[:13] == "data_request." else None
            message = None if check is None else _value_problem(check, value)
            if check is None:
                problems.append("lines: meter %d's line: unknown key %s" % (n, key or line))
            elif message:
                problems.append("lines: meter %d's %s %s" % (n, key, message))
    if not problems:
        problems += merge(config, board)[1]
    return problems


def read_tree(path):
    """The config tree in the file at path, as save() left it (see there)."""
    temporary = path + ".tmp"
    try:
        f = open(path)
    except OSError:
        try:  # a save cut short between removing path and renaming the finished temporary
            os.rename(temporary, path)
            f = open(path)
        except OSError:
            raise ConfigError(["%s not found: run the setup (see README)" % path])
    with f:
        try:
            return json.load(f)
        except ValueError as e:
            raise ConfigError(["%s is not valid JSON (%s)" % (path, e)])


def save(tree, path):
    """Writes the tree to path whole or not at all (write_whole(): read_tree() finishes
    a rename that a power cut interrupted)."""
    from . import write_whole

    write_whole(path, json.dumps(tree))


def load(path, board_path=None):
    """validate() of config.json at path (and board.json); ConfigError for a missing
    or unreadable file too."""
    return validate(read_tree(path), read_board(board_path) if board_path else None)


def read_board(path):
    try:
        with open(path) as f:
            board = json.load(f)
    except OSError:
        raise ConfigError(["board description %s not found" % path])
    except ValueError as e:
        raise ConfigError(["board description %s is not valid JSON (%s)" % (path, e)])
    problems = check_board(board)
    if problems:
        raise ConfigError(["board description %s: %s" % (path, p) for p in problems])
    return board


def show_lines(values, keys=None):
    """The config (or the keys given), a "key = value" line each, secrets masked."""
    lines = []
    for key in keys or [entry[0] for entry in SCHEMA]:
        value = values.get(key)
        if value and (key in SECRETS or key[:7] == "meters." and key[-3:] == "key"):
            value = "****" + str(value)[-2:] if key[:5] == "meter" else "****"
        lines.append("%s = %s" % (key, json.dumps(value)))
    return lines


def meter_lines(values, number=None):
    """The meters (or meter `number`), a "meters.N.key = value" line each, keys masked."""
    lines = []
    for n, meter in enumerate(meters(values), 1):
        if number in (None, n):
            for key in sorted(meter):
                value = meter[key]
                if key[-3:] == "key" and value:
                    value = "****" + str(value)[-2:]
                lines.append("meters.%d.%s = %s" % (n, key, json.dumps(value)))
    return lines


def show(values, keys=None):
    """show_lines() as one text."""
    return "\n".join(show_lines(values, keys))
