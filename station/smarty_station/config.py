# The station's TOML file, read and checked once: every key a part needs becomes a typed
# value in one of the dataclasses below, handed to that part.  A bad or missing key is a
# ConfigError naming it (the command line exits with status 2).

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Mqtt:
    host: str
    port: int = 1883
    topic: str = "smartyreader"
    user: str | None = None
    password: str | None = None
    client_id: str = "smarty-station"
    keepalive: int = 60
    legacy: bool = False  # also collect <topic>/legacy (the weigu payload)
    legacy_meter: str = "legacy"  # the meter id legacy readings are stored under


@dataclass(frozen=True)
class Store:
    path: Path
    day_files: Path | None = None
    archive: Path | None = None


@dataclass(frozen=True)
class Web:
    host: str = "127.0.0.1"
    port: int = 8080
    refresh: int = 10  # seconds between the page's updates


@dataclass(frozen=True)
class Mail:
    host: str
    to: tuple
    sender: str
    port: int = 587
    starttls: bool = True
    user: str | None = None
    password: str | None = None
    at: tuple = (1, 0)  # (hour, minute), local time
    retry: int = 300  # seconds between tries of a failed send
    cafile: Path | None = None


@dataclass(frozen=True)
class Meter:
    """One meter `read` reads: its serial device, its keys, its topic and name."""

    device: str
    topic: str
    key: bytes | None = None
    auth_key: bytes | None = None
    baudrate: int = 115200
    name: str | None = None
    label: str = "meter"  # how the config names it: "meter" or "meters.2"


@dataclass(frozen=True)
class Read:
    meters: tuple  # of Meter: the single-meter form is a tuple of one
    per_field: bool = False
    legacy: bool = False
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    diag_interval: int = 60


@dataclass(frozen=True)
class Config:
    path: Path
    mqtt: Mqtt
    store: Store | None = None
    web: Web | None = None
    mail: Mail | None = None
    read: Read | None = None


_SECTIONS = ("mqtt", "store", "web", "mail", "meter", "serial", "read")
_ARRAYS = ("meters",)  # arrays of tables: [[meters]]


class _Table:
    """One TOML table: typed getters whose errors name the key ("mqtt.port")."""

    def __init__(self, name, values, base):
        self.name, self.values, self.base = name, values, base
        self.used = set()

    def _get(self, key, required, default):
        self.used.add(key)
        if key not in self.values:
            if required:
                raise ConfigError(f"{self.name}.{key} is missing")
            return default
        return self.values[key]

    def text(self, key, default=None, required=False):
        value = self._get(key, required, default)
        if value is not default and (not isinstance(value, str) or not value):
            raise ConfigError(f"{self.name}.{key} must be a non-empty string, not {value!r}")
        return value

    def number(self, key, default=None, low=0, high=None, required=False):
        value = self._get(key, required, default)
        if value is default:
            return value
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or value < low
            or (high is not None and value > high)
        ):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ConfigError(f"{self.name}.{key} must be a whole number {bound}, not {value!r}")
        return value

    def flag(self, key, default):
        value = self._get(key, False, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.name}.{key} must be true or false, not {value!r}")
        return value

    def path(self, key, default=None, required=False):
        value = self.text(key, default, required)
        return None if value is None else (self.base / Path(value).expanduser()).resolve()

    def hex_key(self, key):
        value = self.text(key)
        if value is None:
            return None
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
        if len(raw) != 16:
            raise ConfigError(f"{self.name}.{key} must be 32 hex digits")
        return raw

    def time_of_day(self, key, default):
        value = self.text(key, None)
        if value is None:
            return default
        hours, _, minutes = value.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
            raise ConfigError(f"{self.name}.{key} must be a time HH:MM, not {value!r}")
        if int(hours) > 23 or int(minutes) > 59:
            raise ConfigError(f"{self.name}.{key} must be a time HH:MM, not {value!r}")
        return int(hours), int(minutes)

    def check_unknown(self):
        unknown = sorted(set(self.values) - self.used)
        if unknown:
            raise ConfigError(f"{self.name}.{unknown[0]} is not a known key")


