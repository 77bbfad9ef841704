"""XenAPI over HTTP: XML-RPC and JSON-RPC on a unix socket (mode 0600) and/or a TCP port.

The HTTP framing and xapi's routing are ``httpframe``'s (strict; 4xx
otherwise): XML-RPC at ``/`` and every path xapi's longest-prefix routing
gives ``post_root``, ``post_RPC2`` or ``post_json``; JSON-RPC at
``/jsonrpc`` (``jsonrpc``); OPTIONS answered as xapi's
``Http_svr.respond_to_options``.  XML-RPC bodies are decoded with
``xmlrpc_safe.loads`` (no DTD, no entities, a size limit); anything
undecodable still gets a XenAPI Failure response.  A JSON body that is no
call gets xapi's 500.  Both go through the one dispatcher.  One thread
per connection, at most ``max_connections`` of them; HTTP/1.1 keep-alive
as the PyPI client expects; reads time out in seconds.
"""

import logging
import os
import socket
import socketserver
import stat
import struct
import sys
import threading
import time
import typing
import xmlrpc.client
from xml.sax.saxutils import escape

from sm_clusterstack import errors, xmlrpc_safe
from sm_clusterstack.xapi.rpc import dispatch as api
from sm_clusterstack.xapi.rpc import httpframe
from sm_clusterstack.xapi.rpc import jsonrpc

LOG = logging.getLogger("sm_clusterstack.xapi")
READ_TIMEOUT = 10.0  # seconds each read of a request may wait (xapi's header_read_timeout_tcp)
REQUEST_TIMEOUT = 30.0  # seconds a whole request may take to arrive, once begun
IDLE_TIMEOUT = 60.0  # seconds a kept-alive connection may wait for its next request


def respond(ctx: typing.Any, body: bytes, local_root: bool = False) -> bytes:
    """The XML-RPC response document for one request body (``local_root``: uid 0 on the unix socket)."""
    try:
        params, name = xmlrpc_safe.loads(body)
    except (xmlrpc_safe.XMLRPCFormatError, xmlrpc.client.Fault) as e:
        response = api.failure([errors.XMLRPC_UNMARSHAL_FAILURE, str(e)[:1024]])
    else:
        if name is None:
            response = api.failure([errors.XMLRPC_UNMARSHAL_FAILURE, "not a methodCall"])
        elif api.too_deep(params):
            response = api.failure([errors.XMLRPC_UNMARSHAL_FAILURE, "values nested deeper than %d" % api.MAX_DEPTH])
        else:
            response = api.dispatch(ctx, name, params, local_root)
    try:
        return xmlrpc.client.dumps((response,), methodresponse=True, allow_none=False).encode("utf-8")
    except (TypeError, OverflowError, ValueError) as e:
        LOG.error("cannot marshal the answer to %s: %s", name, e)
        failed = api.failure([errors.INTERNAL_ERROR, "cannot marshal the answer: %s" % e])
        return xmlrpc.client.dumps((failed,), methodresponse=True).encode("utf-8")


