# config.json: loaded and checked at boot, with a message a user understands for every
# bad or missing key.  Secrets (meter key, passwords) are never printed: show() masks
# them and no message repeats a value of theirs.
#
# Keys are written "section.name"; a board description (board.json) gives the uart,
# data_request and status_led defaults, which config.json may override.

import json

REQUIRED = object()
SECRETS = ("meter.key", "meter.auth_key", "wifi.password", "mqtt.password", "setup.password")


def _hex_key(value):
    digits = "".join(c for c in str(value) if c not in " :-")
    if len(digits) != 32 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        return "must be 32 hex digits (16 bytes, as your grid operator gives it)"
    return None


def _text(value):
    return None if isinstance(value, str) and value else "must be a non-empty text"


def _topic(value):
    if not isinstance(value, str) or not value or "#" in value or "+" in value:
        return "must be an MQTT topic without wildcards (# +)"
    return None


def _bool(value):
    return None if value is True or value is False else "must be true or false"


def _int_range(low, high):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return "must be a whole number from %d to %d" % (low, high)
        return None

    return check


def _pin(value):
    return _int_range(0, 48)(value)


# key, default, check
SCHEMA = (
    ("meter.key", REQUIRED, _hex_key),
    ("meter.auth_key", None, _hex_key),
    ("wifi.ssid", None, _text),
    ("wifi.password", None, _text),
    ("mqtt.host", REQUIRED, _text),
    ("mqtt.port", None, _int_range(1, 65535)),  # 1883, or 8883 with TLS
    ("mqtt.topic", "smartyreader", _topic),
    ("mqtt.user", None, _text),
    ("mqtt.password", None, _text),
    ("mqtt.tls", False, _bool),
    ("mqtt.ca", None, _text),  # CA certificate file (PEM or DER) to verify the broker
    ("mqtt.client_id", None, _text),
    ("mqtt.keepalive", 60, _int_range(0, 3600)),
    ("mqtt.discovery", True, _bool),
    ("mqtt.discovery_prefix", "homeassistant", _topic),
    ("mqtt.per_field", False, _bool),
    ("mqtt.legacy", False, _bool),
    ("mqtt.legacy_topic", None, _topic),
    ("uart.device", None, _text),  # a serial device or pty (host, Linux) instead of a UART
    ("uart.id", None, _int_range(0, 2)),
    ("uart.rx", None, _pin),
    ("uart.tx", None, _pin),
    ("uart.baudrate", 115200, _int_range(1200, 921600)),
    ("uart.invert", False, _bool),
    ("uart.rxbuf", 2048, _int_range(256, 16384)),
    ("uart.detach_repl", False, _bool),
    ("data_request.pin", None, _pin),
    ("data_request.active_low", False, _bool),
    ("status_led.pin", None, _pin),
    ("status_led.active_low", False, _bool),
    ("setup_button.pin", None, _pin),
    ("setup.password", None, _text),
    ("setup.station_shell", False, _bool),
    ("buffer.readings", 0, _int_range(0, 10000)),  # 0: as many as the free heap allows
    ("buffer.frame_bytes", 2048, _int_range(1300, 8192)),
    ("diag.interval", 60, _int_range(5, 3600)),
    ("name", None, _text),
)
_KEYS = {entry[0]: entry for entry in SCHEMA}


class ConfigError(ValueError):
    def __init__(self, problems):
        self.problems = problems
        super().__init__("config.json: " + "; ".join(problems))


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


def _closest(key):
    """The known key one or two typing slips away from key, for "did you mean"."""
    best = min(_KEYS, key=lambda known: _distance(known, key))
    return best if _distance(best, key) <= 2 else None


def validate(tree, board=None):
    """The flat config ({"mqtt.host": ...}) of a config tree over a board's defaults;
    ConfigError listing every problem."""
    values = {key: default for key, default, _ in SCHEMA if default is not REQUIRED}
    if board:
        for key, value in _flatten(board).items():
            if key in _KEYS:
                values[key] = value
    problems = []
    given = _flatten(tree) if isinstance(tree, dict) else None
    if given is None:
        raise ConfigError(["must be a JSON object"])
    bad = set()
    for key, value in given.items():
        if key not in _KEYS:
            hint = _closest(key)
            problems.append(
                "unknown key %s%s" % (key, " (did you mean %s?)" % hint if hint else "")
            )
            continue
        if value is None:
            values[key] = None
            continue
        message = _KEYS[key][2](value)
        if message:
            shown = "" if key in SECRETS else ", not %s" % json.dumps(value)
            problems.append("%s %s%s" % (key, message, shown))
            bad.add(key)
        else:
            values[key] = value
    for key, default, _ in SCHEMA:
        if default is REQUIRED and values.get(key) in (None, "") and key not in bad:
            problems.append("%s is missing" % key)
    if not values.get("uart.device") and values.get("uart.rx") is None:
        problems.append("uart.rx is missing (or uart.device on a host)")
    if problems:
        raise ConfigError(problems)
    if values["mqtt.port"] is None:
        values["mqtt.port"] = 8883 if values["mqtt.tls"] else 1883
    return values


def load(path, board_path=None):
    """validate() of config.json at path (and board.json); ConfigError for a missing
    or unreadable file too."""
    board = None
    if board_path:
        try:
            with open(board_path) as f:
                board = json.load(f)
        except OSError:
            raise ConfigError(["board description %s not found" % board_path])
        except ValueError as e:
            raise ConfigError(["board description %s is not valid JSON (%s)" % (board_path, e)])
    try:
        with open(path) as f:
            tree = json.load(f)
    except OSError:
        raise ConfigError(["%s not found: run the setup (see README)" % path])
    except ValueError as e:
        raise ConfigError(["%s is not valid JSON (%s)" % (path, e)])
    return validate(tree, board)


def show(values):
    """The config as "key = value" lines, secrets masked."""
    lines = []
    for key, _, _ in SCHEMA:
        value = values.get(key)
        if key in SECRETS and value:
            value = "****" + str(value)[-2:] if key.startswith("meter.") else "****"
        lines.append("%s = %s" % (key, json.dumps(value)))
    return "\n".join(lines)
