"""The pool as a driver sees it: a XenAPI snapshot for the attach-time check, and size reports.

The driver reuses the ``session_ref`` xapi gave it (no login of its own)
with the PyPI ``XenAPI`` client, at ``$SM_CLUSTERSTACK_XAPI`` (an
``http(s)://`` URL or a unix socket path) or else xapi's local socket.
The snapshot costs four round trips whatever the size of the pool:
``pool.get_all_records``, ``PBD.get_all_records_where`` (attached ones),
``SR.get_all_records`` and ``SM.get_all_records``.  The decision is
``constraints.check_plug``'s.  Every connection has a timeout; an
unreachable pool is the PoolUnreachable fault.  Where the SM records carry
no ``required_cluster_stack`` (stock xapi), the drivers beside this one
are asked instead (``siblings``).
"""

import http.client
import os
import socket
import sys
import typing
import urllib.parse
import xmlrpc.client
from xml.parsers.expat import ExpatError

import XenAPI

from sm_clusterstack import constraints
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.smapi import call as smapi_call
from sm_clusterstack.smapi import siblings
from sm_clusterstack.smapi.driver import Failure

ENDPOINT_ENV = "SM_CLUSTERSTACK_XAPI"
TIMEOUT_ENV = "SM_CLUSTERSTACK_XAPI_TIMEOUT"  # seconds, overrides TIMEOUT
XAPI_SOCKET = "/var/lib/xcp/xapi"  # what XenAPI.xapi_local() connects to
TIMEOUT = 30.0  # seconds, per connection attempt and per answer
ATTACHED_PBDS = 'field "currently_attached" = "true"'
NULL_REF = "OpaqueRef:NULL"


class _SocketConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        http.client.HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class SocketTransport(XenAPI.UDSTransport):
    """XenAPI's unix-socket transport for any socket path (XenAPI's maps "_" to "/"), with a timeout."""

    def __init__(self, path: str, timeout: float = TIMEOUT) -> None:
        XenAPI.UDSTransport.__init__(self)
        self._path = path
        self._timeout = timeout

    def make_connection(self, host):
        # the parent sets the originator/trace headers and keeps one connection alive
        connection = XenAPI.UDSTransport.make_connection(self, host)
        if not isinstance(connection, _SocketConnection):
            connection = _SocketConnection(self._path, self._timeout)
            self._connection = host, connection
        return connection


class _TimeoutMixin(object):
    """Connections of an xmlrpc.client transport that time out."""

    def __init__(self, timeout: float = TIMEOUT) -> None:
        super(_TimeoutMixin, self).__init__()
        self._timeout = timeout

    def make_connection(self, host):
        connection = super(_TimeoutMixin, self).make_connection(host)
        connection.timeout = self._timeout
        return connection


class TimeoutTransport(_TimeoutMixin, xmlrpc.client.Transport):
    """HTTP transport whose connections time out."""


class SafeTimeoutTransport(_TimeoutMixin, xmlrpc.client.SafeTransport):
    """HTTPS transport whose connections time out (the session ref never goes out in clear)."""


MAX_TIMEOUT = 86400.0  # seconds; a longer wait is a typo, not a setting


def _timeout() -> float:
    """$SM_CLUSTERSTACK_XAPI_TIMEOUT, else TIMEOUT; PoolUnreachable naming it when it is no timeout."""
    text = os.environ.get(TIMEOUT_ENV, "")
    if not text:
        return TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_TIMEOUT:  # also refuses nan and inf, which sockets cannot take
        raise Failure("PoolUnreachable", "%s=%r is not a number of seconds in (0, %d]"
                      % (TIMEOUT_ENV, text[:64], MAX_TIMEOUT))
    return value


def _check_url(endpoint: str) -> None:
    """PoolUnreachable naming ``endpoint`` unless it is an http(s) URL with a host and a valid port."""
    try:
        parts = urllib.parse.urlsplit(endpoint)
        parts.port  # raises ValueError when out of range or not a number
    except ValueError as e:
        raise Failure("PoolUnreachable", "%s=%r is not a URL: %s" % (ENDPOINT_ENV, endpoint[:256], e))
    if not parts.hostname:
        raise Failure("PoolUnreachable", "%s=%r names no host" % (ENDPOINT_ENV, endpoint[:256]))


def connect(session_ref: str, endpoint: str = "", timeout: float = 0.0) -> XenAPI.Session:
    """A XenAPI session object using ``session_ref`` at ``endpoint`` (default: env, then xapi's socket)."""
    endpoint = endpoint or os.environ.get(ENDPOINT_ENV, "") or XAPI_SOCKET
    timeout = timeout or _timeout()
    if endpoint.startswith(("http://", "https://")):
        _check_url(endpoint)
    if endpoint.startswith("https://"):
        session = XenAPI.Session(endpoint, transport=SafeTimeoutTransport(timeout))
    elif endpoint.startswith("http://"):
        session = XenAPI.Session(endpoint, transport=TimeoutTransport(timeout))
    else:
        session = XenAPI.Session("http://localhost/", transport=SocketTransport(endpoint, timeout))
    session._session = session_ref  # reuse xapi's session: the documented SM idiom
    return session