def load(path):
    """The checked Config of a TOML file; ConfigError on any problem."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read the config file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None
    for name, value in data.items():
        if name in _ARRAYS:
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise ConfigError(f"{name} must be an array of tables ([[{name}]])")
            if not value:
                raise ConfigError(f"{name} is empty: give at least one [[{name}]]")
        elif name not in _SECTIONS or not isinstance(value, dict):
            known = ", ".join(_SECTIONS + _ARRAYS)
            raise ConfigError(f"{name} is not a known table (one of {known})")
    base = path.resolve().parent
    tables = {name: _Table(name, data.get(name, {}), base) for name in _SECTIONS}
    tables["meters"] = [  # a list of tables, numbered from 1 as the default topics are
        _Table(f"meters.{n}", values, base) for n, values in enumerate(data.get("meters", ()), 1)
    ]
    mqtt = _mqtt(tables["mqtt"])
    config = Config(
        path=path,
        mqtt=mqtt,
        store=_store(tables["store"]) if "store" in data else None,
        web=_web(tables["web"]) if "web" in data else None,
        mail=_mail(tables["mail"]) if "mail" in data else None,
        read=_read(tables, mqtt.topic) if "serial" in data or "meters" in data else None,
    )
    for table in [tables[name] for name in _SECTIONS] + tables["meters"]:
        table.check_unknown()
    return config


def _mqtt(t):
    return Mqtt(
        host=t.text("host", required=True),
        port=t.number("port", 1883, 1, 65535),
        topic=t.text("topic", "smartyreader").rstrip("/"),
        user=t.text("user"),
        password=t.text("password"),
        client_id=t.text("client_id", "smarty-station"),
        keepalive=t.number("keepalive", 60, 5, 3600),
        legacy=t.flag("legacy", False),
        legacy_meter=t.text("legacy_meter", "legacy"),
    )


def _store(t):
    day_files = t.path("day_files")
    archive = t.path("archive")
    if archive and not day_files:
        raise ConfigError("store.archive needs store.day_files")
    return Store(path=t.path("path", required=True), day_files=day_files, archive=archive)


def _web(t):
    return Web(
        host=t.text("host", "127.0.0.1"),
        port=t.number("port", 8080, 0, 65535),
        refresh=t.number("refresh", 10, 1, 3600),
    )


def _mail(t):
    to = t._get("to", True, None)
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not to or not all(isinstance(a, str) and "@" in a for a in to):
        raise ConfigError("mail.to must be an address or a list of addresses")
    user = t.text("user")
    password = t.text("password")
    if (user is None) != (password is None):
        raise ConfigError("mail.user and mail.password go together")
    return Mail(
        host=t.text("host", required=True),
        port=t.number("port", 587, 1, 65535),
        starttls=t.flag("starttls", True),
        user=user,
        password=password,
        sender=t.text("from", required=True),
        to=tuple(to),
        at=t.time_of_day("at", (1, 0)),
        retry=t.number("retry", 300, 1, 86400),
        cafile=t.path("cafile"),
    )


def _read(tables, topic):
    read = tables["read"]
    if tables["meters"]:
        meters = _meters(tables, topic)
    else:
        meter, serial = tables["meter"], tables["serial"]
        single = Meter(
            device=serial.text("device", required=True),
            topic=topic,
            baudrate=serial.number("baudrate", 115200, 300, 4000000),
            key=meter.hex_key("key"),
            auth_key=meter.hex_key("auth_key"),
            name=read.text("name"),
        )
        meters = (single,)
    return Read(
        meters=meters,
        per_field=read.flag("per_field", False),
        legacy=read.flag("legacy", False),
        discovery=read.flag("discovery", True),
        discovery_prefix=read.text("discovery_prefix", "homeassistant"),
        diag_interval=read.number("diag_interval", 60, 1, 86400),
    )


def _meters(tables, topic):
    """The [[meters]] form: each its own device, key, topic (<mqtt.topic>/<n> when there
    are several), name; no two on one device or one topic."""
    for name in ("serial", "meter"):
        if tables[name].values:
            raise ConfigError(f"[{name}] and [[meters]] do not go together: use one form")
    if "name" in tables["read"].values:
        raise ConfigError("read.name is for a single meter: give each [[meters]] its name")
    several = len(tables["meters"]) > 1
    meters, devices, topics = [], {}, {}
    for n, t in enumerate(tables["meters"], 1):
        meter = Meter(
            device=t.text("device", required=True),
            topic=t.text("topic", f"{topic}/{n}" if several else topic).rstrip("/"),
            baudrate=t.number("baudrate", 115200, 300, 4000000),
            key=t.hex_key("key"),
            auth_key=t.hex_key("auth_key"),
            name=t.text("name"),
            label=t.name,
        )
        if not meter.topic:
            raise ConfigError(f"{t.name}.topic must be a non-empty string")
        device = os.path.realpath(meter.device)  # two names of one port are one port
        if device in devices:
            raise ConfigError(
                f"{t.name}.device {meter.device} is already {devices[device]}.device:"
                " two meters cannot share a serial device"
            )
        if meter.topic in topics:
            raise ConfigError(
                f"{t.name}.topic {meter.topic} is already {topics[meter.topic]}'s topic:"
                " each meter needs its own"
            )
        devices[device], topics[meter.topic] = t.name, t.name
        meters.append(meter)
    return tuple(meters)
