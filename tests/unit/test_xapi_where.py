"""The get_all_records_where expression language."""

import pytest

from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.db import where

RECORD = {"currently_attached": True, "host": "OpaqueRef:h1", "SR": "OpaqueRef:s", "device_config": {}}


@pytest.mark.parametrize("expr, expected", [
    ("true", True), ("false", False),
    ('field "currently_attached" = "true"', True),
    ('field "currently_attached" = "false"', False),
    ('field "host" = "OpaqueRef:h1" and field "SR" = "OpaqueRef:s"', True),
    ('field "host" = "OpaqueRef:h2" or field "SR" = "OpaqueRef:s"', True),
    ('not (field "host" = "OpaqueRef:h1")', False),
    ('field "host" <> "OpaqueRef:h2"', True),
    ('field "nosuch" = ""', False),
    ('"a" = "a"', True),
    (r'field "host" = "Opaque\"Ref"', False),
])
def test_expressions(expr, expected):
    assert where.compile_expr(expr)(RECORD) is expected


@pytest.mark.parametrize("expr", ['field "host" =', 'field host = "x"', "(true", "true true", "= =",
                                  'field "a" ~ "b"', "x" * 5000, '"unterminated'])
def test_malformed_expressions_are_invalid_value(expr):
    with pytest.raises(XenAPIError) as e:
        where.compile_expr(expr)
    assert e.value.code == "INVALID_VALUE" and e.value.params[0] == "expr"


@pytest.mark.parametrize("text", ["(" * 400 + "true" + ")" * 400, "not " * 1000 + "true",
                                  "(" * 2000, "not (" * 600 + "true" + ")" * 600])
def test_deeply_nested_expression_is_invalid_value_not_recursion(text):
    with pytest.raises(XenAPIError) as e:
        where.compile_expr(text)
    assert e.value.code == "INVALID_VALUE" and e.value.params[0] == "expr"


def test_nesting_within_the_limit_still_works():
    assert where.compile_expr("(" * 30 + "not " * 30 + "true" + ")" * 30)(RECORD) is True
