"""The shim's HTTP layer against raw sockets: strict framing, timeouts, a connection cap.

xapi routes a POST by the longest registered prefix of its path
(``ocaml/libs/http-lib/http_svr.ml`` ``handle_one``, ``Radix_tree.longest_prefix``;
the handlers of ``ocaml/xapi/xapi.ml`` ``common_http_handlers``): XML-RPC at
``/``, ``/RPC2``, ``/json`` and everything under them, JSON-RPC at
``/jsonrpc``; it caps connections by not accepting more
(``ocaml/libs/http-lib/server_io.ml`` ``establish_server``, 800 on TCP),
and times out each read of a request head after 10 s
(``xapi_globs.ml`` ``header_read_timeout_tcp``).  Framing two parsers could
read differently is refused with 400, so no proxy or client can smuggle a
second request past the first.
"""

import socket
import time
import xmlrpc.client

import pytest

from helpers.shim import pool_for_test, wait_for

CAP = 800  # server.TCPServer.max_connections
BODY = xmlrpc.client.dumps(("OpaqueRef:nobody",), methodname="pool.get_all").encode("utf-8")


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """One server for the module (the conftest's pool is one per test)."""
    with pool_for_test(tmp_path_factory.mktemp("http"), hosts=1) as p:
        yield p


def connect(pool, timeout=30):
    host, port = pool.server.url[len("http://"):].split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def exchange(pool, raw, timeout=30):
    """Send ``raw`` bytes on a fresh connection; everything the server answers until it closes."""
    sock = connect(pool, timeout)
    try:
        sock.sendall(raw)
        return read_until_closed(sock)
    finally:
        sock.close()


def read_until_closed(sock):
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def status_of(answer):
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


def request(head_lines, body=BODY, eol=b"\r\n"):
    return eol.join(head_lines + [b"", b""]) + body


def good_head(path=b"/", length=None):
    return [b"POST " + path + b" HTTP/1.1", b"Host: localhost", b"Content-Type: text/xml",
            b"Content-Length: %d" % (len(BODY) if length is None else length), b"Connection: close"]


@pytest.mark.parametrize("path", [b"/", b"/RPC2", b"/xmlrpc", b"/foo", b"/RPC2/", b"//", b"/?x=1", b"/json",
                                  b"/jsonx", b"/json?a=b"])
def test_xml_rpc_is_served_on_every_path_xapi_gives_post_root(pool, path):
    """``/xmlrpc`` (XO's fallback) and any path reach XML-RPC, as xapi's longest-prefix routing sends them."""
    answer = exchange(pool, request(good_head(path)))
    assert status_of(answer) == 200 and b"SESSION_INVALID" in answer and b"Content-Type: text/xml" in answer


@pytest.mark.parametrize("path,status", [(b"http://localhost/", 403), (b"*", 403), (b"/cli", 404),
                                         (b"/services/SM", 404)])
def test_a_post_no_xmlrpc_handler_takes_is_refused(pool, path, status):
    """No prefix matches: xapi's ``default_callback`` 403; xapi's other handlers are not served here: 404."""
    assert status_of(exchange(pool, request(good_head(path)))) == status


@pytest.mark.parametrize("method,status", [(b"GET", 404), (b"PUT", 403), (b"HEAD", 501), (b"DELETE", 501)])
def test_another_method_gets_xapis_answer(pool, method, status):
    """GET: the file server's 404; PUT: no handler, 403; a method xapi does not know: 501."""
    head = good_head()
    head[0] = method + b" / HTTP/1.1"
    assert status_of(exchange(pool, request(head))) == status


def test_options_is_answered_as_xapis_preflight(pool):
    """``Http_svr.respond_to_options``: 200, any origin, the asked headers and X-Requested-With, no body."""
    answer = exchange(pool, request([b"OPTIONS /jsonrpc HTTP/1.1", b"Host: x", b"Connection: close",
                                     b"Access-Control-Request-Headers: content-type"], body=b""))
    assert status_of(answer) == 200
    assert b"Access-Control-Allow-Origin: *" in answer
    assert b"Access-Control-Allow-Headers: content-type, X-Requested-With" in answer


AMBIGUOUS = {
    "two content-lengths": good_head()[:3] + [b"Content-Length: 5", b"Content-Length: %d" % len(BODY)],
    "equal content-lengths twice": good_head() + [b"Content-Length: %d" % len(BODY)],
    "content-length +n": good_head()[:3] + [b"Content-Length: +%d" % len(BODY)],
    "content-length with a space inside": good_head()[:3] + [b"Content-Length: 1 %d" % len(BODY)],
    "content-length in hex": good_head()[:3] + [b"Content-Length: 0x%x" % len(BODY)],
    "transfer-encoding chunked": good_head() + [b"Transfer-Encoding: chunked"],
    "folded header": good_head() + [b"X-Thing: a", b" folded"],
    "header without colon": good_head() + [b"Nonsense"],
    "space before colon": good_head() + [b"Content-Type : text/xml"],
    "two spaces in the request line": [b"POST  / HTTP/1.1"] + good_head()[1:],
}


