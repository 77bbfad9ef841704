"""``<class>-param-set``, ``-param-add``, ``-param-remove``, ``-param-clear`` and the generated commands.

As ``cli_operations.ml`` ``make_param_funs`` (``p_set``, ``p_add``,
``p_remove``, ``p_clear``, ``gen_frontend``): which of them a class gets
depends on its fields (settable, addable, clearable), and the failures
carry xapi's texts.
"""

import typing

from sm_clusterstack.cli.xe import select
from sm_clusterstack.cli.xe.errors import CliFailure
from sm_clusterstack.cli.xe.records import MAP, NORMAL, SET, XeClass
from sm_clusterstack.cli.xe.select import STDPARAMS, Params, param


class Command(object):
    """An xe command: required and optional params, help, implementation ``run(ctx, params)``."""

    __slots__ = ("name", "reqd", "optn", "help", "run", "standard", "async_method")

    def __init__(self, name, reqd, optn, help, run, standard=False, async_method=None):
        self.name, self.reqd, self.optn, self.help, self.run = name, reqd, optn, help, run
        self.standard = standard
        self.async_method = async_method


def param_set(ctx, cls: XeClass, params: Params) -> None:
    row = select.one_row(ctx, cls, params)
    for key, value in params:
        if key in ("uuid",) + STDPARAMS:
            continue
        kind, field = select.field_type(cls, key)
        if kind == MAP:
            sub = key[len(field.name) + 1:]
            if field.add is None:
                raise CliFailure("Map field '%s' is read-only." % field.name)
            if sub in row.values(field):
                field.remove(ctx.api, row.ref, sub)
            field.add(ctx.api, row.ref, sub, value)
        elif kind == SET:
            raise CliFailure("Cannot param-set on set fields")
        elif field.set is not None:
            field.set(ctx.api, row.ref, value)
        elif field.kind == MAP and field.add is not None:
            raise CliFailure("Field '%s' is a map or set. use the 'name:key=value' syntax." % key)
        else:
            raise CliFailure("Field '%s' is read-only." % key)


def _named_field(ctx, cls: XeClass, params: Params) -> typing.Tuple[typing.Any, typing.Any]:
    """The row of ``uuid=`` and its field named by ``param-name=`` (xe's order of checks: the object first)."""
    return select.one_row(ctx, cls, params), select.lookup_field(cls, param(params, "param-name"))


def _changeable(field, change: typing.Any, read_only: str, not_set_or_map: str) -> None:
    """Refuse, with xe's text, a change to a field that is no set or map, or has no ``change``."""
    if field.kind not in (SET, MAP):
        raise CliFailure(not_set_or_map)
    if not change:
        raise CliFailure(read_only)


def param_add(ctx, cls: XeClass, params: Params) -> None:
    row, field = _named_field(ctx, cls, params)
    _changeable(field, field.add, "Parameter is read-only", "Can only add to parameters of type Set or Map")
    if field.kind == SET:
        if param(params, "param-key") is None:
            raise CliFailure("When adding a key to a set, use the syntax: *-param-add param-name=<name> "
                             "param-key=<key>")
        field.add(ctx.api, row.ref, param(params, "param-key"))
        return
    for key, value in params:
        if key not in ("uuid", "param-name", "param-key") + STDPARAMS:
            field.add(ctx.api, row.ref, key, value)


def param_remove(ctx, cls: XeClass, params: Params) -> None:
    row, field = _named_field(ctx, cls, params)
    _changeable(field, field.remove, "Cannot remove parameters from read-only map",
                "Can only remove from parameters of type Set or Map")
    key = param(params, "param-key")
    if key not in row.values(field):
        raise CliFailure(("Key %s is not in the set" if field.kind == SET else "Key %s is not in map") % key)
    field.remove(ctx.api, row.ref, key)


def param_clear(ctx, cls: XeClass, params: Params) -> None:
    row, field = _named_field(ctx, cls, params)
    if field.kind in (SET, MAP) and field.remove:
        for member in list(row.values(field)):
            field.remove(ctx.api, row.ref, member)
    elif field.kind == NORMAL and field.set:
        field.set(ctx.api, row.ref, "")
    else:
        raise CliFailure("Can only clear RW parameters")


def _bind(fn, cls):
    return lambda ctx, params: fn(ctx, cls, params)


def generated(cls: XeClass) -> typing.List[Command]:
    """``gen_frontend``: <class>-list, -param-list, -param-get, and -param-set/add/remove/clear where they apply."""
    names = [f.name for f in cls.fields if not f.hidden]
    settable = [f.name for f in cls.fields if f.set] + [f.name + ":" for f in cls.fields if f.kind == MAP and f.add]
    addable = [f.name for f in cls.fields if f.add]
    clearable = [f.name for f in cls.fields if f.set or f.kind in (SET, MAP)]
    commands = [
        Command(cls.xe + "-list", [], ["params", "database:"] + names
                + [f.name + ":contains" for f in cls.fields if f.kind == SET],
                "Lists all the %s, filtering on the optional arguments. To filter on map parameters, use the "
                "syntax 'map-param:key=value'" % cls.plural, _bind(select.list_records, cls),
                standard=cls.xe == "sr"),
        Command(cls.xe + "-param-list", ["uuid"], ["database:"],
                "Lists all the parameters of the object specified by the uuid.", _bind(select.param_list, cls)),
        Command(cls.xe + "-param-get", ["uuid", "param-name"], ["param-key", "database:"],
                "Gets the parameter specified of the object. If the parameter is a map of key=value pairs, use "
                "'param-key=<key>' to get the value associated with a particular key.",
                _bind(select.param_get, cls)),
    ]
    if settable:
        commands.insert(0, Command(
            cls.xe + "-param-set", ["uuid"], settable,
            "Sets the parameter specified. If param-value is not given, the parameter is set to a null value. To "
            "set a (key,value) pair in a map parameter, use the syntax 'map-param:key=value'.",
            _bind(param_set, cls)))
    if addable:
        commands += [
            Command(cls.xe + "-param-add", ["uuid", "param-name"], ["param-key"],
                    "Adds to a set or map parameter. If the parameter is a set, use param-key=<key to add>. If the "
                    "parameter is a map, pass the values to add as 'key=value' pairs.", _bind(param_add, cls)),
            Command(cls.xe + "-param-remove", ["uuid", "param-name", "param-key"], [],
                    "Removes a member or a key,value pair from a set/map respectively.", _bind(param_remove, cls))]
    if clearable:
        commands.append(Command(cls.xe + "-param-clear", ["uuid", "param-name"], [],
                                "Clears the specified parameter (param-name can be %s)." % ",".join(clearable),
                                _bind(param_clear, cls)))
    return commands
