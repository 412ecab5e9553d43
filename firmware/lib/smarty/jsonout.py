# JSON text of readings: like json.dumps, and a Fixed becomes a number with exactly
# the meter's digits (never a float).

import json

from .values import Fixed


def dumps(obj):
    if not isinstance(obj, (dict, list, tuple, Fixed)):
        return json.dumps(obj)  # in one piece: no list of pieces to join
    parts = []
    _encode(obj, parts)
    return "".join(parts)


def _encode(obj, parts):
    if isinstance(obj, Fixed):
        parts.append(str(obj))
    elif isinstance(obj, dict):
        parts.append("{")
        for i, (key, value) in enumerate(obj.items()):
            parts.append(", " if i else "")
            parts.append(json.dumps(str(key)))
            parts.append(": ")
            _encode(value, parts)
        parts.append("}")
    elif isinstance(obj, (list, tuple)):
        parts.append("[")
        for i, value in enumerate(obj):
            parts.append(", " if i else "")
            _encode(value, parts)
        parts.append("]")
    else:
        parts.append(json.dumps(obj))
