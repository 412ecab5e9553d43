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

from . import config, net

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


def _set(tree, key, value):
    *sections, name = key.split(".")
    for section in sections:
        if not isinstance(tree.get(section), dict):
            tree[section] = {}
        tree = tree[section]
    tree[name] = value


def _unset(tree, key):
    *sections, name = key.split(".")
    for section in sections:
        tree = tree.get(section)
        if not isinstance(tree, dict):
            return
    tree.pop(name, None)


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
        keys = [key for key, _, _ in config.SCHEMA]
        for i in range(0, len(keys), 6):  # a line at a time, not one long text
            lines.append("  " + " ".join(keys[i : i + 6]))
        return lines

    def _values(self):
        return config.merge(self.tree, self.board)

    def do_show(self, key):
        values, problems = self._values()
        if key:
            section = [e[0] for e in config.SCHEMA if e[0].startswith(key + ".")]
            if section:  # "show wifi": every wifi.* key
                return config.show_lines(values, section)
            config.parse(key, "")  # an unknown key: did you mean
            return config.show({key: values[key]}, (key,))
        missing = []
        try:
            config.validate(self.tree, self.board)
        except config.ConfigError as e:
            missing = e.problems
        # lines, not one text: the session sends them one by one (an ESP8266's heap)
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
        config.parse(key, "")
        _unset(self.tree, key)
        self.changed = True
        return "%s: back to its default" % key

    def do_scan(self, rest):
        found = net.scan()
        if found is None:
            return net.NO_RADIO
        if not found:
            return "no WiFi network in reach"
        return "\n".join(
            "%4d dBm  %s%s" % (rssi, ssid, "" if secured else "  (open)")
            for ssid, rssi, secured in found
        )

    def do_test(self, what):
        values = self._values()[0]
        if what == "wifi":
            if not values["wifi.ssid"] and net.network is not None:
                return "set wifi.ssid first"
            ok, message = net.WiFi(
                values["wifi.ssid"],
                values["wifi.password"],
                values["wifi.hostname"],
                config.static_address(values),
            ).join()
            return ("ok: " if ok else "failed: ") + message
        if what == "mqtt":
            return self._test_mqtt(values)
        return "usage: test wifi | test mqtt"

    def _test_mqtt(self, values):
        from .broker import BrokerError, from_config

        if not values["mqtt.host"]:
            return "set mqtt.host first"
        config.with_port(values)
        topic = values["mqtt.topic"]
        broker = from_config(values, "smartyreader-setup-" + net.mac_suffix(), topic + "/status")
        try:
            broker.connect()
        except BrokerError as e:
            return "failed: %s" % e
        broker.close()
        return "ok: connected to the MQTT broker %s:%d%s%s" % (
            values["mqtt.host"],
            values["mqtt.port"],
            " with TLS" if values["mqtt.tls"] else "",
            " as " + values["mqtt.user"] if values["mqtt.user"] else "",
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
