"""XenAPI classes as the shim stores them: table, fields and their kinds.

A record is built from a row: ``str`` and ``ref`` fields as they are,
``int`` as a decimal string (XenAPI's int64 on the wire; ``Int64``, so
that JSON-RPC writes it as a number), ``bool`` as a
boolean, ``map`` and ``set`` decoded from JSON.  Fields no column holds
(``SR.PBDs``, ``PBD.currently_attached``, ...) are computed per batch of
rows, so a get_all_records costs a constant number of queries.
"""

import sqlite3
import time
import typing
import xmlrpc.client

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.db import store

ATTACHED_STATES = ("attached", "unplugging")


class Int64(str):
    """An int64 field's value: a decimal string, as XML-RPC carries it; a number in JSON-RPC (ocaml-rpc)."""

    __slots__ = ()


# XML-RPC writes it as the string it is (xmlrpc.client dispatches on the exact type)
xmlrpc.client.Marshaller.dispatch[Int64] = xmlrpc.client.Marshaller.dispatch[str]

# class -> (table, [(field, kind)]) for stored fields.
STORED = {
    "pool": ("pool", [
        ("uuid", "str"), ("name_label", "str"), ("name_description", "str"), ("master", "ref"),
        ("ha_enabled", "bool"), ("ha_configuration", "map"), ("ha_statefiles", "set"),
        ("ha_cluster_stack", "str"), ("ha_host_failures_to_tolerate", "int"), ("other_config", "map")]),
    "host": ("host", [
        ("uuid", "str"), ("name_label", "str"), ("name_description", "str"), ("hostname", "str"),
        ("address", "str"), ("ha_statefiles", "set"), ("ha_network_peers", "set"), ("other_config", "map"),
        ("enabled", "bool")]),
    "PIF": ("PIF", [
        ("uuid", "str"), ("host", "ref"), ("device", "str"), ("bridge", "str"), ("IP", "str"),
        ("netmask", "str"), ("management", "bool"), ("currently_attached", "bool"), ("other_config", "map")]),
    "host_metrics": ("host_metrics", [
        ("uuid", "str"), ("live", "bool"), ("last_updated", "date"), ("other_config", "map")]),
    "message": ("message", [
        ("uuid", "str"), ("name", "str"), ("priority", "int"), ("cls", "str"), ("obj_uuid", "str"),
        ("timestamp", "date"), ("body", "str")]),
    "SM": ("SM", [
        ("uuid", "str"), ("name_label", "str"), ("name_description", "str"), ("type", "str"),
        ("vendor", "str"), ("copyright", "str"), ("version", "str"), ("required_api_version", "str"),
        ("capabilities", "set"), ("features", "map"), ("configuration", "map"),
        ("driver_filename", "str"), ("required_cluster_stack", "set"), ("other_config", "map")]),
    "SR": ("SR", [
        ("uuid", "str"), ("name_label", "str"), ("name_description", "str"), ("type", "str"),
        ("content_type", "str"), ("shared", "bool"), ("physical_size", "int"),
        ("physical_utilisation", "int"), ("virtual_allocation", "int"), ("sm_config", "map"),
        ("other_config", "map")]),
    "PBD": ("PBD", [
        ("uuid", "str"), ("host", "ref"), ("SR", "ref"), ("device_config", "map"),
        ("other_config", "map")]),
    "VDI": ("VDI", [
        ("uuid", "str"), ("SR", "ref"), ("name_label", "str"), ("name_description", "str"),
        ("type", "str"), ("virtual_size", "int"), ("physical_utilisation", "int"), ("location", "str"),
        ("sm_config", "map"), ("other_config", "map"), ("managed", "bool"), ("read_only", "bool"),
        ("sharable", "bool")]),
}

CONSTANT = {
    "pool": {"default_SR": store.NULL_REF},
    "host": {"API_version_major": "2", "API_version_minor": "21",
             "API_version_vendor": "XenSource"},
    "SR": {"current_operations": {}, "allowed_operations": []},
    "VDI": {"VBDs": [], "current_operations": {}, "allowed_operations": []},
    "SM": {},
    "PBD": {},
    "PIF": {"ip_configuration_mode": "Static", "disallow_unplug": False},
    "host_metrics": {},
    "message": {},
}


