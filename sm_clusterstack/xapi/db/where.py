"""The expression language of ``<class>.get_all_records_where``, as xapi parses it.

    expr  := term ("or" term)*          term := factor ("and" factor)*
    factor:= "not" factor | "(" expr ")" | "true" | "false" | value ("=" | "<>") value
    value := field "<name>" | "<literal>"

A record's field is compared as xapi prints it: booleans as ``true`` /
``false``, everything else as its string.  A malformed expression is
INVALID_VALUE ["expr", reason].
"""

import re
import typing

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError

INVALID_VALUE = errors.INVALID_VALUE
MAX_EXPRESSION = 4096
MAX_DEPTH = 64  # nested "not" and "(": a deeper expression is refused, never a RecursionError
_TOKEN = re.compile(r'\s*(?:(\()|(\))|(<>|=)|"((?:[^"\\]|\\.)*)"|([A-Za-z_]+))')

Predicate = typing.Callable[[typing.Dict[str, typing.Any]], bool]


def compile_expr(text: str) -> Predicate:
    """A predicate over records for the expression ``text``."""
    if len(text) > MAX_EXPRESSION:
        raise XenAPIError(INVALID_VALUE, "expr", "expression longer than %d characters" % MAX_EXPRESSION)
    parser = _Parser(_tokens(text))
    predicate = parser.expr()
    if parser.peek() is not None:
        raise XenAPIError(INVALID_VALUE, "expr", "unexpected %r" % (parser.peek()[1],))
    return predicate


def _tokens(text: str) -> typing.List[typing.Tuple[str, str]]:
    tokens, pos = [], 0
    while text[pos:].strip():
        match = _TOKEN.match(text, pos)
        if not match:
            raise XenAPIError(INVALID_VALUE, "expr", "cannot parse at %r" % text[pos:pos + 20])
        lpar, rpar, op, literal, word = match.groups()
        if literal is not None:
            tokens.append(("lit", re.sub(r"\\(.)", r"\1", literal)))
        else:
            tokens.append(("sym", lpar or rpar or op or word))
        pos = match.end()
    return tokens


def shown(value: typing.Any) -> str:
    """A field value as the expression compares it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


class _Parser(object):
    def __init__(self, tokens):
        self.tokens = tokens
        self.depth = 0

    def peek(self):
        return self.tokens[0] if self.tokens else None

    def take(self, symbol=None):
        if not self.tokens:
            raise XenAPIError(INVALID_VALUE, "expr", "unexpected end of expression")
        token = self.tokens.pop(0)
        if symbol is not None and token != ("sym", symbol):
            raise XenAPIError(INVALID_VALUE, "expr", "expected %r, got %r" % (symbol, token[1]))
        return token

    def expr(self) -> Predicate:
        parts = [self.term()]
        while self.peek() == ("sym", "or"):
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self.peek() == ("sym", "and"):
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def factor(self) -> Predicate:
        token = self.peek()
        if token in (("sym", "true"), ("sym", "false")):
            self.take()
            return (lambda r: True) if token[1] == "true" else (lambda r: False)
        if token == ("sym", "not"):
            self.take()
            inner = self.nested(self.factor)
            return lambda r: not inner(r)
        if token == ("sym", "("):
            self.take()
            inner = self.nested(self.expr)
            self.take(")")
            return inner
        return self.comparison()

    def nested(self, parse: typing.Callable[[], Predicate]) -> Predicate:
        if self.depth >= MAX_DEPTH:
            raise XenAPIError(INVALID_VALUE, "expr", "nested deeper than %d" % MAX_DEPTH)
        self.depth += 1
        try:
            return parse()
        finally:
            self.depth -= 1

    def comparison(self) -> Predicate:
        left = self.value()
        op = self.take()
        if op not in (("sym", "="), ("sym", "<>")):
            raise XenAPIError(INVALID_VALUE, "expr", "expected = or <>, got %r" % (op[1],))
        right = self.value()
        if op[1] == "=":
            return lambda r: left(r) == right(r)
        return lambda r: left(r) != right(r)

    def value(self) -> typing.Callable[[typing.Dict[str, typing.Any]], typing.Optional[str]]:
        token = self.take()
        if token[0] == "lit":
            literal = token[1]
            return lambda r: literal
        if token == ("sym", "field"):
            name = self.take()
            if name[0] != "lit":
                raise XenAPIError(INVALID_VALUE, "expr", "field needs a quoted name")
            return lambda r: shown(r[name[1]]) if name[1] in r else None
        raise XenAPIError(INVALID_VALUE, "expr", "unexpected %r" % (token[1],))
