"""The xe view of a XenAPI record: field names, how each prints, which can be set.

As xapi's ``ocaml/xapi-cli-server/records.ml``: each xe class has an
ordered list of fields named in xe's dashed form; a field prints as a
string (refs as the uuid of the object, ``<not in database>`` when there
is none; maps as ``k: v; k2: v2``; sets joined by ``; ``); map and set
fields can also be read as such (for ``map:key=`` filters and
``*-param-get param-key=``), and a field is settable when it has a setter.
The fields are those of records.ml that the shim's records carry, in
records.ml's order; ``default_params`` are ``*-list``'s columns from
``cli_operations.ml`` ``gen_cmds``.
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


def text(name, key, set_method=None, **kw):
    return Field(name, lambda lk, ref, rec: str(rec.get(key, "")), set=_setter(set_method), **kw)


def boolean(name, key, **kw):
    return Field(name, lambda lk, ref, rec: show_bool(rec.get(key, False)), **kw)


def joined(name, key, sep="; ", **kw):
    return Field(name, lambda lk, ref, rec: sep.join(str(v) for v in rec.get(key, [])), **kw)


def ref_uuid(name, key, cls, **kw):
    return Field(name, lambda lk, ref, rec: lk.uuid(cls, rec.get(key, NULL_REF)), **kw)


def ref_name(name, key, cls, **kw):
    return Field(name, lambda lk, ref, rec: lk.name(cls, rec.get(key, NULL_REF)), **kw)


def ref_uuids(name, key, cls, **kw):
    """A set of refs printed as their uuids (records.ml ``get_uuids_from_refs``)."""
    def values(lk, ref, rec):
        return [lk.uuid(cls, r) for r in rec.get(key, [])]
    return Field(name, lambda lk, ref, rec: "; ".join(values(lk, ref, rec)), kind=SET, values=values, **kw)


def map_field(name, key, api_class=None, **kw):
    """A map; with ``api_class`` it is RW through ``<class>.add_to_<key>`` / ``remove_from_<key>``."""
    def add(api, ref, k, v):
        getattr(getattr(api, api_class), "add_to_" + key)(ref, k, v)

    def remove(api, ref, k):
        getattr(getattr(api, api_class), "remove_from_" + key)(ref, k)
    return Field(name, lambda lk, ref, rec: show_map(rec.get(key)), kind=MAP,
                 values=lambda lk, ref, rec: dict(rec.get(key) or {}),
                 add=add if api_class else None, remove=remove if api_class else None, **kw)


def map_text(name, key, **kw):
    """A map printed like one but, as records.ml has no get_map for it, filtered as plain text."""
    return Field(name, lambda lk, ref, rec: show_map(rec.get(key)), **kw)


def _setter(method):
    if method is None:
        return None
    cls, name = method.split(".")

    def set_value(api, ref, value):
        getattr(getattr(api, cls), name)(ref, value)
    return set_value


def _sr_host(lk, ref, rec):
    """records.ml sr_record ``host``: <shared> for several PBDs, else the one PBD's host name."""
    pbds = rec.get("PBDs", [])
    if len(pbds) > 1:
        return "<shared>"
    pbd = lk.record("PBD", pbds[0]) if pbds else None
    return lk.name("host", pbd["host"]) if pbd else NOT_IN_DATABASE


def _progress(lk, ref, rec):
    return "%.3f" % float(rec.get("progress", 0.0))


def _time(key):
    def show(lk, ref, rec):
        value = rec.get(key)
        return str(getattr(value, "value", value) or "")
    return show


def _host_metrics_live(lk, ref, rec):
    metrics = lk.record("host_metrics", rec.get("metrics", NULL_REF))
    return show_bool(metrics["live"]) if metrics else NOT_IN_DATABASE
