# The setup shell: one command line in, the answer out.  The transports (TCP port 23,
# the serial console) are in setup.py; this is what they share: the commands, the
# settings being edited, the password and its lockout.
#
# Values are checked as they are set, the whole config when it is saved; secrets are
# masked in every answer.  After the first save (with setup.password), a session starts
# with the password; too many wrong tries lock every session out for a while.

import hashlib
import os
import time
from binascii import hexlify

from . import config, net, wifisetup

HELP = """commands:
  show [KEY|SECTION] the settings (secrets masked) and what is still missing
  set KEY VALUE      change a setting (checked now, kept on `save`)
  unset KEY          back to its default
  scan               WiFi networks in reach
  test wifi          join wifi.ssid with wifi.password
  test mqtt          connect to the MQTT broker as set
  save               check everything and write config.json
  reboot             start reading the meter with the saved settings
  exit               end this session
  help               this text
several meters: meters.N.KEY (N from 1) with KEY one of key auth_key topic name
  legacy_topic uart.* data_request.*; set meters.2.key ... adds a second meter
  (the first keeps the settings it had); unset meters.N removes meter N
keys:"""

# What a session asks for when it ends (Shell.handle's action).
EXIT = 1
REBOOT = 2

_TRIES = 3  # wrong passwords in a row before a lockout
_LOCK_S = 60  # the first lockout; each further one doubles, up to _LOCK_MAX_S
_LOCK_MAX_S = 960
_HASH = "sha256$"


def hash_password(password, salt=None):
    """The form setup.password is kept in: "sha256$<salt hex>$<hash hex>"."""
    salt = salt or hexlify(os.urandom(8)).decode()
    digest = hashlib.sha256((salt + "$" + password).encode()).digest()
    return _HASH + salt + "$" + hexlify(digest).decode()


def password_matches(stored, attempt):
    """attempt against setup.password (hashed, or as written by hand), comparing every
    character whatever the first difference."""
    if stored.startswith(_HASH):
        attempt = hash_password(attempt, stored.split("$")[1])
    difference = len(stored) ^ len(attempt)
    for a, b in zip(stored, attempt):
        difference |= ord(a) ^ ord(b)
    return difference == 0


class Guard:
    """Counts wrong passwords across all sessions and locks them out for a while."""

    def __init__(self):
        self.failures = 0
        self.lockouts = 0
        self.until = None

    def locked_s(self):
        if self.until is None:
            return 0
        left = time.ticks_diff(self.until, time.ticks_ms())
        if left <= 0:
            self.until = None
            return 0
        return (left + 999) // 1000

    def check(self, stored, attempt):
        if self.locked_s():
            return False
        if password_matches(stored, attempt):
            self.failures = self.lockouts = 0
            return True
        self.failures += 1
        if self.failures >= _TRIES:
            seconds = min(_LOCK_S << self.lockouts, _LOCK_MAX_S)
            self.until = time.ticks_add(time.ticks_ms(), seconds * 1000)
            self.failures = 0
            self.lockouts += 1
        return False


def _meter_entry(tree, number, add):
    """The entry of meter `number` (from 1) in the tree's meters list, or None.  `add`:
    the next number makes a new entry, and a one-meter config first becomes a list of
    one that keeps its key, line and topic."""
    meters = tree.get("meters")
    if not isinstance(meters, list):
        if not add:
            return None
        first = {}
        meter = tree.pop("meter", None)
        if isinstance(meter, dict):
            first.update((k, v) for k, v in meter.items() if k in ("key", "auth_key"))
        for section in ("uart", "data_request"):
            if section in tree:
                first[section] = tree.pop(section)
        mqtt = tree.get("mqtt")
        topic = mqtt.get("topic") if isinstance(mqtt, dict) else None
        first["topic"] = topic or "smartyreader"  # as before: Home Assistant's topics stay
        for name in ("name",):
            if name in tree:
                first[name] = tree.pop(name)
        meters = tree["meters"] = [first]
    if number <= len(meters):
        return meters[number - 1]
    if add and number == len(meters) + 1:
        meters.append({})
        return meters[-1]
    raise config.ConfigError(
        [
            "meters.%d: there are %d meters: the next is meters.%d"
            % (number, len(meters), len(meters) + 1)
        ]
    )