class Handler(socketserver.BaseRequestHandler):
    """One connection: strict HTTP/1.1 requests (``httpframe``) answered with XML-RPC, kept alive.

    Reads time out: a new connection must start a request within
    READ_TIMEOUT, a kept-alive one within IDLE_TIMEOUT, and once a request
    has begun every read must return within READ_TIMEOUT and the whole
    request arrive within REQUEST_TIMEOUT.  A client that drops or stalls
    is logged in one line.
    """

    def handle(self):
        self.buffer = b""
        wait = READ_TIMEOUT
        try:
            while self._serve_one(wait):
                wait = IDLE_TIMEOUT
        except (OSError, ClientGone) as e:
            LOG.info("client %s dropped: %s", self.peer(), e or type(e).__name__)

    def _serve_one(self, wait: float) -> bool:
        """Read and answer one request; False when the connection is to be closed."""
        if not self.buffer and not self._fill(time.monotonic() + wait, first=True):
            return False  # closed, or idle too long, between requests: nothing to say
        deadline = time.monotonic() + REQUEST_TIMEOUT
        try:
            request = self._read_head(deadline)
            if request.expect_continue:
                self.request.sendall(httpframe.status_line(100) + b"\r\n")
            body = self._read_body(request.length, deadline)
        except httpframe.HTTPError as e:
            LOG.info("client %s refused: %s", self.peer(), e)
            self._send(e.status, e.reason.encode("utf-8") + b"\n", "text/plain", keep_alive=False)
            return False
        api.CALLER.host = getattr(self.server, "local_host", "")  # the host whose own socket this is, if any
        return self._answer(request, body)

    def _answer(self, request: httpframe.Request, body: bytes) -> bool:
        """Serve ``request`` as its route says; False when the connection is to be closed."""
        if request.route == httpframe.OPTIONS:
            self._send(200, b"", "", request.keep_alive, options_headers(request))
        elif request.route == httpframe.JSONRPC:
            try:
                answer = jsonrpc.respond(self.server.ctx, body, self.local_root())
            except jsonrpc.MalformedRequest as e:
                LOG.info("client %s: JSON-RPC refused: %s", self.peer(), e)
                self._send(500, internal_error_page("Jsonrpc.Malformed_method_request(%s)" % e), "text/html",
                           False)
                return False
            self._send(200, answer, jsonrpc.CONTENT_TYPE, request.keep_alive, CORS)
        else:
            self._send(200, respond(self.server.ctx, body, self.local_root()), "text/xml", request.keep_alive,
                       CORS)
        return request.keep_alive

    def _fill(self, deadline: float, first: bool = False) -> bool:
        """Receive more bytes before ``deadline``; False at end of file (or idle timeout if ``first``)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise httpframe.HTTPError(408, "the request did not arrive within %g s" % REQUEST_TIMEOUT)
        self.request.settimeout(min(remaining, READ_TIMEOUT) if not first else remaining)
        try:
            data = self.request.recv(65536)
        except socket.timeout:
            if first and not self.buffer:
                return False
            raise httpframe.HTTPError(408, "no data for %g s in the middle of a request" % READ_TIMEOUT)
        if not data and not first:
            raise ClientGone("closed in the middle of a request")
        self.buffer += data
        return bool(data)

    def _read_head(self, deadline: float) -> httpframe.Request:
        end = httpframe.head_end(self.buffer)
        while end < 0:
            if len(self.buffer) > httpframe.MAX_HEAD:
                raise httpframe.HTTPError(431, "request head longer than %d bytes" % httpframe.MAX_HEAD)
            self._fill(deadline)
            end = httpframe.head_end(self.buffer)
        if end > httpframe.MAX_HEAD:
            raise httpframe.HTTPError(431, "request head longer than %d bytes" % httpframe.MAX_HEAD)
        head, self.buffer = self.buffer[:end], self.buffer[end:]
        return httpframe.parse(head)

    def _read_body(self, length: int, deadline: float) -> bytes:
        while len(self.buffer) < length:
            self._fill(deadline)
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return body

    def _send(self, status: int, data: bytes, content_type: str, keep_alive: bool,
              headers: typing.Sequence[typing.Tuple[str, str]] = ()) -> None:
        lines = [("Server", "sm-clusterstack-xapi")] + ([("Content-Type", content_type)] if content_type else [])
        lines += list(headers) + [("Content-Length", str(len(data)))]
        lines += [] if keep_alive else [("Connection", "close")]
        head = httpframe.status_line(status) + "".join("%s: %s\r\n" % line for line in lines).encode("latin-1")
        head += b"\r\n"
        self.request.settimeout(REQUEST_TIMEOUT)
        self.request.sendall(head + data)

    def peer(self) -> str:
        """The client, for the log: host:port, or the unix socket."""
        address = self.client_address
        return "%s:%s" % address[:2] if isinstance(address, tuple) and address else "unix"

    def local_root(self) -> bool:
        """Whether the peer is root on this machine (only the unix socket can tell)."""
        return False


CORS = (("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Headers", "X-Requested-With"))


def options_headers(request: httpframe.Request) -> typing.List[typing.Tuple[str, str]]:
    """xapi's answer to OPTIONS (``Http_svr.respond_to_options``): any origin, the asked headers, PUT."""
    asked = [v for name, v in request.headers if name == "access-control-request-headers"]
    allowed = "%s, X-Requested-With" % asked[0] if asked else "X-Requested-With"
    return [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Headers", allowed[:1024]),
            ("Access-Control-Allow-Methods", "PUT")]


def internal_error_page(extra: str) -> bytes:
    """xapi's 500 page (``Http_svr.response_internal_error``) with ``extra``, HTML-escaped."""
    return ("<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a "
            "while and try again. If the problem persists, please contact your support representative."
            "<h1> Additional information </h1>%s</body></html>" % escape(extra[:512], {'"': "&quot;"})
            ).encode("utf-8")


class ClientGone(Exception):
    """The client closed its connection in the middle of a request."""


class UnixHandler(Handler):
    """The handler on the unix socket."""

    def local_root(self) -> bool:
        """True when the peer process runs as uid 0 (SO_PEERCRED), as xapi trusts it."""
        try:
            creds = self.request.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        except (OSError, AttributeError):
            return False
        return struct.unpack("3i", creds)[1] == 0


class _Limited(socketserver.ThreadingMixIn):
    """A threaded listener that serves at most ``max_connections`` at once.

    As xapi's ``Server_io.establish_server``: at the limit it stops
    accepting (new clients wait in the listen backlog) until one closes.
    A dropped client is logged in one line, never with a traceback.
    """

    daemon_threads = True
    max_connections = 800
    request_queue_size = 128  # the listen backlog: a burst of connects must not wait for SYN retries

    def _slots(self) -> threading.BoundedSemaphore:
        if getattr(self, "_free", None) is None:
            self._free = threading.BoundedSemaphore(self.max_connections)
            self._stopping = False
        return self._free

    def get_request(self):
        while not self._slots().acquire(timeout=0.2):
            if self._stopping:
                raise OSError("shutting down")
        try:
            return super(_Limited, self).get_request()
        except BaseException:
            self._free.release()
            raise

    def shutdown_request(self, request):
        try:
            super(_Limited, self).shutdown_request(request)
        finally:
            self._free.release()

    def shutdown(self):
        self._slots()
        self._stopping = True
        super(_Limited, self).shutdown()

    def handle_error(self, request, client_address):
        LOG.info("client %s: %s", client_address or "unix", sys.exc_info()[1])


class TCPServer(_Limited, socketserver.TCPServer):
    """The loopback TCP listener (xapi's conn_limit_tcp)."""

    allow_reuse_address = True
    max_connections = 800


class UnixServer(_Limited, socketserver.UnixStreamServer):
    """The unix-socket listener (xapi's conn_limit_unix)."""

    max_connections = 1024

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
    """Start the listeners in background threads; the servers (to ``shutdown``).

    The method modules must be loaded (``methods.load``) before a call comes.
    """
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
