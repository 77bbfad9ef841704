"""The xe view of a XenAPI record: field names, how each prints, which can be set.

As xapi's ``ocaml/xapi-cli-server/records.ml``: each xe class has an
ordered list of fields named in xe's dashed form; a field prints as a
string (refs as the uuid of the object, ``<not in database>`` when there
is none; maps as ``k: v; k2: v2``; sets joined by ``; ``); map and set
fields can also be read as such (for ``map:key=`` filters and
``*-param-get param-key=``), and a field is settable when it has a setter.
The fields are those of records.ml that the shim's records carry, in
records.ml's order; ``default_params`` are ``*-list``'s columns from
``cli_operations.ml`` ``gen_cmds``.  A class's fields are written as a
table, a field a line (``field_table``): the xe name, the kind of field
(``TEXT``, ``REF``, ``MAP_RW``, ...: how it prints, is read and changed),
the record's key, and the class of the refs for a ref field.
"""

import typing

NULL_REF = "OpaqueRef:NULL"
NOT_IN_DATABASE = "<not in database>"  # records.ml nid
NORMAL, MAP, SET = "normal", "map", "set"
REF_CLASSES = ("pool", "host", "SR", "PBD", "SM", "VDI", "task", "host_metrics")


class Lookup(object):
    """Refs to uuids and name-labels for one command (xapi's Ref_index), records cached."""

    def __init__(self, api: typing.Any) -> None:
        self.api = api
        self.cache = {}  # (class, ref) -> record or None

    def remember(self, cls: str, ref: str, record: dict) -> None:
        self.cache[(cls, ref)] = record

    def record(self, cls: str, ref: str) -> typing.Optional[dict]:
        """The record of ``ref`` (None for a null ref or one the server does not know)."""
        if not isinstance(ref, str) or not ref.startswith("OpaqueRef:") or ref == NULL_REF:
            return None
        key = (cls, ref)
        if key not in self.cache:
            try:
                self.cache[key] = getattr(self.api, cls).get_record(ref)
            except Exception:  # HANDLE_INVALID, or a class the server lacks: not in its database
                self.cache[key] = None
        return self.cache[key]

    def uuid(self, cls: str, ref: str) -> str:
        """records.ml ``get_uuid_from_ref``."""
        found = self.record(cls, ref)
        return found["uuid"] if found else NOT_IN_DATABASE

    def name(self, cls: str, ref: str) -> str:
        """records.ml ``get_name_from_ref``."""
        found = self.record(cls, ref)
        return found["name_label"] if found and "name_label" in found else NOT_IN_DATABASE

    def convert(self, value: str) -> str:
        """cli_util.ml ``ref_convert``: a ref of any class as ``uuid (name-label)``; anything else as is."""
        if not isinstance(value, str) or not value.startswith("OpaqueRef:"):
            return value
        for cls in REF_CLASSES:
            found = self.record(cls, value)
            if found:
                return found["uuid"] + (" (%s)" % found["name_label"] if "name_label" in found else "")
        return value


class Field(object):
    """One xe field: how it prints, and how it is read as a map or set and changed."""

    __slots__ = ("name", "get", "kind", "values", "set", "add", "remove", "hidden", "deprecated")

    def __init__(self, name, get, kind=NORMAL, values=None, set=None, add=None, remove=None,
                 hidden=False, deprecated=False):
        self.name = name
        self.get = get          # (lookup, ref, record) -> str
        self.kind = kind
        self.values = values    # (lookup, ref, record) -> dict or list, for MAP and SET
        self.set = set          # (api, ref, text) -> None
        self.add = add          # MAP: (api, ref, key, value); SET: (api, ref, member)
        self.remove = remove    # MAP: (api, ref, key); SET: (api, ref, member)
        self.hidden = hidden
        self.deprecated = deprecated

    @property
    def label(self) -> str:
        """The name with its mode as ``print_field`` shows it: ``name ( RO)``, ``name (MRW)``, ..."""
        if self.kind == SET:
            mode = "SRW" if self.add else "SRO"
        elif self.kind == MAP:
            mode = "MRW" if self.add else "MRO"
        else:
            mode = " RW" if self.set else " RO"
        return "%s (%s)%s" % (self.name, mode, " [DEPRECATED]" if self.deprecated else "")


