"""DynamoDB JSON <-> native Python values: the codec behind `eddy`'s decoded records and
table helpers.

Pure Python (no WIT imports), so it runs and is tested on plain CPython. It knows the
attribute-value shapes of DynamoDB's JSON 1.0 protocol and nothing about the host.

Decoding: S -> str, N -> int when the number is integral else decimal.Decimal (never a
float, which would lose digits DynamoDB keeps), B -> bytes, SS/NS/BS -> set, L -> list,
M -> dict, BOOL -> bool, NULL -> None.

Encoding is the inverse; in addition float encodes as N (finite values only), tuple as L,
frozenset as a set, bytearray/memoryview as B.
"""

import base64
from decimal import Decimal

__all__ = ["decode", "encode", "decode_item", "encode_item", "number_to_wire"]

def _decode_number(text):
    # Decimal(str) is exact whatever the context, so all of DynamoDB's 38 digits survive.
    value = Decimal(text)
    if value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value


def number_to_wire(value):
    """The N string for an int, a finite float or a finite Decimal."""
    if isinstance(value, bool):
        raise TypeError("a bool is not a number (it encodes as BOOL)")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("DynamoDB numbers cannot be NaN or infinite: %r" % value)
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("DynamoDB numbers cannot be NaN or infinite: %r" % value)
        return str(value)
    raise TypeError("not a number: %r" % (value,))


def decode(attribute_value):
    """One DynamoDB JSON attribute value (`{"S": "x"}`) as a native Python value."""
    if not isinstance(attribute_value, dict) or len(attribute_value) != 1:
        raise ValueError("not a DynamoDB attribute value: %r" % (attribute_value,))
    ((kind, raw),) = attribute_value.items()
    if kind == "S":
        return raw
    if kind == "N":
        return _decode_number(raw)
    if kind == "B":
        return base64.b64decode(raw)
    if kind == "BOOL":
        return bool(raw)
    if kind == "NULL":
        return None
    if kind == "SS":
        return set(raw)
    if kind == "NS":
        return {_decode_number(n) for n in raw}
    if kind == "BS":
        return {base64.b64decode(b) for b in raw}
    if kind == "L":
        return [decode(v) for v in raw]
    if kind == "M":
        return {k: decode(v) for k, v in raw.items()}
    raise ValueError("unknown DynamoDB attribute type %r" % kind)


def _encode_set(values):
    if not values:
        # DynamoDB itself rejects empty sets; saying so here names the culprit.
        raise ValueError("DynamoDB sets cannot be empty")
    items = list(values)
    if all(isinstance(v, str) for v in items):
        return {"SS": sorted(items)}
    if all(isinstance(v, (bytes, bytearray, memoryview)) for v in items):
        blobs = sorted(bytes(v) for v in items)
        return {"BS": [base64.b64encode(b).decode("ascii") for b in blobs]}
    if all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in items):
        return {"NS": [number_to_wire(v) for v in sorted(items)]}
    raise TypeError("a set must hold only strings, only numbers or only bytes: %r" % (values,))


def encode(value):
    """A native Python value as one DynamoDB JSON attribute value."""
    # bool before int: True is an int in Python.
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": number_to_wire(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"B": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (set, frozenset)):
        return _encode_set(value)
    if isinstance(value, (list, tuple)):
        return {"L": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"M": encode_item(value)}
    raise TypeError("cannot encode %s as a DynamoDB value: %r" % (type(value).__name__, value))


def decode_item(item):
    """A DynamoDB JSON item (`{"id": {"S": "1"}}`) as a dict of native values; None stays None."""
    if item is None:
        return None
    return {name: decode(value) for name, value in item.items()}


def encode_item(item):
    """A dict of native values as a DynamoDB JSON item (map keys must be strings)."""
    out = {}
    for name, value in item.items():
        if not isinstance(name, str):
            raise TypeError("attribute names must be strings: %r" % (name,))
        out[name] = encode(value)
    return out