@pytest.mark.parametrize("case", sorted(AMBIGUOUS))
def test_ambiguous_framing_is_400_and_the_connection_closed(pool, case):
    answer = exchange(pool, request(AMBIGUOUS[case]))
    assert status_of(answer) == 400
    assert answer.count(b"HTTP/1.1 ") == 1  # nothing after the refusal was taken for a request


def test_bare_lf_line_ends_are_400(pool):
    assert status_of(exchange(pool, request(good_head(), eol=b"\n"))) == 400
    mixed = b"\r\n".join(good_head()[:2]) + b"\n" + b"\r\n".join(good_head()[2:] + [b"", b""]) + BODY
    assert status_of(exchange(pool, mixed)) == 400


def test_missing_content_length_is_411(pool):
    assert status_of(exchange(pool, request(good_head()[:3] + [b"Connection: close"]))) == 411


def test_pipelined_requests_are_answered_in_order(pool):
    keep = [line for line in good_head() if not line.startswith(b"Connection")]
    answer = exchange(pool, request(keep) + request(good_head(b"/RPC2")))
    assert answer.count(b"HTTP/1.1 200 ") == 2 and answer.count(b"SESSION_INVALID") == 2


def test_a_stalled_partial_request_is_closed_within_seconds_with_408(pool):
    sock = connect(pool, timeout=60)
    try:
        sock.sendall(request(good_head())[:-10])  # the body's last 10 bytes never come
        started = time.monotonic()
        answer = read_until_closed(sock)
        waited = time.monotonic() - started
    finally:
        sock.close()
    assert status_of(answer) == 408
    assert waited < 59, "closed by the test's own timeout, not the server's"


def test_a_dropped_client_is_logged_in_one_line_without_traceback(pool):
    for _ in range(20):
        sock = connect(pool)
        sock.sendall(request(good_head())[:40])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # RST in the middle of the head
    assert pool.x.pool.get_all()
    wait_for(lambda: server_log(pool).count(b"dropped: ") >= 20)
    assert b"Traceback" not in server_log(pool)


def json_head(length, path=b"/jsonrpc"):
    return [b"POST " + path + b" HTTP/1.1", b"Host: localhost", b"Content-Type: application/json",
            b"Content-Length: %d" % length, b"Connection: close"]


def test_json_rpc_is_served_at_jsonrpc_as_application_json(pool):
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "pool.get_all", "params": ["OpaqueRef:nobody"]}'
    answer = exchange(pool, request(json_head(len(body)), body))
    assert status_of(answer) == 200 and b"Content-Type: application/json" in answer
    assert answer.endswith(b'{"jsonrpc":"2.0","error":{"code":1,"message":"SESSION_INVALID",'
                           b'"data":["OpaqueRef:nobody"]},"id":1}')


BAD_JSON = {
    "malformed": b'{"method": ',
    "a batch": b'[{"jsonrpc": "2.0", "id": 1, "method": "pool.get_all", "params": []}]',
    "an unknown version": b'{"jsonrpc": "3.0", "id": 1, "method": "pool.get_all", "params": []}',
    "a notification": b'{"jsonrpc": "2.0", "method": "pool.get_all", "params": []}',
    "nested deeper than the parser goes": b"[" * 200000 + b"]" * 100000,
    "nested deeper than a call needs": b'{"id": 1, "method": "m", "params": ' + b"[" * 100 + b"]" * 100 + b"}",
    "not UTF-8": b'{"id": 1, "method": "' + bytes([0xff]) + b'", "params": []}',
}


@pytest.mark.parametrize("case", sorted(BAD_JSON))
def test_a_json_body_that_is_no_call_gets_xapis_500_and_nothing_is_held(pool, case):
    """``Jsonrpc.version_id_and_call_of_string`` raises, so xapi's ``handle_one`` answers 500 and closes."""
    body = BAD_JSON[case]
    answer = exchange(pool, request(json_head(len(body)), body))
    assert status_of(answer) == 500 and b"HTTP 500 internal server error" in answer
    assert pool.x.pool.get_all() and b"Traceback" not in server_log(pool)


def test_a_json_body_over_the_limit_is_413_before_it_is_read(pool):
    answer = exchange(pool, request(json_head(300 * 1024 + 1), b""))
    assert status_of(answer) == 413


def server_log(pool):
    with open(pool.server.log.name, "rb") as f:
        return f.read()


def kept_alive(pool):
    """A connection that made one request and now idles, kept alive (a client between calls)."""
    sock = connect(pool)
    sock.sendall(request([line for line in good_head() if not line.startswith(b"Connection")]))
    answer = b""
    while not answer.endswith(b"</methodResponse>\n"):
        answer += sock.recv(65536)
    return sock


def test_connections_beyond_the_cap_wait_until_others_close(pool):
    assert pool.x.pool.get_all()  # the fixture's own client now holds one connection, kept alive
    held = [kept_alive(pool) for _ in range(CAP - 1)]
    try:
        extra = connect(pool, timeout=60)
        extra.sendall(request(good_head()))
        extra.settimeout(2)
        with pytest.raises(socket.timeout):
            extra.recv(1)  # not served while every slot is taken
        while held:
            held.pop().close()
        extra.settimeout(60)
        assert status_of(read_until_closed(extra)) == 200
        extra.close()
    finally:
        for sock in held:
            sock.close()
    assert pool.x.pool.get_all()
