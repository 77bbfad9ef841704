"""The HTTP framing the shim accepts: one strict parser of a request's head, and xapi's routing; pure.

xapi registers its API handlers by method and path (``ocaml/xapi/xapi.ml``
``common_http_handlers``; paths in ``ocaml/idl/datamodel.ml``
``http_actions``): ``post_root`` "/", ``post_RPC2`` "/RPC2" and
``post_json`` "/json" run ``Api_server.callback`` (XML-RPC in and out: its
body goes through ``Xmlrpc.call_of_string`` whatever the path says),
``post_jsonrpc`` "/jsonrpc" runs ``Api_server.jsoncallback`` (JSON-RPC),
and ``post_*_options`` answer OPTIONS.  Its server
(``ocaml/libs/http-lib/http_svr.ml`` ``handle_one``) picks the handler of
the longest registered prefix of the path (``Radix_tree.longest_prefix``,
the query string left out), so ``/xmlrpc``, ``/RPC2/x`` or ``/anything``
reach XML-RPC and ``/jsonrpcx`` JSON-RPC.  A path no prefix matches gets
``default_callback``'s 403, a GET the file server's 404 (the shim serves no
files), a method xapi does not know 501.  A POST to one of xapi's other
handlers (``/cli``, ``/services``, ``/remote_db_access``...) is 404 here:
the shim does not serve them.

Bodies are read by ``Content-Length`` and at most 300 KiB
(``ocaml/xapi-consts/constants.ml`` ``http_limit_max_rpc_size``).
Framing that two parsers could read differently is refused with 400: a
bare LF, a folded header, a second or non-decimal ``Content-Length``
(``+5``, ``-5``, ``5 5``), any ``Transfer-Encoding``.  A body over the
limit is 413, a head over MAX_HEAD 431.
"""

import re
import typing

MAX_HEAD = 8192  # bytes of request line and headers
MAX_BODY = 300 * 1024  # bytes: xapi's http_limit_max_rpc_size
XMLRPC, JSONRPC, OPTIONS = "xmlrpc", "jsonrpc", "options"  # what a request is served as
POST_ROUTES = {"/": XMLRPC, "/RPC2": XMLRPC, "/json": XMLRPC, "/jsonrpc": JSONRPC}
# xapi's other POST handlers (http_actions): xapi serves them, the shim does not
NOT_SERVED = ("/cli", "/services", "/remote_db_access", "/remote_db_access_v2")
KNOWN_METHODS = ("GET", "POST", "PUT", "CONNECT", "OPTIONS")  # Http.method_t_of_string
VERSIONS = ("HTTP/1.0", "HTTP/1.1")
REASONS = {100: "Continue", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 411: "Length Required", 413: "Payload Too Large",
           417: "Expectation Failed", 431: "Request Header Fields Too Large", 500: "Internal Error",
           501: "Method not implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported"}
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*\Z")
_DIGITS = re.compile(rb"[0-9]{1,19}\Z")


class HTTPError(Exception):
    """A request refused before it is read: the status to answer and why."""

    def __init__(self, status: int, reason: str) -> None:
        super(HTTPError, self).__init__("%d %s: %s" % (status, REASONS.get(status, ""), reason))
        self.status = status
        self.reason = reason


class Request(object):
    """A parsed request head: what the server needs to read the body and answer."""

    __slots__ = ("method", "path", "version", "headers", "length", "keep_alive", "expect_continue", "route")

    def __init__(self, method: str, path: str, version: str, headers: typing.List[typing.Tuple[str, str]],
                 route: str = XMLRPC):
        self.method = method
        self.path = path
        self.route = route
        self.version = version
        self.headers = headers
        self.length = 0
        self.keep_alive = version == "HTTP/1.1"
        self.expect_continue = False


def head_end(buffer: bytes) -> int:
    """Where the head in ``buffer`` ends (just after its blank line), or -1 if not yet received.

    A head ended by a bare LF blank line is found too, so that ``parse``
    can refuse it instead of waiting for a CRLF that never comes.
    """
    ends = [i + len(mark) for mark in (b"\r\n\r\n", b"\n\n") for i in [buffer.find(mark)] if i >= 0]
    return min(ends) if ends else -1