def _children(table: str, column: str) -> typing.Callable:
    def compute(conn: sqlite3.Connection, refs: typing.Optional[typing.List[str]]) -> dict:
        found = {}
        if refs is None:
            rows = conn.execute("SELECT %s, ref FROM %s ORDER BY ref" % (column, table))
        else:
            rows = conn.execute("SELECT %s, ref FROM %s WHERE %s IN (%s) ORDER BY ref" % (
                column, table, column, ",".join("?" * len(refs))), refs)
        for parent, ref in rows:
            found.setdefault(parent, []).append(ref)
        return found
    return compute


def _metrics(conn: sqlite3.Connection, refs: typing.Optional[typing.List[str]]) -> dict:
    if refs is None:
        rows = conn.execute("SELECT host, ref FROM host_metrics")
    else:
        rows = conn.execute("SELECT host, ref FROM host_metrics WHERE host IN (%s)" % ",".join("?" * len(refs)), refs)
    return dict(rows.fetchall())


COMPUTED = {
    "host": {"PBDs": (_children("PBD", "host"), []), "PIFs": (_children("PIF", "host"), []),
             "metrics": (_metrics, store.NULL_REF)},
    "SR": {"PBDs": (_children("PBD", "SR"), []), "VDIs": (_children("VDI", "SR"), [])},
}


def table_of(cls: str) -> str:
    """The table holding class ``cls``."""
    return STORED[cls][0]


def field_names(cls: str) -> typing.List[str]:
    """Every field of a record of ``cls``."""
    names = [name for name, _ in STORED[cls][1]] + list(CONSTANT[cls]) + list(COMPUTED.get(cls, {}))
    if cls == "PBD":
        names.append("currently_attached")
    return names


def _value(kind: str, value: typing.Any) -> typing.Any:
    if kind == "int":
        return Int64(value)
    if kind == "bool":
        return bool(value)
    if kind == "date":
        return xmlrpc.client.DateTime(time.strftime("%Y%m%dT%H:%M:%SZ", time.gmtime(value)))
    if kind in ("map", "set"):
        return store.loads(value)
    return value


def from_row(cls: str, row: sqlite3.Row) -> typing.Dict[str, typing.Any]:
    """The stored and constant fields of one row."""
    record = {name: _value(kind, row[name]) for name, kind in STORED[cls][1]}
    record.update({k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
                   for k, v in CONSTANT[cls].items()})
    if cls == "PBD":
        record["currently_attached"] = row["state"] in ATTACHED_STATES
    return record


def records(conn: sqlite3.Connection, cls: str, refs: typing.Optional[typing.List[str]] = None,
            ) -> typing.Dict[str, typing.Dict[str, typing.Any]]:
    """Records of ``cls`` by ref: all of them, or those of ``refs``."""
    table = table_of(cls)
    if refs is None:
        rows = conn.execute("SELECT * FROM %s ORDER BY ref" % table).fetchall()
    else:
        rows = conn.execute("SELECT * FROM %s WHERE ref IN (%s) ORDER BY ref" % (
            table, ",".join("?" * len(refs))), refs).fetchall()
    result = {row["ref"]: from_row(cls, row) for row in rows}
    for name, (compute, empty) in COMPUTED.get(cls, {}).items():
        values = compute(conn, None if refs is None else list(result))
        for ref, record in result.items():
            record[name] = values.get(ref, list(empty) if isinstance(empty, list) else empty)
    return result


def record(conn: sqlite3.Connection, cls: str, ref: str) -> typing.Dict[str, typing.Any]:
    """The record ``ref`` of ``cls``; HANDLE_INVALID if there is none."""
    found = records(conn, cls, [ref])
    if ref not in found:
        raise XenAPIError(errors.HANDLE_INVALID, cls, ref)
    return found[ref]


def check_ref(conn: sqlite3.Connection, cls: str, ref: str) -> sqlite3.Row:
    """The row of ``ref``; HANDLE_INVALID [cls, ref] if it is not a ``cls``."""
    found = store.row(conn, table_of(cls), ref)
    if found is None:
        raise XenAPIError(errors.HANDLE_INVALID, cls, ref)
    return found


def ref_by_uuid(conn: sqlite3.Connection, cls: str, uuid: str) -> str:
    """The ref of the ``cls`` with ``uuid``; UUID_INVALID [cls, uuid] if none."""
    found = conn.execute("SELECT ref FROM %s WHERE uuid = ?" % table_of(cls), (uuid,)).fetchone()
    if found is None:
        raise XenAPIError(errors.UUID_INVALID, cls, uuid)
    return found[0]
