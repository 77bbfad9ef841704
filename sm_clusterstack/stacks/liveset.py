"""The liveset model: what ``ha_query_liveset`` prints (REFERENCE.md section 4).

``parse`` accepts exactly what xapi accepts: a status of Online, Offline or
Starting; a localhost; HostIDs that are uuids; booleans true/false in any
case.  ``to_xml`` writes the format a stack must print.
"""

import typing

from sm_clusterstack import xmlsafe
from sm_clusterstack.digits import is_digits
from sm_clusterstack.stacks.xhadconf import is_uuid
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
    """A parsed liveset: status, localhost, hosts, and the optional extras.

    ``raw_status`` maps each latency name to an int; ``host_raw_data`` maps
    a HostID to its raw fields (ints, and lists of HostIDs); ``warnings``
    maps a warning name to a bool.
    """

    def __init__(
            self,
            status: str,
            localhost: str,
            hosts: typing.List[LivesetHost],
            raw_status: typing.Optional[typing.Dict[str, int]] = None,
            host_raw_data: typing.Optional[typing.Dict[str, dict]] = None,
            warnings: typing.Optional[typing.Dict[str, bool]] = None,
    ) -> None:
        self.status = status
        self.localhost = localhost
        self.hosts = list(hosts)
        self.raw_status = dict(raw_status or {})
        self.host_raw_data = dict(host_raw_data or {})
        self.warnings = dict(warnings or {})

    def host(self, host_id: str) -> LivesetHost:
        """The entry of ``host_id`` (KeyError if absent)."""
        for host in self.hosts:
            if host.host_id.lower() == host_id.lower():
                return host
        raise KeyError(host_id)

    def live_hosts(self) -> typing.List[str]:
        """HostIDs whose liveness is TRUE, in liveset order."""
        return [h.host_id for h in self.hosts if h.liveness]

    def to_xml(self) -> bytes:
        """The liveset document a stack prints."""
        return to_xml(self)


def parse_bool(text: typing.Optional[str], what: str) -> bool:
    """A liveset boolean: true or false in any case, nothing else."""
    value = (text or "").strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    raise XMLFormatError("liveset: %s is %r, not TRUE or FALSE" % (what, text))


def parse(data: typing.Union[bytes, str]) -> Liveset:
    """Parse a liveset as xapi does; XMLFormatError says what is wrong."""
    root = xmlsafe.parse(data, "liveset")
    if root.tag != "ha_liveset_info":
        raise XMLFormatError("liveset: root element is <%s>, not <ha_liveset_info>" % root.tag)
    status = xmlsafe.child_text(root, "status", "liveset")
    if status not in STATUSES:
        raise XMLFormatError("liveset: status %r is not one of %s" % (status, ", ".join(STATUSES)))
    local = root.find("localhost")
    if local is None:
        raise XMLFormatError("liveset: missing <localhost>")
    localhost = _host_id(local, "localhost")
    hosts = [_parse_host(node) for node in root.findall("host")]
    raw, host_raw = _parse_raw(root.find("raw_status_on_local_host"))
    return Liveset(status, localhost, hosts, raw, host_raw, _parse_warnings(root.find("warning_on_local_host")))


def _host_id(node, what):
    host_id = xmlsafe.child_text(node, "HostID", "liveset %s" % what)
    if not is_uuid(host_id):
        raise XMLFormatError("liveset: %s HostID %r is not a uuid" % (what, host_id))
    return host_id


def _parse_host(node):
    host_id = _host_id(node, "host")
    flags = {}
    for flag in HOST_FLAGS:
        child = node.find(flag)
        if child is None:
            raise XMLFormatError("liveset: host %s has no <%s>" % (host_id, flag))
        flags[flag] = parse_bool(child.text, "%s of host %s" % (flag, host_id))
    return LivesetHost(host_id, **flags)


def _parse_int(text, what):
    value = (text or "").strip()
    if not is_digits(value, signed=True):
        raise XMLFormatError("liveset: %s is %r, not an integer" % (what, text))
    return int(value)


def _parse_raw(node):
    raw, host_raw = {}, {}
    if node is None:
        return raw, host_raw
    for name in RAW_LATENCIES:
        if node.find(name) is not None:
            raw[name] = _parse_int(node.findtext(name), name)
    for child in node.findall("host_raw_data"):
        host_id = _host_id(child, "host_raw_data")
        fields = {}  # type: typing.Dict[str, typing.Any]
        for name in HOST_RAW_FIELDS:
            if child.find(name) is not None:
                fields[name] = _parse_int(child.findtext(name), name)
        for name in HOST_RAW_LISTS:
            if child.find(name) is not None:
                ids = (child.findtext(name) or "").split()
                if not all(is_uuid(i) for i in ids):
                    raise XMLFormatError("liveset: %s of %s holds a non-uuid" % (name, host_id))
                fields[name] = ids
        host_raw[host_id] = fields
    return raw, host_raw


def _parse_warnings(node):
    found = {}
    if node is None:
        return found
    for name in WARNINGS:
        if node.find(name) is not None:
            found[name] = parse_bool(node.findtext(name), name)
    return found


def _bool(value: bool) -> str:
    return "TRUE" if value else "FALSE"


def to_xml(liveset: Liveset) -> bytes:
    """Serialise ``liveset`` in the format of REFERENCE.md section 4."""
    from lxml import etree
    root = etree.Element("ha_liveset_info", version="1.0")
    etree.SubElement(root, "status").text = liveset.status
    etree.SubElement(etree.SubElement(root, "localhost"), "HostID").text = liveset.localhost
    for host in liveset.hosts:
        node = etree.SubElement(root, "host")
        etree.SubElement(node, "HostID").text = host.host_id
        for flag in HOST_FLAGS:
            etree.SubElement(node, flag).text = _bool(getattr(host, flag))
    if liveset.raw_status or liveset.host_raw_data:
        raw = etree.SubElement(root, "raw_status_on_local_host")
        for name in RAW_LATENCIES:
            if name in liveset.raw_status:
                etree.SubElement(raw, name).text = str(liveset.raw_status[name])
        for host_id, fields in sorted(liveset.host_raw_data.items()):
            node = etree.SubElement(raw, "host_raw_data")
            etree.SubElement(node, "HostID").text = host_id
            for name in HOST_RAW_FIELDS:
                if name in fields:
                    etree.SubElement(node, name).text = str(fields[name])
            for name in HOST_RAW_LISTS:
                if name in fields:
                    etree.SubElement(node, name).text = " ".join(fields[name])
    if liveset.warnings:
        warn = etree.SubElement(root, "warning_on_local_host")
        for name in WARNINGS:
            if name in liveset.warnings:
                etree.SubElement(warn, name).text = _bool(liveset.warnings[name])
    return xmlsafe.to_bytes(root)
