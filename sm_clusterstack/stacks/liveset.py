"""The liveset: what ``ha_query_liveset`` prints, read exactly as xapi reads it.

``parse`` is ``LiveSetInformation.of_xml_string`` of
``ocaml/xapi/xha_interface.ml`` (xapi-project/xen-api) over the tree of
``stacks.xmllight``.  Its rules, each from that module:

- root ``ha_liveset_info``; attributes and unknown elements are ignored
  everywhere; of ``status``, ``localhost``, ``raw_status_on_local_host``,
  ``warning_on_local_host`` the *first* counts (``first_xml_element_with_name``);
- ``status``: exactly one text child, no white space around it, any case
  (``Status.of_string``: ``String.lowercase_ascii``);
- ``localhost``: its first child is ``HostID`` holding only text, read
  untrimmed (``Xml.Element ("HostID", _, [PCData id]) :: _``, commit
  48b9aa347d CA-415952: real xhad prints ``HostIndex`` after it);
- every ``host``: ``HostID`` and the five flags, each trimmed, booleans
  ``true``/``false`` in any case (``bool_of_string (lowercase_ascii s)``);
  a leaf is read from its first text child; a repeated leaf: the last wins
  (``Hashtbl.find`` after ``Hashtbl.add_seq``);
- ``raw_status_on_local_host``, if present: all nine latencies, OCaml
  ``int_of_string`` integers, and each ``host_raw_data`` all five fields;
- stack notes (``NOTES``), optional text leaves of
  ``raw_status_on_local_host`` that xapi ignores (an unknown element): a
  stack's word for ``ha status`` (why the host has no kernel watchdog,
  how its kernel fence is made, why its statefile I/O is buffered, whose slots it did not trust);
- ``warning_on_local_host``, if present: all five warnings, each true only
  when exactly ``TRUE`` (``find x = "TRUE"``);
- uuids: ``Uuidm.of_string ~pos:0`` (dbuenzli/uuidm): 8-4-4-4-12 hex in
  either case at the start; characters after the 36th are not read.

Parsed uuids are in lower case (``Uuidx.to_string``).  ``to_xml`` writes a
document these rules accept; warnings not given are written FALSE.
"""

import re
import typing

from sm_clusterstack.stacks import ocamlvalues, xmllight
from sm_clusterstack.xmlsafe import XMLFormatError

STATUSES = ("Online", "Offline", "Starting")
HOST_FLAGS = ("liveness", "master", "statefile_access", "statefile_corrupted", "excluded")
RAW_LATENCIES = (
    "statefile_latency", "statefile_latency_min", "statefile_latency_max",
    "heartbeat_latency", "heartbeat_latency_min", "heartbeat_latency_max",
    "Xapi_healthcheck_latency", "Xapi_healthcheck_latency_min", "Xapi_healthcheck_latency_max",
)
HOST_RAW_FIELDS = (
    "time_since_last_update_on_statefile", "time_since_last_heartbeat",
    "time_since_xapi_restart_first_attempted",
)
HOST_RAW_LISTS = ("heartbeat_active_list_on_heartbeat", "heartbeat_active_list_on_statefile")
# text leaves of raw_status_on_local_host xapi does not read
NOTES = ("watchdog", "fence", "statefile_io", "statefile_blocks")
WARNINGS = (
    "statefile_lost", "heartbeat_approaching_timeout", "statefile_approaching_timeout",
    "Xapi_healthcheck_approaching_timeout", "network_bonding_error",
)


class LivesetHost(object):
    """One host's line of the liveset."""

    __slots__ = ("host_id",) + HOST_FLAGS

    def __init__(
            self,
            host_id: str,
            liveness: bool = False,
            master: bool = False,
            statefile_access: bool = False,
            statefile_corrupted: bool = False,
            excluded: bool = False,
    ) -> None:
        self.host_id = host_id
        self.liveness = liveness
        self.master = master
        self.statefile_access = statefile_access
        self.statefile_corrupted = statefile_corrupted
        self.excluded = excluded

    def __repr__(self):
        flags = ", ".join("%s=%s" % (f, getattr(self, f)) for f in HOST_FLAGS)
        return "LivesetHost(%r, %s)" % (self.host_id, flags)