class XeClass(object):
    """An xe class: its XenAPI class, fields, and ``*-list``'s default columns."""

    __slots__ = ("xe", "api", "fields", "default_params", "plural")

    def __init__(self, xe, api, fields, default_params):
        self.xe = xe
        self.api = api
        self.fields = fields
        self.default_params = default_params
        self.plural = xe + "s"

    def field(self, name: str) -> typing.Optional[Field]:
        found = [f for f in self.fields if f.name == name]
        return found[0] if len(found) == 1 else None


def show_bool(value: typing.Any) -> str:
    return "true" if value is True or value == "true" else "false"


def show_map(value: typing.Any) -> str:
    """records.ml ``get_from_map``."""
    return "; ".join("%s: %s" % (k, v) for k, v in (value or {}).items())


# The second word of a row of a class's field table: how the field shows the record's value (records.ml's
# get, and get_set or get_map where it has them); the third word is the record's key, a fourth an argument
TEXT = "text"                  # the value as a string
SETTABLE = "settable"          # the same, set through ``<class>.set_<key>``
BOOLEAN = "boolean"            # true / false
JOINED = "joined"              # a list joined by "; "
COMMA_JOINED = "comma-joined"  # a list joined by ", "
REF = "ref"                    # a ref as the uuid of its object (argument: the object's class)
REF_NAME = "ref-name"          # a ref as the name-label of its object (argument: its class)
REFS = "refs"                  # a set of refs as their uuids (argument: their class)
REFS_TEXT = "refs-text"        # refs as their uuids, printed only (records.ml has no get_set for it)
STRINGS = "strings"            # a set of strings
OPERATIONS = "operations"      # the set of current operations (a map's values)
OPERATIONS_TEXT = "operations-text"  # the same, printed only
MAP_RO = "map"                 # a map
MAP_RW = "map-rw"              # a map changed through ``<class>.add_to_<key>`` / ``remove_from_<key>``
MAP_TEXT = "map-text"          # a map printed like one but, as records.ml has no get_map for it, filtered as text
TIME = "time"                  # a DateTime
COMPUTED = "computed"          # computed from more than one value: the key names the function (COMPUTED_BY)
DEPRECATED = "deprecated"      # a last word: the field is shown with [DEPRECATED]
OF_A_CLASS = (REF, REF_NAME, REFS, REFS_TEXT)  # the kinds whose row has an argument: the class of the refs


def field_table(api_class: str, table: str) -> typing.List[Field]:
    """The fields of an xe class from its table: a row a line, ``name how key [argument] [deprecated]``."""
    return [_field(api_class, *line.split()) for line in table.strip().splitlines()]


def _field(api_class, name, how, key, *rest) -> Field:
    argument = [word for word in rest if word != DEPRECATED]
    if how not in _BUILD:
        raise ValueError("xe field table of %s, row %s: no kind of field %r" % (api_class, name, how))
    if len(argument) != (how in OF_A_CLASS):
        raise ValueError("xe field table of %s, row %s: %s %s" % (
            api_class, name, how, "takes the class of its refs" if how in OF_A_CLASS else "takes no argument"))
    return _BUILD[how](name, key, api_class, argument[0] if argument else None, deprecated=DEPRECATED in rest)


def _text(name, key, api_class, argument, **kw):
    return Field(name, lambda lk, ref, rec: str(rec.get(key, "")), **kw)


def _settable(name, key, api_class, argument, **kw):
    def set_value(api, ref, value):
        getattr(getattr(api, api_class), "set_" + key)(ref, value)
    return Field(name, lambda lk, ref, rec: str(rec.get(key, "")), set=set_value, **kw)


def _boolean(name, key, api_class, argument, **kw):
    return Field(name, lambda lk, ref, rec: show_bool(rec.get(key, False)), **kw)


def _joined(separator):
    def build(name, key, api_class, argument, **kw):
        return Field(name, lambda lk, ref, rec: separator.join(str(v) for v in rec.get(key, [])), **kw)
    return build


