"""The xhad.conf model: what xapi writes for a stack (REFERENCE.md section 4).

``parse`` reads the bytes of an xhad.conf and checks every field; ``to_xml``
writes it byte for byte as xapi does (``xha_interface.ml``
``DaemonConfiguration.to_xml_string``: an XML declaration, then xml-light2's
``Xml.to_string_fmt``: two-space indents, one element a line, ``&quot;`` for
``"``, control characters but tab, LF and CR dropped, no final newline).
Nothing else in the project touches its XML.  A host's address may be IPv4
or IPv6, as xapi writes either and xhad reads either (``lib/config.c``).
"""

import ipaddress
import re
import typing

from sm_clusterstack import xmlsafe
from sm_clusterstack.digits import is_digits
from sm_clusterstack.xmlsafe import XMLFormatError

DEFAULT_PATH = "/etc/xensource/xhad.conf"
DEFAULT_UDP_PORT = 694  # Xapi_globs.xha_udp_port ("same as linux-ha")
# In the order xapi writes them (xha_interface.ml DaemonConfiguration.to_xml_element);
# xapi never writes the last one (its value is None), xhad knows it.
PARAMETERS = (
    "HeartbeatInterval", "HeartbeatTimeout", "StateFileInterval", "StateFileTimeout",
    "HeartbeatWatchdogTimeout", "StateFileWatchdogTimeout", "BootJoinTimeout",
    "EnableJoinTimeout", "XapiHealthCheckInterval", "XapiHealthCheckTimeout",
    "XapiRestartAttempts", "XapiRestartTimeout", "XapiLicenseCheckTimeout",
)
MIN_TIMEOUT = 10  # Timeouts.derive: "constraint violation: timeout >= 10"
DEFAULT_TIMEOUT = 60  # Xapi_globs.ha_default_timeout_base
MAX_HOSTS = 64
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\Z")
_IFACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,14}\Z")