class Liveset(object):
    """A liveset: status, localhost, hosts, and the optional blocks.

    ``raw_status`` maps each of the nine latency names to an int ({} when
    absent); ``host_raw_data`` maps a HostID to its five fields (ints, and
    lists of HostIDs); ``warnings`` maps a warning name to a bool ({} when
    absent); ``notes`` maps a name of NOTES to its text (written only with
    the raw status).
    """

    def __init__(
            self,
            status: str,
            localhost: str,
            hosts: typing.List[LivesetHost],
            raw_status: typing.Optional[typing.Dict[str, int]] = None,
            host_raw_data: typing.Optional[typing.Dict[str, dict]] = None,
            warnings: typing.Optional[typing.Dict[str, bool]] = None,
            notes: typing.Optional[typing.Dict[str, str]] = None,
    ) -> None:
        self.status = status
        self.localhost = localhost
        self.hosts = list(hosts)
        self.raw_status = dict(raw_status or {})
        self.host_raw_data = dict(host_raw_data or {})
        self.warnings = dict(warnings or {})
        self.notes = dict(notes or {})

    def host(self, host_id: str) -> LivesetHost:
        """The entry of ``host_id``, the last one if repeated, as xapi's table (KeyError if absent)."""
        for host in reversed(self.hosts):
            if host.host_id.lower() == host_id.lower():
                return host
        raise KeyError(host_id)

    def find(self, host_id: str) -> typing.Optional[LivesetHost]:
        """The entry of ``host_id`` as ``host`` finds it, or None when the liveset has none."""
        try:
            return self.host(host_id)
        except KeyError:
            return None

    def live_hosts(self) -> typing.List[str]:
        """HostIDs whose liveness is TRUE, in liveset order."""
        return [h.host_id for h in self.hosts if h.liveness]

    def to_xml(self) -> bytes:
        """The liveset document a stack prints."""
        return to_xml(self)


# --- parsing -----------------------------------------------------------------


def _error(text: str) -> XMLFormatError:
    return XMLFormatError("liveset: %s" % text)


def _uuid(text: str, where: str) -> str:
    found = ocamlvalues.uuid_of_string(text)
    if found is None:
        raise _error("invalid uuid value %r within '%s' element" % (text, where))
    return found


def _first(elements: typing.List[xmllight.Element], name: str) -> typing.Optional[xmllight.Element]:
    for element in elements:
        if element.name == name:
            return element
    return None


def _leaves(node: xmllight.Element) -> typing.Dict[str, str]:
    """``hash_table_of_leaf_xml_element_list``: name -> trimmed first text; the last one wins."""
    table = {}
    for child in node.elements():
        if not child.children:
            table[ocamlvalues.trim(child.name)] = ""
        elif isinstance(child.children[0], str):
            table[ocamlvalues.trim(child.name)] = ocamlvalues.trim(child.children[0])
    return table


def _find(table: typing.Dict[str, str], name: str, where: str) -> str:
    if name not in table:
        raise _error("Missing entry '%s' within '%s' element" % (name, where))
    return table[name]


def _int(table: typing.Dict[str, str], name: str, where: str) -> int:
    value = _find(table, name, where)
    number = ocamlvalues.int_of_string(value)
    if number is None:
        raise _error("Invalid integer value %r of '%s' within '%s' element" % (value, name, where))
    return number


def _bool(table: typing.Dict[str, str], name: str) -> bool:
    value = _find(table, name, "host")
    found = ocamlvalues.bool_of_string(ocamlvalues.lowercase_ascii(value))
    if found is None:
        raise _error("Invalid boolean value %r of '%s' within 'host' element" % (value, name))
    return found


def _status(elements: typing.List[xmllight.Element]) -> str:
    node = _first(elements, "status")
    if node is None or len(node.children) != 1 or not isinstance(node.children[0], str):
        raise _error("Invalid or missing 'status' element.")
    text = ocamlvalues.lowercase_ascii(node.children[0])
    for status in STATUSES:
        if text == status.lower():
            return status
    raise _error("Invalid status string %r." % node.children[0])


def _localhost(elements: typing.List[xmllight.Element]) -> str:
    node = _first(elements, "localhost")
    first = node.children[0] if node is not None and node.children else None
    if (not isinstance(first, xmllight.Element) or first.name != "HostID" or len(first.children) != 1
            or not isinstance(first.children[0], str)):
        raise _error("Invalid or missing 'localhost' element.")
    return _uuid(first.children[0], "localhost")


def _host(node: xmllight.Element) -> LivesetHost:
    table = _leaves(node)
    host_id = _uuid(_find(table, "HostID", "host"), "host")
    return LivesetHost(host_id, **{flag: _bool(table, flag) for flag in HOST_FLAGS})


def _host_raw(node: xmllight.Element) -> typing.Tuple[str, dict]:
    where = "host_raw_data"
    table = _leaves(node)
    host_id = _uuid(_find(table, "HostID", where), where)
    fields = {name: _int(table, name, where) for name in HOST_RAW_FIELDS}  # type: typing.Dict[str, typing.Any]
    for name in HOST_RAW_LISTS:
        fields[name] = [_uuid(word, where) for word in ocamlvalues.fields(_find(table, name, where))]
    return host_id, fields


def _raw_status(elements: typing.List[xmllight.Element]) -> typing.Tuple[dict, dict]:
    node = _first(elements, "raw_status_on_local_host")
    if node is None:
        return {}, {}
    table = _leaves(node)
    host_raw = dict(_host_raw(child) for child in node.elements() if child.name == "host_raw_data")
    return {name: _int(table, name, node.name) for name in RAW_LATENCIES}, host_raw


