"""xe's printer, record filters, ``params=`` and the generated ``<class>-*`` commands.

All from ``ocaml/xapi-cli-server``: ``cli_printer.ml`` (``make_printer``,
``multi_line_record``, ``escape_commas``) and ``cli_operations.ml``
(``get_field_type``, ``filter_records_on_*``, ``choose_params``,
``select_fields``, ``make_param_funs``: list, param-list, param-get,
param-set, param-add, param-remove, param-clear).
"""

import typing

from sm_clusterstack.cli.xe.errors import CliFailure, MissingParam
from sm_clusterstack.cli.xe.records import MAP, NORMAL, SET, Field, Lookup, XeClass

Params = typing.List[typing.Tuple[str, str]]
STDPARAMS = ("server", "password", "port", "username", "minimal", "force", "multiple", "all",
             "message-priority", "trace")


class Printer(object):
    """cli_printer.ml ``make_printer``: tables and lists, or with --minimal the values comma-joined."""

    def __init__(self, write: typing.Callable[[str], None], minimal: bool = False) -> None:
        self.write = write
        self.minimal = minimal
        self.buffer = []

    def table(self, records: typing.List[typing.List[typing.Tuple[str, str]]]) -> None:
        if not self.minimal:
            for record in records:
                self.write(multi_line_record(record) + "\n\n")
        elif records and all(records):
            self.buffer.insert(0, ",".join(escape_commas(record[0][1]) for record in records))

    def lines(self, items: typing.List[str]) -> None:
        if not self.minimal:
            for item in items:
                self.write(item + "\n")
        else:
            self.buffer.insert(0, ",".join(escape_commas(item) for item in items))

    def flush(self) -> None:
        """At the end of a command: with --minimal, the one line of values (empty when none)."""
        if self.minimal:
            self.write(",".join(self.buffer) + "\n")


def multi_line_record(record: typing.List[typing.Tuple[str, str]]) -> str:
    """The first label left-aligned, the others right-aligned, all to 4 + the longest."""
    width = 4 + max([len(label) for label, _ in record] or [0])
    lines = [(label.ljust(width) if i == 0 else label.rjust(width)) + ": " + value
             for i, (label, value) in enumerate(record)]
    return "\n".join(lines) + "\n"


