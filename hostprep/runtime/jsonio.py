"""JSON for the runtime's hot path through the C accelerator `_json`, without importing `json`.

`import json` pulls in `re` and `enum` (~8 ms at every start); `_json` alone is ~0.3 ms. Anything the
accelerator cannot do the way `json` does it (malformed input, an unknown interpreter API) goes to `json`
itself, so errors and results are the same.
"""

import _json

_WS = " \t\n\r"


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    @staticmethod
    def parse_constant(name):
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


try:
    _scan = _json.make_scanner(_Context())
except Exception:  # noqa: BLE001 - an interpreter whose accelerator differs: json does it all
    _scan = None


def loads(data):
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    stripped = text.strip(_WS)
    if _scan is not None and stripped:
        try:
            value, end = _scan(stripped, 0)
        except Exception:  # noqa: BLE001 - json raises the proper error
            value, end = None, -1
        if end == len(stripped):
            return value
    import json

    return json.loads(text)


def _default(obj):
    raise TypeError("Object of type {} is not JSON serializable".format(type(obj).__name__))


def _encoder():  # a fresh one per document: its circular-reference markers start empty
    return _json.make_encoder({}, _default, _json.encode_basestring_ascii, None, ":", ",", True, False, True)


try:
    _encoder()({"a": [1, 2.5, None, True, "x"]}, 0)
    _fast_encode = True
except Exception:  # noqa: BLE001
    _fast_encode = False


def dumps(obj):
    """Compact JSON with sorted keys (what json.dumps(obj, sort_keys=True, separators=(",", ":")) gives)."""
    if _fast_encode:
        try:
            return "".join(_encoder()(obj, 0))
        except (TypeError, ValueError):
            pass
    import json

    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
