"""ASCII decimal integers only: what int() accepts from outside without surprise."""

import pytest

from sm_clusterstack.digits import is_digits


@pytest.mark.parametrize("text, signed, expected", [
    ("0", False, True), ("123", False, True), ("-5", False, False), ("-5", True, True),
    ("\u00b2", False, False), ("\u0663", False, False), ("", False, False), ("-", True, False),
    (" 1", False, False), ("1 ", False, False), ("1" * 19, False, False), (7, False, False), (None, False, False),
])
def test_is_digits(text, signed, expected):
    assert is_digits(text, signed=signed) is expected