def _ref(name, key, api_class, argument, **kw):
    return Field(name, lambda lk, ref, rec: lk.uuid(argument, rec.get(key, NULL_REF)), **kw)


def _ref_name(name, key, api_class, argument, **kw):
    return Field(name, lambda lk, ref, rec: lk.name(argument, rec.get(key, NULL_REF)), **kw)


def _members(key, argument, how):
    """The members of a set-like field as strings, as (lookup, ref, record) -> list."""
    if how == REFS:
        return lambda lk, ref, rec: [lk.uuid(argument, r) for r in rec.get(key, [])]
    if how == OPERATIONS:
        return lambda lk, ref, rec: list(rec.get(key, {}).values())
    return lambda lk, ref, rec: list(rec.get(key, []))


def _listed(how, as_set):
    """Members joined by "; "; as a set (records.ml get_set) or, where records.ml has no get_set, as text."""
    def build(name, key, api_class, argument, **kw):
        values = _members(key, argument, how)

        def show(lk, ref, rec):
            return "; ".join(values(lk, ref, rec))
        return Field(name, show, kind=SET, values=values, **kw) if as_set else Field(name, show, **kw)
    return build


def _map(writable):
    """A map; a writable one through ``<class>.add_to_<key>`` / ``remove_from_<key>``."""
    def build(name, key, api_class, argument, **kw):
        def add(api, ref, k, v):
            getattr(getattr(api, api_class), "add_to_" + key)(ref, k, v)

        def remove(api, ref, k):
            getattr(getattr(api, api_class), "remove_from_" + key)(ref, k)
        return Field(name, lambda lk, ref, rec: show_map(rec.get(key)), kind=MAP,
                     values=lambda lk, ref, rec: dict(rec.get(key) or {}),
                     add=add if writable else None, remove=remove if writable else None, **kw)
    return build


def _map_text(name, key, api_class, argument, **kw):
    return Field(name, lambda lk, ref, rec: show_map(rec.get(key)), **kw)


def _time_field(name, key, api_class, argument, **kw):
    return Field(name, _time(key), **kw)


def _computed(name, key, api_class, argument, **kw):
    return Field(name, COMPUTED_BY[key], **kw)


_BUILD = {
    TEXT: _text, SETTABLE: _settable, BOOLEAN: _boolean, JOINED: _joined("; "), COMMA_JOINED: _joined(", "),
    REF: _ref, REF_NAME: _ref_name, REFS: _listed(REFS, True), REFS_TEXT: _listed(REFS, False),
    STRINGS: _listed(STRINGS, True), OPERATIONS: _listed(OPERATIONS, True),
    OPERATIONS_TEXT: _listed(OPERATIONS, False), MAP_RO: _map(False), MAP_RW: _map(True), MAP_TEXT: _map_text,
    TIME: _time_field, COMPUTED: _computed,
}


def sr_host(lk, ref, rec) -> str:
    """records.ml sr_record ``host``: <shared> for several PBDs, else the one PBD's host name."""
    pbds = rec.get("PBDs", [])
    if len(pbds) > 1:
        return "<shared>"
    pbd = lk.record("PBD", pbds[0]) if pbds else None
    return lk.name("host", pbd["host"]) if pbd else NOT_IN_DATABASE


def task_progress(lk, ref, rec) -> str:
    """records.ml task_record ``progress``: three decimals."""
    return "%.3f" % float(rec.get("progress", 0.0))


def _time(key):
    def show(lk, ref, rec):
        value = rec.get(key)
        return str(getattr(value, "value", value) or "")
    return show


def host_metrics_live(lk, ref, rec) -> str:
    """records.ml host_record ``host-metrics-live``: its host_metrics' live."""
    metrics = lk.record("host_metrics", rec.get("metrics", NULL_REF))
    return show_bool(metrics["live"]) if metrics else NOT_IN_DATABASE


COMPUTED_BY = {"sr_host": sr_host, "task_progress": task_progress, "host_metrics_live": host_metrics_live}
