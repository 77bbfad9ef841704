"""httpframe.parse: the one strict reading of a request head (framing refused, not guessed)."""

import pytest

from sm_clusterstack.xapi.rpc import httpframe


def head(*lines):
    return b"\r\n".join(list(lines) + [b"", b""])


GOOD = (b"POST / HTTP/1.1", b"Host: x", b"Content-Length: 12")


def test_a_plain_post_is_parsed_with_its_length_and_keep_alive():
    request = httpframe.parse(head(*GOOD))
    assert (request.method, request.path, request.length, request.keep_alive) == ("POST", "/", 12, True)


def test_connection_close_and_http_1_0_end_the_connection():
    assert httpframe.parse(head(*GOOD + (b"Connection: close",))).keep_alive is False
    assert httpframe.parse(head(b"POST /RPC2 HTTP/1.0", b"Content-Length: 0")).keep_alive is False
    assert httpframe.parse(head(b"POST / HTTP/1.0", b"Content-Length: 0", b"Connection: Keep-Alive")).keep_alive


@pytest.mark.parametrize("lines,status", [
    (GOOD[:2] + (b"Content-Length: 1", b"Content-Length: 12"), 400),
    (GOOD[:2] + (b"Content-Length: +12",), 400),
    (GOOD[:2] + (b"Content-Length: -1",), 400),
    (GOOD[:2] + (b"Content-Length: 1,2",), 400),
    (GOOD[:2] + (b"Content-Length: " + b"9" * 20,), 400),
    (GOOD + (b"Transfer-Encoding: chunked",), 400),
    (GOOD + (b" folded",), 400),
    (GOOD + (b"Bad Name: x",), 400),
    (GOOD + (b"X: a\x00b",), 400),
    (GOOD[:2], 411),
    (GOOD[:2] + (b"Content-Length: %d" % (httpframe.MAX_BODY + 1),), 413),
    ((b"GET / HTTP/1.1",) + GOOD[1:], 404),
    ((b"PUT / HTTP/1.1",) + GOOD[1:], 403),
    ((b"DELETE / HTTP/1.1",) + GOOD[1:], 501),
    ((b"POST * HTTP/1.1",) + GOOD[1:], 403),
    ((b"POST /cli HTTP/1.1",) + GOOD[1:], 404),
    ((b"POST /remote_db_access_v2 HTTP/1.1",) + GOOD[1:], 404),
    ((b"POST / HTTP/2.0",) + GOOD[1:], 505),
    ((b"POST /",) + GOOD[1:], 400),
    (GOOD + (b"Expect: something",), 417),
])
def test_refused_heads_say_which_status(lines, status):
    with pytest.raises(httpframe.HTTPError) as e:
        httpframe.parse(head(*lines))
    assert e.value.status == status


def test_bare_lf_anywhere_is_400():
    with pytest.raises(httpframe.HTTPError) as e:
        httpframe.parse(b"\n".join(GOOD + (b"", b"")))
    assert e.value.status == 400


def test_head_end_finds_crlf_and_bare_lf_blank_lines():
    assert httpframe.head_end(b"a\r\n\r\nbody") == 5
    assert httpframe.head_end(b"a\n\nbody") == 3
    assert httpframe.head_end(b"a\r\nb: c\r\n") == -1


def test_expect_100_continue_is_noted():
    assert httpframe.parse(head(*GOOD + (b"Expect: 100-continue",))).expect_continue is True


@pytest.mark.parametrize("path,route", [
    (b"/", httpframe.XMLRPC), (b"/RPC2", httpframe.XMLRPC), (b"/xmlrpc", httpframe.XMLRPC),
    (b"/json", httpframe.XMLRPC), (b"/jsonx", httpframe.XMLRPC), (b"/jsonrpc", httpframe.JSONRPC),
    (b"/jsonrpc?x=/", httpframe.JSONRPC), (b"/jsonrpc/a", httpframe.JSONRPC), (b"/a/jsonrpc", httpframe.XMLRPC),
    (b"/clix", None),
])
def test_a_post_goes_to_the_handler_of_the_longest_prefix(path, route):
    """xapi's ``Radix_tree.longest_prefix`` over its POST paths (``xapi.ml``): ``post_json`` is XML-RPC
    (``Api_server.callback``), ``post_jsonrpc`` JSON-RPC; ``/clix`` is under xapi's ``/cli``, not served here."""
    lines = (b"POST " + path + b" HTTP/1.1",) + GOOD[1:]
    if route is None:
        with pytest.raises(httpframe.HTTPError) as e:
            httpframe.parse(head(*lines))
        assert e.value.status == 404
    else:
        assert httpframe.parse(head(*lines)).route == route


def test_options_needs_no_content_length():
    assert httpframe.parse(head(b"OPTIONS / HTTP/1.1", b"Host: x")).route == httpframe.OPTIONS