def derive_timeouts(t: int) -> typing.Dict[str, int]:
    """The twelve parameters xapi writes for base timeout ``t`` (``xapi_ha.ml`` ``Timeouts.derive``).

    ValueError when ``t`` < 10, as xapi refuses it.
    """
    if t < MIN_TIMEOUT:
        raise ValueError("constraint violation: timeout >= %d" % MIN_TIMEOUT)
    return {
        "HeartbeatInterval": min((t + 10) // 10, 3), "HeartbeatTimeout": t,
        "StateFileInterval": max(2, t // 20), "StateFileTimeout": t,
        "HeartbeatWatchdogTimeout": t, "StateFileWatchdogTimeout": t + 15,
        "BootJoinTimeout": t + 60, "EnableJoinTimeout": t + 60,
        # Xapi_globs.ha_xapi_healthcheck_interval/_timeout, ha_xapi_restart_attempts/_timeout
        "XapiHealthCheckInterval": 60, "XapiHealthCheckTimeout": 120,
        "XapiRestartAttempts": 1, "XapiRestartTimeout": 300,
    }


def is_uuid(text: typing.Any) -> bool:
    """True when ``text`` is a uuid in its 8-4-4-4-12 hex form."""
    return isinstance(text, str) and UUID.match(text) is not None


def is_ipv4(text: str) -> bool:
    """True for a dotted-quad IPv4 address."""
    match = _IPV4.match(text)
    return bool(match) and all(int(part) <= 255 for part in match.groups())


def is_ip_address(text: str) -> bool:
    """True for a dotted-quad IPv4 address or an IPv6 address (xhad's ``inet_pton`` of either family)."""
    if is_ipv4(text):
        return True
    try:
        return "%" not in text and isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


class Host(object):
    """One pool member of common-config."""

    __slots__ = ("host_id", "ip_address")

    def __init__(self, host_id: str, ip_address: str) -> None:
        self.host_id = host_id
        self.ip_address = ip_address

    def __eq__(self, other):
        return isinstance(other, Host) and (self.host_id, self.ip_address) == (other.host_id, other.ip_address)

    def __repr__(self):
        return "Host(%r, %r)" % (self.host_id, self.ip_address)


class XhadConfig(object):
    """An xhad.conf: the pool-wide part and the local host's part."""

    def __init__(
            self,
            generation_uuid: str,
            hosts: typing.List[Host],
            local_host_id: str,
            statefile: str,
            udp_port: int = DEFAULT_UDP_PORT,
            parameters: typing.Optional[typing.Dict[str, int]] = None,
            heartbeat_interface: str = "",
            heartbeat_physical_interface: str = "",
    ) -> None:
        self.generation_uuid = generation_uuid
        self.hosts = list(hosts)
        self.local_host_id = local_host_id
        self.statefile = statefile
        self.udp_port = udp_port
        self.parameters = dict(parameters or {})
        self.heartbeat_interface = heartbeat_interface
        self.heartbeat_physical_interface = heartbeat_physical_interface
        validate(self)

    def host(self, host_id: str) -> Host:
        """The configured host with ``host_id`` (KeyError if none)."""
        for host in self.hosts:
            if host.host_id == host_id:
                return host
        raise KeyError(host_id)

    def to_xml(self) -> bytes:
        """The xhad.conf document, as xapi writes it."""
        return to_xml(self)


def validate(conf: XhadConfig) -> None:
    """Raise XMLFormatError saying what is wrong with ``conf``."""
    if not is_uuid(conf.generation_uuid):
        raise XMLFormatError("xhad.conf: GenerationUUID %r is not a uuid" % conf.generation_uuid)
    if not 1 <= conf.udp_port <= 65535:
        raise XMLFormatError("xhad.conf: UDPport %r out of range" % conf.udp_port)
    if not 1 <= len(conf.hosts) <= MAX_HOSTS:
        raise XMLFormatError("xhad.conf: %d hosts; a pool has 1 to %d" % (len(conf.hosts), MAX_HOSTS))
    seen = set()
    for host in conf.hosts:
        if not is_uuid(host.host_id):
            raise XMLFormatError("xhad.conf: HostID %r is not a uuid" % host.host_id)
        if not is_ip_address(host.ip_address):
            raise XMLFormatError("xhad.conf: IPaddress %r of host %s is not an IPv4 or IPv6 address"
                                 % (host.ip_address, host.host_id))
        if host.host_id.lower() in seen:
            raise XMLFormatError("xhad.conf: host %s listed twice" % host.host_id)
        seen.add(host.host_id.lower())
    if conf.local_host_id.lower() not in seen:
        raise XMLFormatError("xhad.conf: localhost %r is not one of the hosts" % conf.local_host_id)
    for name, value in conf.parameters.items():
        if name not in PARAMETERS or not isinstance(value, int) or value < 0:
            raise XMLFormatError("xhad.conf: bad parameter %s=%r" % (name, value))
    for label, iface in (("HeartbeatInterface", conf.heartbeat_interface),
                         ("HeartbeatPhysicalInterface", conf.heartbeat_physical_interface)):
        if iface and not _IFACE.match(iface):
            raise XMLFormatError("xhad.conf: %s %r is not an interface name" % (label, iface))
    if not conf.statefile or "\0" in conf.statefile:
        raise XMLFormatError("xhad.conf: StateFile is empty")


def parse(data: typing.Union[bytes, str], what: str = "xhad.conf") -> XhadConfig:
    """Parse and check an xhad.conf document."""
    root = xmlsafe.parse(data, what)
    if root.tag != "xhad-config":
        raise XMLFormatError("%s: root element is <%s>, not <xhad-config>" % (what, root.tag))
    common = _one(root, "common-config", what)
    local = _one(_one(root, "local-config", what), "localhost", what)
    hosts = [Host(xmlsafe.child_text(h, "HostID", what), xmlsafe.child_text(h, "IPaddress", what))
             for h in common.findall("host")]
    return XhadConfig(
        generation_uuid=xmlsafe.child_text(common, "GenerationUUID", what),
        hosts=hosts,
        local_host_id=xmlsafe.child_text(local, "HostID", what),
        statefile=xmlsafe.child_text(local, "StateFile", what),
        udp_port=_int(common.findtext("UDPport") or str(DEFAULT_UDP_PORT), "UDPport", what),
        parameters=_parameters(common.find("parameters"), what),
        heartbeat_interface=(local.findtext("HeartbeatInterface") or "").strip(),
        heartbeat_physical_interface=(local.findtext("HeartbeatPhysicalInterface") or "").strip(),
    )


def load(path: str = DEFAULT_PATH) -> XhadConfig:
    """Read and parse the xhad.conf at ``path`` (OSError if unreadable)."""
    with open(path, "rb") as f:
        return parse(f.read(), path)


def _one(node, tag, what):
    found = node.findall(tag)
    if len(found) != 1:
        raise XMLFormatError("%s: expected one <%s>, found %d" % (what, tag, len(found)))
    return found[0]


def _int(text: str, name: str, what: str) -> int:
    text = text.strip()
    if not is_digits(text, max_length=9):
        raise XMLFormatError("%s: %s %r is not a non-negative integer" % (what, name, text))
    return int(text)


def _parameters(node, what):
    params = {}  # type: typing.Dict[str, int]
    if node is None:
        return params
    for child in node:
        if child.tag in PARAMETERS:  # xhad ignores the parameters it does not know, so do we
            params[child.tag] = _int(child.text or "", child.tag, what)
    return params


def to_dict(conf: XhadConfig) -> typing.Dict[str, typing.Any]:
    """``conf`` as plain data (for JSON): what a running daemon reads without parsing XML."""
    return {"generation_uuid": conf.generation_uuid, "hosts": [[h.host_id, h.ip_address] for h in conf.hosts],
            "local_host_id": conf.local_host_id, "statefile": conf.statefile, "udp_port": conf.udp_port,
            "parameters": dict(conf.parameters), "heartbeat_interface": conf.heartbeat_interface,
            "heartbeat_physical_interface": conf.heartbeat_physical_interface}


def from_dict(data: typing.Any) -> XhadConfig:
    """The XhadConfig ``to_dict`` made; XMLFormatError (as for the XML) when ``data`` is not one."""
    try:
        fields = dict(data)
        fields["hosts"] = [Host(host_id, address) for host_id, address in fields["hosts"]]
        return XhadConfig(**fields)
    except (TypeError, ValueError, KeyError) as e:
        raise XMLFormatError("xhad.conf as data: %s" % e)


def to_xml(conf: XhadConfig) -> bytes:
    """Serialise ``conf`` as xapi does (``DaemonConfiguration.to_xml_element``, ``to_xml_string``)."""
    hosts = [("host", [_leaf("HostID", h.host_id), _leaf("IPaddress", h.ip_address)]) for h in conf.hosts]
    params = [_leaf(name, str(conf.parameters[name])) for name in PARAMETERS if name in conf.parameters]
    common = [_leaf("GenerationUUID", conf.generation_uuid), _leaf("UDPport", str(conf.udp_port))] + hosts
    local = [_leaf("HostID", conf.local_host_id), _leaf("HeartbeatInterface", conf.heartbeat_interface),
             _leaf("HeartbeatPhysicalInterface", conf.heartbeat_physical_interface),
             _leaf("StateFile", conf.statefile)]
    root = ("xhad-config", [("common-config", common + [("parameters", params)]),
                            ("local-config", [("localhost", local)])])
    out = []  # type: typing.List[str]
    _format(root, False, "", out, {"xhad-config": ' version="1.0"'})
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + "".join(out)).encode("utf-8")


def _leaf(name: str, text: str) -> typing.Tuple[str, str]:
    return (name, text)


def escape_pcdata(text: str) -> str:
    """xml-light2's ``esc_pcdata``: ``> < & "`` as entities, other control characters but tab, LF, CR dropped."""
    kept = "".join(c for c in text if c >= "\x20" or c in "\t\n\r")
    return kept.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;").replace('"', "&quot;")


def _format(node, newline: bool, indent: str, out: typing.List[str], attrs: typing.Dict[str, str]) -> None:
    """xml-light2's ``to_fct_fmt``: a leaf on one line, an element with children over several."""
    name, content = node
    end = "\n" if newline else ""
    if isinstance(content, str):
        out.append("%s<%s%s>%s</%s>%s" % (indent, name, attrs.get(name, ""), escape_pcdata(content), name, end))
    elif not content:
        out.append("%s<%s%s/>%s" % (indent, name, attrs.get(name, ""), end))
    else:
        out.append("%s<%s%s>\n" % (indent, name, attrs.get(name, "")))
        for child in content:
            _format(child, True, indent + "  ", out, attrs)
        out.append("%s</%s>%s" % (indent, name, end))