def _ask(what: str, method, *args) -> typing.Any:
    try:
        return method(*args)
    except XenAPI.Failure as e:
        raise Failure("PoolUnreachable", "%s: XenAPI error %s" % (what, " ".join(map(str, e.details))))
    except (OSError, http.client.HTTPException, xmlrpc.client.Error, ExpatError, TypeError) as e:
        # TypeError: XenAPI's own reaction to an answer that is not a XenAPI struct
        raise Failure("PoolUnreachable", "%s: %s" % (what, e or type(e).__name__))


class Snapshot(object):
    """What the attach-time check needs: HA state and the attached SRs with their stacks."""

    __slots__ = ("ha_enabled", "ha_cluster_stack", "attached")

    def __init__(self, ha_enabled: bool, ha_cluster_stack: str,
                 attached: typing.List[constraints.SR]) -> None:
        self.ha_enabled = ha_enabled
        self.ha_cluster_stack = ha_cluster_stack
        self.attached = attached


def snapshot(session: XenAPI.Session, own_type: str, own_stacks: typing.Sequence[str],
             unrecorded: typing.Callable[[str], typing.List[str]] = lambda sr_type: []) -> Snapshot:
    """Read the pool in four round trips; SRs of ``own_type`` get ``own_stacks``.

    ``unrecorded(sr_type)`` answers, once per type, for attached types whose
    SM record has no ``required_cluster_stack`` or an empty one: stock xapi
    has no such field, or records [] for every SMAPIv1 driver, so an empty
    record proves nothing and the type's own driver is asked.
    """
    api = session.xenapi
    pools = _ask("pool.get_all_records", api.pool.get_all_records)
    pbds = _ask("PBD.get_all_records_where", api.PBD.get_all_records_where, ATTACHED_PBDS)
    srs = _ask("SR.get_all_records", api.SR.get_all_records)
    sms = _ask("SM.get_all_records", api.SM.get_all_records)
    pool = next(iter(pools.values()), {})
    stacks_of = {sm.get("type"): sm.get("required_cluster_stack") for sm in sms.values()}
    stacks_of[own_type] = list(own_stacks)  # stock xapi reports [] for SMAPIv1 drivers
    attached = {}
    asked = {own_type}
    for pbd in pbds.values():
        sr_ref = pbd.get("SR", NULL_REF)
        sr_type = srs.get(sr_ref, {}).get("type", "")
        if not stacks_of.get(sr_type) and sr_type not in asked:
            stacks_of[sr_type] = unrecorded(sr_type)
            asked.add(sr_type)
        attached[sr_ref] = constraints.SR(sr_ref, sr_type, stacks_of.get(sr_type) or [])
    return Snapshot(bool(pool.get("ha_enabled")), pool.get("ha_cluster_stack") or "xhad",
                    [attached[ref] for ref in sorted(attached)])


def _session_of(call: smapi_call.Call) -> XenAPI.Session:
    if not call.session_ref:
        raise smapi_call.CallError("%s needs member session_ref" % call.command, "session_ref")
    return connect(call.session_ref)


def check_attach(call: smapi_call.Call, sr_type: str, required_cluster_stack: typing.Sequence[str]) -> None:
    """IncompatibleClusterStack if the pool forbids attaching this SR now (reason ends [stacks])."""
    sm_dir = os.path.dirname(os.path.realpath(sys.argv[0]))
    state = snapshot(_session_of(call), sr_type, required_cluster_stack,
                     lambda other: siblings.required_cluster_stack(sm_dir, other))
    sr = constraints.SR(call.sr_ref or NULL_REF, sr_type, required_cluster_stack)
    try:
        constraints.check_plug(sr, state.attached, state.ha_enabled, state.ha_cluster_stack)
    except XenAPIError as e:
        raise Failure("IncompatibleClusterStack", e.params[0] if e.params else ",".join(required_cluster_stack))


def report_sizes(call: smapi_call.Call, physical_size: int, physical_utilisation: int) -> None:
    """Record the SR's sizes in xapi, as upstream drivers do on sr_scan/sr_update."""
    if not call.sr_ref:
        raise smapi_call.CallError("%s needs member sr_ref" % call.command, "sr_ref")
    api = _session_of(call).xenapi
    _ask("SR.set_physical_size", api.SR.set_physical_size, call.sr_ref, str(physical_size))
    _ask("SR.set_physical_utilisation", api.SR.set_physical_utilisation, call.sr_ref,
         str(physical_utilisation))
