"""Decimal integers in text from outside: ASCII digits only.

``str.isdigit`` also accepts characters such as "²" that ``int`` refuses,
which turns a bad value into a traceback; every parser of external text
uses this instead.
"""

import re

_UNSIGNED = re.compile(r"[0-9]+\Z")
_SIGNED = re.compile(r"-?[0-9]+\Z")


def is_digits(text: object, signed: bool = False, max_length: int = 18) -> bool:
    """True when ``text`` is a str of ASCII digits (a leading '-' if ``signed``), at most ``max_length`` long."""
    if not isinstance(text, str) or len(text) > max_length:
        return False
    return (_SIGNED if signed else _UNSIGNED).match(text) is not None