def parse(head: bytes) -> Request:
    """The Request of ``head`` (request line and headers, blank line included); HTTPError if refused."""
    if re.search(rb"(?<!\r)\n", head):
        raise HTTPError(400, "a line ends with a bare LF, not CRLF")
    lines = head[:-4].split(b"\r\n") if head.endswith(b"\r\n\r\n") else [b""]
    request = _request_line(lines[0])
    for line in lines[1:]:
        request.headers.append(_header(line))
    _framing(request)
    return request


def _request_line(line: bytes) -> Request:
    parts = line.split(b" ")
    if len(parts) != 3 or not all(parts) or not _TOKEN.match(parts[0]):
        raise HTTPError(400, "malformed request line")
    method, target, version = (p.decode("latin-1") for p in parts)
    if version not in VERSIONS:
        raise HTTPError(505 if version.startswith("HTTP/") else 400, "version %r" % version[:16])
    return Request(method, target, version, [], route(method, target))


def route(method: str, target: str) -> str:
    """What ``method`` on ``target`` is served as (XMLRPC, JSONRPC, OPTIONS); HTTPError as xapi answers otherwise."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    if method not in KNOWN_METHODS:
        raise HTTPError(501, "%s not supported" % method[:16])
    if not path.startswith("/"):
        raise HTTPError(403, "no handler for %r" % path[:64])
    if method == "OPTIONS":
        return OPTIONS
    if method == "GET":
        raise HTTPError(404, "no file at %r (the shim serves no files)" % path[:64])
    if method != "POST":
        raise HTTPError(403, "no %s handler for %r" % (method, path[:64]))
    served_as = longest_prefix(path)
    if served_as in NOT_SERVED:
        raise HTTPError(404, "xapi's %s handler is not served by the shim" % served_as)
    return POST_ROUTES[served_as]


def longest_prefix(path: str) -> str:
    """The longest of xapi's POST paths that ``path`` starts with (``Radix_tree.longest_prefix``); "/" at least."""
    return max((p for p in tuple(POST_ROUTES) + NOT_SERVED if path.startswith(p)), key=len)


def _header(line: bytes) -> typing.Tuple[str, str]:
    if line[:1] in (b" ", b"\t"):
        raise HTTPError(400, "folded header line")
    name, colon, value = line.partition(b":")
    if not colon or not _TOKEN.match(name):
        raise HTTPError(400, "malformed header line")
    value = value.strip(b" \t")
    if not _VALUE.match(value):
        raise HTTPError(400, "control character in header %s" % name.decode("latin-1"))
    return name.decode("latin-1").lower(), value.decode("latin-1")


def _framing(request: Request) -> None:
    values = {}
    for name, value in request.headers:
        values.setdefault(name, []).append(value)
    if "transfer-encoding" in values:
        raise HTTPError(400, "Transfer-Encoding is not accepted; send Content-Length")
    lengths = values.get("content-length", [])
    if not lengths and request.route == OPTIONS:
        lengths = ["0"]  # a browser's preflight has no body
    if not lengths:
        raise HTTPError(411, "no Content-Length")
    if len(lengths) > 1:
        raise HTTPError(400, "more than one Content-Length")
    if not _DIGITS.match(lengths[0].encode("latin-1")):
        raise HTTPError(400, "Content-Length %r is not a decimal number" % lengths[0][:32])
    request.length = int(lengths[0])
    if request.length > MAX_BODY:
        raise HTTPError(413, "a request body holds at most %d bytes, not %d" % (MAX_BODY, request.length))
    _connection(request, [v.lower() for v in values.get("connection", [])],
                [v.lower() for v in values.get("expect", [])])


def _connection(request: Request, connection: typing.List[str], expect: typing.List[str]) -> None:
    tokens = {t.strip() for v in connection for t in v.split(",")}
    if "close" in tokens:
        request.keep_alive = False
    elif "keep-alive" in tokens:
        request.keep_alive = True
    if expect and expect != ["100-continue"]:
        raise HTTPError(417, "only Expect: 100-continue is understood")
    request.expect_continue = bool(expect)


def status_line(status: int) -> bytes:
    """``HTTP/1.1 <status> <reason>`` with its CRLF."""
    return ("HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, "Error"))).encode("ascii")
