"""XenAPI over XML-RPC: POST / on a unix socket (mode 0600) and/or 127.0.0.1:port.

Requests are decoded with ``xmlrpc_safe.loads`` (no DTD, no entities, a
size limit); anything undecodable still gets a XenAPI Failure response.
One thread per connection; HTTP/1.1 keep-alive as the PyPI client expects.
"""

import http.server
import logging
import os
import socket
import socketserver
import stat
import struct
import threading
import typing
import xmlrpc.client

from sm_clusterstack import errors, xmlrpc_safe
from sm_clusterstack.xapi import api

LOG = logging.getLogger("sm_clusterstack.xapi")
MAX_REQUEST = xmlrpc_safe.MAX_DOCUMENT
REQUEST_TIMEOUT = 300.0  # seconds a connection may stay idle
MAX_DEPTH = 16  # nesting of arrays and structs; XenAPI calls need 3


def too_deep(value: typing.Any, limit: int = MAX_DEPTH) -> bool:
    """True when arrays/structs in ``value`` nest deeper than ``limit`` (checked without recursion)."""
    todo = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (list, tuple, dict)):
            if depth >= limit:
                return True
            todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def respond(ctx: typing.Any, body: bytes, local_root: bool = False) -> bytes:
    """The XML-RPC response document for one request body (``local_root``: uid 0 on the unix socket)."""
    try:
        params, name = xmlrpc_safe.loads(body)
    except (xmlrpc_safe.XMLRPCFormatError, xmlrpc.client.Fault) as e:
        response = api.failure([errors.XMLRPC_UNMARSHAL_FAILURE, str(e)[:1024]])
    else:
        if name is None:
            response = api.failure([errors.XMLRPC_UNMARSHAL_FAILURE, "not a methodCall"])
        elif too_deep(params):
            response = api.failure([errors.XMLRPC_UNMARSHAL_FAILURE, "values nested deeper than %d" % MAX_DEPTH])
        else:
            response = api.dispatch(ctx, name, params, local_root)
    try:
        return xmlrpc.client.dumps((response,), methodresponse=True, allow_none=False).encode("utf-8")
    except (TypeError, OverflowError, ValueError) as e:
        LOG.error("cannot marshal the answer to %s: %s", name, e)
        failed = api.failure([errors.INTERNAL_ERROR, "cannot marshal the answer: %s" % e])
        return xmlrpc.client.dumps((failed,), methodresponse=True).encode("utf-8")


class Handler(http.server.BaseHTTPRequestHandler):
    """POST / with an XML-RPC call; anything else is 404/405."""

    protocol_version = "HTTP/1.1"
    server_version = "sm-clusterstack-xapi"
    timeout = REQUEST_TIMEOUT
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST:
            self._reply_failure("request length %s not in 0..%d"
                                % (self.headers.get("Content-Length"), MAX_REQUEST))
            return
        body = self.rfile.read(length)
        api.CALLER.host = getattr(self.server, "local_host", "")  # the host whose own socket this is, if any
        self._send(respond(self.server.ctx, body, self.local_root()))

    def local_root(self) -> bool:
        """Whether the peer is root on this machine (only the unix socket can tell)."""
        return False

    def _reply_failure(self, reason):
        failed = api.failure([errors.XMLRPC_UNMARSHAL_FAILURE, reason])
        self.close_connection = True
        self._send(xmlrpc.client.dumps((failed,), methodresponse=True).encode("utf-8"))

    def _send(self, data):
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self):
        return str(self.client_address[0]) if self.client_address else "unix"

    def log_message(self, fmt, *args):
        LOG.debug("%s %s", self.address_string(), fmt % args)


class UnixHandler(Handler):
    """The handler on the unix socket (no TCP options there)."""

    disable_nagle_algorithm = False

    def local_root(self) -> bool:
        """True when the peer process runs as uid 0 (SO_PEERCRED), as xapi trusts it."""
        try:
            creds = self.connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        except (OSError, AttributeError):
            return False
        return struct.unpack("3i", creds)[1] == 0


class TCPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """The loopback TCP listener."""

    daemon_threads = True
    allow_reuse_address = True


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The unix-socket listener."""

    daemon_threads = True

    def server_bind(self):
        if os.path.lexists(self.server_address):
            _remove_stale(self.server_address)
        old = os.umask(0o177)
        try:
            socketserver.UnixStreamServer.server_bind(self)
        finally:
            os.umask(old)
        os.chmod(self.server_address, 0o600)


def _remove_stale(path: str) -> None:
    """Unlink a socket no server listens on; OSError if a server does or ``path`` is no socket."""
    if not stat.S_ISSOCK(os.lstat(path).st_mode):
        raise OSError("%s exists and is not a socket: refusing to remove it" % path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)
        return
    finally:
        probe.close()
    raise OSError("%s: another server is listening there" % path)


def start(ctx: typing.Any, port: typing.Optional[int] = None, socket_path: typing.Optional[str] = None,
          ) -> typing.List[socketserver.BaseServer]:
    """Start the listeners in background threads; the servers (to ``shutdown``)."""
    api.load_methods()
    servers = []
    try:
        if port is not None:
            servers.append(TCPServer(("127.0.0.1", port), Handler))
        if socket_path:
            servers.append(UnixServer(socket_path, UnixHandler))
    except BaseException:
        for server in servers:
            server.server_close()
        raise
    for server in servers:
        server.ctx = ctx
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         name="xapi-%s" % type(server).__name__, daemon=True).start()
    return servers


def url_of(server: socketserver.BaseServer) -> str:
    """How a driver reaches ``server``: http://127.0.0.1:port, or the socket path."""
    if isinstance(server, TCPServer):
        return "http://127.0.0.1:%d" % server.server_address[1]
    return server.server_address
