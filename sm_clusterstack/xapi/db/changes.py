"""What xapi's event.from makes of the change record: tokens, subscriptions, one event per object; pure.

As ``ocaml/xapi/xapi_event.ml``: a token is ``"%020d,%020d"`` of the last
generation the client has and the message generation (``Token``; ``""`` is
0,0; anything else ``Failed_to_parse``, which event.from raises as
EVENT_FROM_TOKEN_PARSE_FAILURE [token]); a subscription is ``*``, a class
or ``class/ref``, the class compared in lower case (``Subscription``; any
string parses, a class that does not exist just never matches).
``collect_events`` gives each object that changed after the token one
event: ``add`` when it was created since (its creation's generation),
else ``mod`` (its last change's), ``del`` when it was deleted since and
created before (nothing when both); the new token's generation is the
newest matching change, or the old one.  xapi hands them out deletions
first, then modifications, then creations; the shim in generation order,
which is the order they were committed.
"""

import re
import typing

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError

ALL = "*"
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
_INT64 = re.compile(r"([-+]?)(0[xX][0-9a-fA-F][0-9a-fA-F_]*|0[oO][0-7][0-7_]*|0[bB][01][01_]*|0[uU][0-9][0-9_]*"
                    r"|[0-9][0-9_]*)\Z")
_BASES = {"0x": 16, "0o": 8, "0b": 2, "0u": 10}  # read as unsigned: up to 2^64 - 1, wrapping to negative


def int64_of_string(text: str) -> int:
    """OCaml's ``Int64.of_string``: decimal, 0x/0o/0b/0u, a sign, ``_`` ignored; ValueError otherwise."""
    match = _INT64.match(text)
    if not match:
        raise ValueError(text)
    sign, body = match.group(1), match.group(2).replace("_", "")
    base = _BASES.get(body[:2].lower())
    number = int(body[2:], base) if base else int(body)
    if number > ((1 << 64) - 1 if base else INT64_MAX + (sign == "-")):
        raise ValueError(text)
    number = -number if sign == "-" else number
    return number - (1 << 64) if number > INT64_MAX else number


def parse_token(token: str) -> typing.Tuple[int, int]:
    """(generation, message generation) of an event.from token; EVENT_FROM_TOKEN_PARSE_FAILURE [token]."""
    parts = token.split(",")
    try:
        if parts == [""]:
            return 0, 0
        if len(parts) == 2:
            return int64_of_string(parts[0]), int64_of_string(parts[1])
    except ValueError:
        pass
    raise XenAPIError(errors.EVENT_FROM_TOKEN_PARSE_FAILURE, token)


def format_token(generation: int, message_generation: int = 0) -> str:
    """The token of ``generation`` (zero-padded, so that tokens compare as strings)."""
    return "%020d,%020d" % (generation, message_generation)


class Subscription(object):
    """A parsed list of subscriptions: ``*``, classes, ``class/ref`` objects."""

    def __init__(self, names: typing.Sequence[str]) -> None:
        self.names = list(names)
        self.all = ALL in names
        self.classes = {n.lower() for n in names if n != ALL and "/" not in n}
        self.objects = {(n.split("/", 1)[0].lower(), n.split("/", 1)[1]) for n in names if n != ALL and "/" in n}

    def table_matches(self, cls: str) -> bool:
        """Whether any subscription may select objects of ``cls``."""
        cls = cls.lower()
        return self.all or cls in self.classes or any(c == cls for c, _ in self.objects)

    def matches(self, cls: str, ref: str) -> bool:
        """Whether the object ``ref`` of ``cls`` is selected."""
        cls = cls.lower()
        return self.all or cls in self.classes or (cls, ref) in self.objects

    def is_task_only(self) -> bool:
        """Only tasks (xapi waits less before looking: ``event_from_task_delay``)."""
        return not self.all and all(c == "task" for c in self.classes | {c for c, _ in self.objects})


class Entry(object):
    """One event of an event.from answer (before its snapshot): op, class, ref and generation."""

    __slots__ = ("op", "cls", "ref", "id")

    def __init__(self, op: str, cls: str, ref: str, generation: int) -> None:
        self.op = op
        self.cls = cls
        self.ref = ref
        self.id = generation

    def __repr__(self) -> str:
        return "Entry(%s, %s, %s, %d)" % (self.op, self.cls, self.ref, self.id)


def collect_events(changes: typing.Iterable[typing.Any], since: int, subs: Subscription,
                   ) -> typing.Tuple[typing.List[Entry], int]:
    """(the events of ``changes`` after ``since`` that ``subs`` selects, one per object, the new generation).

    ``changes`` are the record's rows in generation order (``id``, ``cls``,
    ``ref``, ``op``).  Mirrors ``xapi_event.ml`` ``collect_events``.
    """
    objects = {}  # (cls, ref) -> [created, last, deleted]
    last = since
    for change in changes:
        if change.id <= since or not subs.matches(change.cls, change.ref):
            continue
        last = max(last, change.id)
        seen = objects.setdefault((change.cls, change.ref), [0, 0, 0])
        seen[0] = change.id if change.op == "add" else seen[0]
        seen[1] = change.id
        seen[2] = change.id if change.op == "del" else seen[2]
    entries = []
    for (cls, ref), (created, modified, deleted) in objects.items():
        if deleted:
            if not created:
                entries.append(Entry("del", cls, ref, deleted))
        elif created:
            entries.append(Entry("add", cls, ref, created))
        else:
            entries.append(Entry("mod", cls, ref, modified))
    entries.sort(key=lambda e: e.id)
    return entries, last