def _notes(elements: typing.List[xmllight.Element]) -> typing.Dict[str, str]:
    node = _first(elements, "raw_status_on_local_host")
    table = _leaves(node) if node is not None else {}
    return {name: table[name].strip() for name in NOTES if table.get(name, "").strip()}


def _warnings(elements: typing.List[xmllight.Element]) -> typing.Dict[str, bool]:
    node = _first(elements, "warning_on_local_host")
    if node is None:
        return {}
    table = _leaves(node)
    return {name: _find(table, name, node.name) == "TRUE" for name in WARNINGS}


def parse(data: typing.Union[bytes, str]) -> Liveset:
    """Parse a liveset as xapi does; XMLFormatError says what xapi would refuse."""
    try:
        root = xmllight.parse(data)
    except XMLFormatError as e:
        raise _error(str(e))
    if root.name != "ha_liveset_info":
        raise _error("Invalid or missing 'ha_liveset_info' element (root is <%s>)." % root.name)
    elements = root.elements()
    raw, host_raw = _raw_status(elements)
    hosts = [_host(node) for node in elements if node.name == "host"]
    return Liveset(_status(elements), _localhost(elements), hosts, raw, host_raw, _warnings(elements),
                   _notes(elements))


# --- writing -----------------------------------------------------------------


def _text(value: bool) -> str:
    return "TRUE" if value else "FALSE"


def _check_writable(liveset: Liveset) -> None:
    missing = [n for n in RAW_LATENCIES if n not in liveset.raw_status]
    if (liveset.raw_status or liveset.host_raw_data) and missing:
        raise ValueError("liveset raw status needs all nine latencies: %s missing" % ", ".join(missing))
    for host_id, fields in liveset.host_raw_data.items():
        lacking = [n for n in HOST_RAW_FIELDS + HOST_RAW_LISTS if n not in fields]
        if lacking:
            raise ValueError("liveset host_raw_data of %s lacks %s" % (host_id, ", ".join(lacking)))
    unknown = sorted(set(liveset.warnings) - set(WARNINGS)) + sorted(set(liveset.notes) - set(NOTES))
    if unknown or liveset.status not in STATUSES:
        raise ValueError("liveset: unknown warning(s) %s or status %r" % (unknown, liveset.status))


Node = typing.Tuple[str, typing.Any]  # (name, text) or (name, [child nodes])


def _raw_block(liveset: Liveset) -> Node:
    leaves = [(name, str(liveset.raw_status[name])) for name in RAW_LATENCIES]
    leaves += [(name, liveset.notes[name]) for name in NOTES if liveset.notes.get(name)]
    for host_id, fields in sorted(liveset.host_raw_data.items()):
        leaves.append(("host_raw_data", [("HostID", host_id)] + [(n, str(fields[n])) for n in HOST_RAW_FIELDS]
                       + [(n, " ".join(fields[n])) for n in HOST_RAW_LISTS]))
    return ("raw_status_on_local_host", leaves)


def to_xml(liveset: Liveset) -> bytes:
    """Serialise ``liveset`` so that xapi reads it back; ValueError for a partial optional block.

    Written as lxml's ``tostring(pretty_print=True)`` writes the tree (two
    spaces a level, text escaped), without loading lxml: the corosync-ha
    scripts and daemon stay small.
    """
    _check_writable(liveset)
    children = [("status", liveset.status), ("localhost", [("HostID", liveset.localhost)])]
    for host in liveset.hosts:
        children.append(("host", [("HostID", host.host_id)] + [(f, _text(getattr(host, f))) for f in HOST_FLAGS]))
    if liveset.raw_status:
        children.append(_raw_block(liveset))
    if liveset.warnings:
        children.append(("warning_on_local_host", [(n, _text(liveset.warnings.get(n, False))) for n in WARNINGS]))
    out = ["<?xml version='1.0' encoding='utf-8'?>\n"]
    _write(("ha_liveset_info", children), "", out, ' version="1.0"')
    return "".join(out).encode("utf-8")


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _write(node: Node, indent: str, out: typing.List[str], attrs: str = "") -> None:
    name, content = node
    if isinstance(content, str):
        if _NOT_XML.search(content):
            raise ValueError("liveset: %s holds a character XML cannot carry" % name)
        text = content.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        out.append("%s<%s%s>%s</%s>\n" % (indent, name, attrs, text, name))
    elif not content:
        out.append("%s<%s%s/>\n" % (indent, name, attrs))
    else:
        out.append("%s<%s%s>\n" % (indent, name, attrs))
        for child in content:
            _write(child, indent + "  ", out)
        out.append("%s</%s>\n" % (indent, name))