def escape_commas(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,")


def param(params: Params, name: str, default: typing.Optional[str] = None) -> typing.Optional[str]:
    """The value of ``name`` (the first one given)."""
    for key, value in params:
        if key == name:
            return value
    return default


def bool_param(params: Params, name: str, default: bool = False) -> bool:
    """``get_bool_param``: true/false (OCaml's bool_of_string), else a Failure."""
    value = param(params, name)
    if value is None:
        return default
    if value not in ("true", "false"):
        raise CliFailure("bool_of_string")
    return value == "true"


def map_params(params: Params, name: str) -> typing.Dict[str, str]:
    """``read_map_params``: the ``name:key=value`` items as a map."""
    prefix = name + ":"
    return {k[len(prefix):]: v for k, v in params if k.startswith(prefix) and len(k) > len(prefix)}


def field_type(cls: XeClass, name: str) -> typing.Tuple[str, Field]:
    """``get_field_type``: (NORMAL|MAP|SET, field) for a filter or param-set key."""
    exact = cls.field(name)
    if exact is not None:
        return NORMAL, exact
    if ":" in name:
        field = cls.field(name.split(":", 1)[0])
        if field is None:
            raise CliFailure("Unknown field '%s'" % name)
        if field.kind == NORMAL:
            raise CliFailure("Field '%s' is not a set or map" % field.name)
        return field.kind, field
    for kind in (MAP, SET):
        for field in sorted((f for f in cls.fields if f.kind == kind), key=lambda f: -len(f.name)):
            if name.startswith(field.name + "-"):
                return kind, field
    raise CliFailure("Unknown field '%s'" % name)


class Row(object):
    """One record being listed: its ref, XenAPI record and the command's Lookup."""

    __slots__ = ("ref", "rec", "lookup")

    def __init__(self, ref, rec, lookup):
        self.ref, self.rec, self.lookup = ref, rec, lookup

    def show(self, field: Field) -> str:
        return field.get(self.lookup, self.ref, self.rec)

    def values(self, field: Field) -> typing.Any:
        return field.values(self.lookup, self.ref, self.rec)


def filter_rows(cls: XeClass, rows: typing.List[Row], key: str, value: str) -> typing.List[Row]:
    """``filter_records_on_fields`` for one ``key=value``.

    xe finds the field's kind on the first record, so with no record at all
    it checks nothing (``xe sr-list bogus=1`` passes on a pool without SRs
    and fails on one with SRs); the class's field table tells it here, so an
    unknown field is refused whether or not there are records.
    """
    kind, field = field_type(cls, key)
    sub = key[len(field.name) + 1:]
    if kind == SET and sub != "contains":
        raise CliFailure("Invalid syntax for set filtering (should be set-param:contains=key)")
    if kind == MAP:
        return [row for row in rows if row.values(field).get(sub) == value]
    if kind == SET:
        return [row for row in rows if value in row.values(field)]
    return [row for row in rows if row.show(field) == value]


def chosen_fields(cls: XeClass, params: Params, default: typing.List[str]) -> typing.List[Field]:
    """``choose_params`` + ``select_fields``: params=all, params=a,b (record order), else the defaults.

    xe drops a name that is no field (``params=foo`` prints a blank record
    per object); here it is refused as a filter's unknown field is.
    """
    wanted = param(params, "params")
    names = default if wanted is None else ([] if wanted == "all" else wanted.split(","))
    for name in names:
        if cls.field(name) is None:
            raise CliFailure("Unknown field '%s'" % name)
    fields = [f for f in cls.fields if not names or f.name in names]
    return [f for f in fields if not f.hidden]


def rows_of(api: typing.Any, cls: XeClass, lookup: Lookup) -> typing.List[Row]:
    """Every record of ``cls`` (``get_all_records_where "true"``, as ``list`` asks), in ref order."""
    found = getattr(api, cls.api).get_all_records_where("true")
    rows = []
    for ref in sorted(found):
        lookup.remember(cls.api, ref, found[ref])
        rows.append(Row(ref, found[ref], lookup))
    return rows


def list_records(ctx, cls: XeClass, params: Params) -> None:
    """``<class>-list`` (every list command): filter on every param but params=, the standard ones and database:.

    Filter fields and ``params=`` names are checked against the class before any record is read.
    """
    fields = chosen_fields(cls, params, cls.default_params)
    filters = [(k, v) for k, v in params if k not in ("params",) + STDPARAMS and not k.startswith("database:")]
    for key, _ in filters:
        filter_rows(cls, [], key, "")
    rows = all_rows = rows_of(ctx.api, cls, ctx.lookup)
    for key, value in filters:
        rows = filter_rows(cls, rows, key, value)
    shown = all_rows if bool_param(params, "all") else rows
    ctx.printer.table([[(f.label, row.show(f)) for f in fields] for row in shown])


def one_row(ctx, cls: XeClass, params: Params) -> Row:
    """The record named by uuid= (UUID_INVALID from the server when there is none)."""
    proxy = getattr(ctx.api, cls.api)
    ref = proxy.get_by_uuid(param(params, "uuid"))
    record = proxy.get_record(ref)
    ctx.lookup.remember(cls.api, ref, record)
    return Row(ref, record, ctx.lookup)


def lookup_field(cls: XeClass, name: str) -> Field:
    """``field_lookup``: the field called ``name`` or CLI_failed_to_find_param."""
    field = cls.field(name)
    if field is None:
        raise MissingParam(name)
    return field


def param_list(ctx, cls: XeClass, params: Params) -> None:
    row = one_row(ctx, cls, params)
    ctx.printer.table([[(f.label, row.show(f)) for f in cls.fields if not f.hidden]])


def param_get(ctx, cls: XeClass, params: Params) -> None:
    row = one_row(ctx, cls, params)
    field = lookup_field(cls, param(params, "param-name"))
    key = param(params, "param-key")
    if key is not None and field.kind == MAP:
        found = row.values(field)
        if key not in found:
            raise CliFailure("Key %s not found in map" % key)
        ctx.printer.lines([found[key]])
    else:
        ctx.printer.lines([row.show(field)])
