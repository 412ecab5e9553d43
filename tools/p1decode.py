# The body of `p1.py decode`, runnable on CPython and on MicroPython alike (the same
# core decodes on both):
#   p1decode.py [--key HEX] [--auth-key HEX] [--backend NAME] FILE...
# FILE: bytes as captured from a P1 port (raw), or hex text if its name ends in .hex.
# Prints one JSON object per frame or error; exit status 0 only if every frame was ok.
import sys
from binascii import hexlify, unhexlify

from smarty.errors import P1Error
from smarty.dsmr import obis_row, raw_value
from smarty.gcm import LUXEMBOURG_AUTH_KEY
from smarty.keys import parse_key
from smarty.reader import Reader
from smarty.jsonout import dumps

_CHUNK = 512


def _usage(message):
    print("p1 decode: " + message, file=sys.stderr)
    sys.exit(2)


def _chunks(path):
    if path.endswith(".hex"):
        with open(path) as f:
            text = "".join(f.read().split())
        try:
            data = unhexlify(text)
        except ValueError:
            _usage("%s: not hex text" % path)
        for i in range(0, len(data), _CHUNK):
            yield data[i : i + _CHUNK]
        return
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                return
            yield chunk


def obis(telegram):
    """{code: value}: a number with the meter's digits, a string, or a list."""
    out = {}
    for code, values in telegram.lines():
        row, _ = obis_row(code)
        if row is None or row.kind not in ("time", "hex", "text"):
            values = [raw_value(v) for v in values]
        out[code] = values[0] if len(values) == 1 else values
    return out


def _result(item, reader):
    if isinstance(item, P1Error):
        return {"ok": False, "error": item.kind, "message": str(item)}
    title = item.system_title
    meta = {
        "header": item.header,
        "crc": item.crc,
        "encrypted": title is not None,
        "system_title": hexlify(title).decode() if title is not None else None,
        "frame_counter": item.frame_counter,
        "backend": reader.backend if title is not None else None,
    }
    readings = list(item.readings())
    return {
        "ok": True,
        "obis": obis(item),
        "fields": {r.name: r.value for r in readings},
        "units": {r.name: r.unit for r in readings if r.unit},
        "meta": meta,
    }


def main(args):
    key, auth_key, backend, files = None, LUXEMBOURG_AUTH_KEY, None, []
    while args:
        arg = args.pop(0)
        if arg in ("--key", "--auth-key", "--backend"):
            if not args:
                _usage(arg + " needs a value")
            value = args.pop(0)
            try:
                if arg == "--key":
                    key = parse_key(value)
                elif arg == "--auth-key":
                    auth_key = parse_key(value, "auth key")
                else:
                    backend = value
            except ValueError as e:
                _usage(str(e))
        elif arg.startswith("--"):
            _usage("unknown option " + arg)
        else:
            files.append(arg)
    if not files:
        _usage("no FILE given")
    all_ok = True
    for path in files:
        try:
            reader = Reader(key, auth_key, backend=backend)
        except (ValueError, ImportError) as e:
            _usage(str(e))
        found = 0
        try:
            for chunk in _chunks(path):
                for item in reader.feed(chunk):
                    found += 1
                    all_ok = all_ok and not isinstance(item, P1Error)
                    print(dumps(_result(item, reader)))
        except OSError as e:
            _usage("%s: %s" % (path, e))
        for item in reader.flush():
            found += 1
            all_ok = all_ok and not isinstance(item, P1Error)
            print(dumps(_result(item, reader)))
        if not found:
            all_ok = False
            print(
                dumps(
                    {
                        "ok": False,
                        "error": "frame",
                        "message": "%s: no frame found (%d bytes "
                        "of noise)" % (path, reader.framer.noise_bytes),
                    }
                )
            )
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