def _set(tree, key, value):
    if key[:7] == "meters.":
        number, _, key = key[7:].partition(".")
        tree = _meter_entry(tree, int(number), True)
    *sections, name = key.split(".")
    for section in sections:
        if not isinstance(tree.get(section), dict):
            tree[section] = {}
        tree = tree[section]
    tree[name] = value


def _unset(tree, key):
    if key[:7] == "meters.":
        number, _, key = key[7:].partition(".")
        entry = _meter_entry(tree, int(number), False)
        if entry is None:
            return
        if not key:  # the whole meter
            tree["meters"].pop(int(number) - 1)
            return
        tree = entry
    *sections, name = key.split(".")
    parents = []
    for section in sections:
        parents.append((tree, section))
        tree = tree.get(section)
        if not isinstance(tree, dict):
            return
    tree.pop(name, None)
    for parent, section in reversed(parents):  # no empty sections left behind
        if parent[section]:
            break
        del parent[section]


def _global(key):
    """Whether a schema key is the reader's, not a meter's (meters.N has those)."""
    return (
        key[:6] != "meter."
        and key[:5] != "uart."
        and key[:13] != "data_request."
        and (key not in ("name", "mqtt.legacy_topic"))
    )


def _unquote(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


class Shell:
    """One session.  handle(line) -> (answer, action): the answer a text or a list of
    lines; action is None, EXIT or REBOOT.  `prompt` is what to show before the next
    line."""

    def __init__(self, config_path, board, guard, ask_password=True, station=False):
        self.path, self.board, self.guard = config_path, board, guard
        self.station = station  # the meter is being read: nothing may block for seconds
        self.tree, note = self._saved()
        self.saved_password = config.merge(self.tree, board)[0].get("setup.password")
        self.authenticated = not (ask_password and self.saved_password)
        self.changed = False
        self.greeting = "SmartyReader setup. " + (
            "Password:" if not self.authenticated else "Type help for the commands." + note
        )

    def _saved(self):
        try:
            tree = config.read_tree(self.path)
        except config.ConfigError as e:
            return {}, "\n" + e.problems[0].replace(": run the setup (see README)", "") + "."
        if not isinstance(tree, dict):
            return {}, "\n%s is not a JSON object: starting afresh." % self.path
        return tree, ""

    @property
    def prompt(self):
        return "password: " if not self.authenticated else "smarty> "

    def handle(self, line):
        line = line.strip()
        if not self.authenticated:
            return self._login(line), None
        command, _, rest = line.partition(" ")
        rest = rest.strip()
        if not command:
            return "", None
        if command in ("exit", "quit"):
            return "bye" + (" (not saved: the changes are lost)" if self.changed else ""), EXIT
        if command == "reboot":
            if self.changed:
                return "not rebooting: there are unsaved changes (save, or exit)", None
            return "rebooting", REBOOT
        method = getattr(self, "do_" + command, None)
        if method is None:
            return "unknown command %r: type help" % command, None
        if self.station and command in ("scan", "test"):
            # they block for seconds (the reader would miss frames, an ESP8266's watchdog
            # would fire) and test wifi drops the WiFi this session runs over
            return "%s: not while the meter is read; in setup mode it works" % command, None
        try:
            return method(rest), None
        except config.ConfigError as e:
            return "\n".join(e.problems), None
        except Exception as e:  # a bug must not take the shell down: say it, carry on
            return "%s failed: %r" % (command, e), None

    def _login(self, attempt):
        seconds = self.guard.locked_s()
        if seconds:
            return "locked after too many wrong passwords: try again in %d s" % seconds
        if self.guard.check(self.saved_password, attempt):
            self.authenticated = True
            return "welcome. Type help for the commands."
        seconds = self.guard.locked_s()
        if seconds:
            return "wrong password; locked for %d s" % seconds
        return "wrong password"

    def do_help(self, rest):
        lines = HELP.split("\n")
        keys = [key for key, _, _ in config.SCHEMA if not self._listed() or _global(key)]
        for i in range(0, len(keys), 6):  # a line at a time, not one long text
            lines.append("  " + " ".join(keys[i : i + 6]))
        return lines

    def _values(self):
        return config.merge(self.tree, self.board)

    def _listed(self):
        return isinstance(self.tree.get("meters"), list)

    def do_show(self, key):
        missing = []
        if not key:  # first, before the values shown are made: an ESP8266's heap
            try:
                config.validate(self.tree, self.board)
            except config.ConfigError as e:
                missing = e.problems
        values = self._values()[0]
        if key == "meters" or key[:7] == "meters.":
            number, _, name = key[7:].partition(".")
            if not number:
                return config.meter_lines(values)
            meters = config.meters(values)
            if not number.isdigit() or not 0 < int(number) <= len(meters):
                return "%s: there are %d meters" % (key, len(meters))
            if not name:
                return config.meter_lines(values, int(number))
            config.parse(key, "")  # an unknown key: did you mean
            return config.show({key: meters[int(number) - 1].get(name)}, (key,))
        if key:
            section = [e[0] for e in config.SCHEMA if e[0].startswith(key + ".")]
            if section:  # "show wifi": every wifi.* key
                return config.show_lines(values, section)
            config.parse(key, "")  # an unknown key: did you mean
            return config.show({key: values[key]}, (key,))
        # lines, not one text: the session sends them one by one (an ESP8266's heap)
        if self._listed():
            out = config.show_lines(values, [e[0] for e in config.SCHEMA if _global(e[0])])
            out += config.meter_lines(values)
        else:
            out = config.show_lines(values)
        out += ["to fix before save: " + p for p in missing] or ["complete"]
        if self.changed:
            out.append("(changed, not saved yet)")
        return out

    def do_set(self, rest):
        key, _, text = rest.partition(" ")
        if not key:
            return "usage: set KEY VALUE (help lists the keys)"
        value = config.parse(key, _unquote(text))
        if key == "setup.password" and value is not None:
            if len(value) < 8:
                return "setup.password must have at least 8 characters"
            value = hash_password(value)
        problems = config.pin_problems(key, value, self.board)
        if problems:
            return "\n".join(problems)
        _set(self.tree, key, value)
        self.changed = True
        return config.show({key: value}, (key,))

    def do_unset(self, key):
        number = key[7:]
        if not (key[:7] == "meters." and number.isdigit()):  # a whole meter
            config.parse(key, "")
        _unset(self.tree, key)
        self.changed = True
        if key[:7] == "meters." and key[7:].isdigit():
            return "%s removed (the meters after it move up one)" % key
        return "%s: back to its default" % key

    def do_scan(self, rest):
        found = wifisetup.scan()
        if found is None:
            return wifisetup.NO_RADIO
        if not found:
            return "no WiFi network in reach"
        return "\n".join(
            "%4d dBm  %s%s" % (rssi, ssid, "" if secured else "  (open)")
            for ssid, rssi, secured in found
        )

    def do_test(self, what):
        cfg = config.sections(self._values()[0])
        if what == "wifi":
            wifi = cfg["wifi"]
            if not wifi["ssid"] and net.network is not None:
                return "set wifi.ssid first"
            ok, message = wifisetup.join(net.station(wifi))
            return ("ok: " if ok else "failed: ") + message
        if what == "mqtt":
            return self._test_mqtt(cfg["mqtt"])
        return "usage: test wifi | test mqtt"

    def _test_mqtt(self, mqtt):
        from .broker import BrokerError, from_config

        if not mqtt["host"]:
            return "set mqtt.host first"
        status = mqtt["topic"] + "/status"
        broker = from_config(mqtt, "smartyreader-setup-" + net.mac_suffix(), status)
        try:
            broker.connect()
        except BrokerError as e:
            return "failed: %s" % e
        broker.close()
        return "ok: connected to the MQTT broker %s:%d%s%s" % (
            mqtt["host"],
            mqtt["port"],
            " with TLS" if mqtt["tls"] else "",
            " as " + mqtt["user"] if mqtt["user"] else "",
        )

    def do_save(self, rest):
        if not self._values()[0].get("setup.password"):
            return (
                "not saved: set setup.password first (8 characters or more); "
                "it protects this shell from now on"
            )
        config.validate(self.tree, self.board)  # every problem, in one answer
        try:
            config.save(self.tree, self.path)
        except OSError as e:
            return "not saved: cannot write %s (%s); the old settings are kept" % (self.path, e)
        self.changed = False
        return "saved %s; type reboot to start reading the meter" % self.path
