"""The OCaml conversions xapi applies to the text of a cluster stack's output.

Each function is the one xapi calls, with its exact rules, so that a
verdict "xapi accepts it" is true.  They return None where OCaml raises.
"""

import re
import typing

_TRIM = " \x0c\n\r\t"  # OCaml String.trim: ' ', '\012', '\n', '\r', '\t'
_ASCII_WHITE = " \t\n\x0b\x0c\r"  # Astring Char.Ascii.is_white
_HEX = "0123456789abcdefABCDEF"
_DASHES = (8, 13, 18, 23)
_LOWER = {ord(c): ord(c) + 32 for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_BASES = {"x": 16, "o": 8, "b": 2, "u": 10}
_INT_BITS = 63  # OCaml's int on a 64-bit host


def trim(text: str) -> str:
    """OCaml ``String.trim``."""
    return text.strip(_TRIM)


def lowercase_ascii(text: str) -> str:
    """OCaml ``String.lowercase_ascii``: A-Z only."""
    return text.translate(_LOWER)


def bool_of_string(text: str) -> typing.Optional[bool]:
    """OCaml ``bool_of_string``: exactly ``true`` or ``false``."""
    return {"true": True, "false": False}.get(text)


def fields(text: str) -> typing.List[str]:
    """Astring ``String.fields ~empty:false ~is_sep:Char.Ascii.is_white``."""
    return [word for word in re.split("[%s]+" % re.escape(_ASCII_WHITE), text) if word]


def uuid_of_string(text: str) -> typing.Optional[str]:
    """``Uuidx.of_string`` = ``Uuidm.of_string ~pos:0``, in lower case; None when it is not one.

    Uuidm reads 36 bytes from the start (dashes at 8, 13, 18, 23, hex
    digits of either case elsewhere) and ignores anything after them.
    """
    head = text.encode("utf-8")[:36]
    if len(head) < 36:
        return None
    chars = head.decode("latin-1")
    for i, c in enumerate(chars):
        if (c != "-") if i in _DASHES else (c not in _HEX):
            return None
    return lowercase_ascii(chars)


def _sign_and_base(text: str) -> typing.Tuple[int, int, bool, str]:
    """``parse_sign_and_base`` of OCaml's runtime/ints.c: sign, base, signed?, the rest."""
    sign = 1
    if text[:1] == "-":
        sign, text = -1, text[1:]
    elif text[:1] == "+":
        text = text[1:]
    if text[:1] == "0" and text[1:2].lower() in _BASES:
        return sign, _BASES[text[1:2].lower()], False, text[2:]
    return sign, 10, True, text


def _digit(c: str) -> int:
    return _HEX.index(c.lower()) if c in _HEX else -1


def int_of_string(text: str) -> typing.Optional[int]:
    """OCaml ``int_of_string`` (``parse_intnat``, 63 bits); None where it fails.

    Accepts a sign, ``0x``/``0o``/``0b``/``0u`` prefixes, ``_`` after the
    first digit; decimal must fit in [-2^62, 2^62); the prefixed forms are
    unsigned below 2^63 and wrap, as OCaml does.
    """
    sign, base, signed, rest = _sign_and_base(text)
    if not rest or not 0 <= _digit(rest[0]) < base:
        return None
    value = 0
    for c in rest:
        if c == "_":
            continue
        d = _digit(c)
        if not 0 <= d < base:
            return None
        value = value * base + d
        if value >= 1 << 64:
            return None
    half = 1 << (_INT_BITS - 1)
    if signed:
        if value > half or (sign > 0 and value == half):
            return None
        return sign * value
    if value >= 1 << _INT_BITS:
        return None
    return (sign * value + half) % (1 << _INT_BITS) - half
