"""200 malformed requests, each answered with a XenAPI Failure or an HTTP 4xx; the server keeps serving.

Wrong parameter types, huge strings, unknown refs, XML bombs (entity
expansion, external entities, deep nesting), missing sessions, broken
XML-RPC and broken HTTP bodies, sent raw over HTTP to a `serve` process.
A body over xapi's 300 KiB limit (``Constants.http_limit_max_rpc_size``)
or a Content-Length that is no decimal number is refused by HTTP status,
as ambiguous framing must be (see also test_xapi_http.py).
"""

import http.client
import random
import xmlrpc.client

import pytest

from helpers.shim import calls, failure

ARITY = {"pool.get_record": 1, "PBD.plug": 1, "SR.create": 9, "pool.enable_ha": 3, "host.get_by_uuid": 1,
         "PBD.get_all_records_where": 1, "PBD.create": 1, "host.add_to_other_config": 3}
BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i else b"&lol;") * 10) for i in range(9))
        + b']><methodCall><methodName>pool.get_all</methodName><params><param><value>&lol8;</value></param>'
        b'</params></methodCall>')
XXE = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><methodCall>'
       b'<methodName>pool.get_all</methodName><params><param><value>&e;</value></param></params></methodCall>')


pytestmark = pytest.mark.pool(hosts=1)

MAX_BODY = 300 * 1024


def post_status(url, body, content_length=None):
    """(HTTP status, the XML-RPC value when 200)."""
    host, port = url[len("http://"):].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.putrequest("POST", "/")
        conn.putheader("Content-Type", "text/xml")
        conn.putheader("Content-Length", str(len(body)) if content_length is None else content_length)
        conn.endheaders()
        conn.send(body)
        response = conn.getresponse()
        answer = response.read()
    finally:
        conn.close()
    if response.status != 200:
        return response.status, None
    (value,), _ = xmlrpc.client.loads(answer)
    return 200, value


def post(url, body, content_length=None):
    status, value = post_status(url, body, content_length)
    assert status == 200
    return value


def call(method, *params):
    return xmlrpc.client.dumps(params, methodname=method, allow_none=True).encode("utf-8")


def cases(session, rng):
    """Yield (description, body[, content_length]) for the 200 requests."""
    methods = sorted(ARITY)
    bad_values = [42, 3.5, True, [1, 2], {"a": 1}, None, xmlrpc.client.Binary(b"\0\1"),
                  xmlrpc.client.DateTime(0), "OpaqueRef:unknown", "x" * 100000, ""]
    fixed = [
        ("xml bomb", BOMB), ("external entity", XXE), ("not xml", b"hello"), ("empty", b""),
        ("response not call", xmlrpc.client.dumps(({"a": "b"},), methodresponse=True).encode()),
        ("no method name", b"<methodCall><params></params></methodCall>"),
        ("bad utf-8", b"<methodCall><methodName>\xff\xfe</methodName></methodCall>"),
        ("deep nesting", b"<methodCall><methodName>pool.get_all</methodName><params><param>"
         + b"<value><array><data>" * 6000 + b"</data></array></value>" * 6000 + b"</param></params></methodCall>"),
        ("huge int", b"<methodCall><methodName>pool.get_all</methodName><params><param><value><int>"
         + b"9" * 5000 + b"</int></value></param></params></methodCall>"),
        ("no session", call("pool.get_all")), ("null session", call("pool.get_all", "OpaqueRef:NULL")),
        ("int session", call("pool.get_all", 7)), ("unknown method", call("VM.start", session, "x")),
        ("huge method name", call("x" * 100000, session)),
    ]
    for case in fixed:
        yield case
    for number in range(200 - len(fixed)):
        method = rng.choice(methods)
        count = ARITY[method]  # parameters after the session
        kind = number % 4
        if kind == 0:  # wrong types in every position
            yield "wrong types", call(method, session, *[rng.choice(bad_values) for _ in range(count)])
        elif kind == 1:  # unknown refs everywhere
            yield "unknown ref", call(method, session, *["OpaqueRef:%032x" % rng.getrandbits(128)] * count)
        elif kind == 2:  # session missing, or not a session
            params = [rng.choice(bad_values) for _ in range(count + rng.randint(0, 1))]
            yield "no session", call(method, *params)
        else:  # huge strings, the request within the limit
            yield "huge string", call(method, session, *["y" * rng.randint(10000, MAX_BODY // 10)] * count)


def test_malformed_requests_get_xenapi_errors_and_server_keeps_serving(readonly_pool):
    pool = readonly_pool
    session = pool.session._session
    answered = 0
    for case in cases(session, random.Random(7)):
        what, body = case[0], case[1]
        value = post(pool.server.url, body, *case[2:])
        assert value["Status"] == "Failure", what
        description = value["ErrorDescription"]
        assert description and all(isinstance(p, str) for p in description), what
        assert description[0] != "INTERNAL_ERROR", (what, description)
        answered += 1
    assert answered == 200
    for length, status in (("-5", 400), ("lots", 400), ("+5", 400), (str(64 * 1024 * 1024), 413),
                           (str(MAX_BODY + 1), 413)):
        assert post_status(pool.server.url, b"<x/>", length)[0] == status, length
    assert post_status(pool.server.url, call("pool.get_all", session, "y" * MAX_BODY))[0] == 413
    assert pool.server.proc.poll() is None
    assert pool.x.pool.get_all() and pool.server.session().xenapi.host.get_all()


@pytest.mark.parametrize("encoding", ["utf-7", "utf-32", "shift_jis", "rot13", "x-bogus", "hex"])
def test_declared_encoding_expat_cannot_decode_is_an_unmarshal_failure(readonly_pool, encoding):
    """expat hands unknown encodings to Python's codecs, which raise LookupError/ValueError."""
    pool = readonly_pool
    body = b'<?xml version="1.0" encoding="%s"?>' % encoding.encode() + call("pool.get_all", "x")
    value = post(pool.server.url, body)
    assert value["Status"] == "Failure"
    assert value["ErrorDescription"][0] == "XMLRPC_UNMARSHAL_FAILURE"
    assert pool.x.pool.get_all()
    with open(pool.server.log.name, "rb") as f:
        assert b"Traceback" not in f.read()


def test_an_overlong_string_is_refused_before_the_method_runs(pool):
    """No value reaches a method (whose checks may run under the pool's write lock) unbounded."""
    x = pool.x
    host = x.host.get_all()[0]
    details = failure(x.host.add_to_other_config, host, "exec-prefix", "env A=" + "x" * 70000)
    assert details[:2] == ["INVALID_VALUE", "value"]
    assert failure(x.host.set_other_config, host, {"k" * 70000: "v"})[:2] == ["INVALID_VALUE", "value"]
    assert not any(k == "exec-prefix" or len(k) > 64 for k in x.host.get_other_config(host))
    details = failure(x.SR.create, host, {"device": "/dev/x" * 20000}, "0", "n", "", "lvm", "user", False, {})
    assert details[:2] == ["INVALID_VALUE", "device_config"]
    assert failure(x.SR.create, host, {}, "0", "n" * 65537, "", "lvm", "user", False, {})[:2] == [
        "INVALID_VALUE", "name_label"]
    assert x.SR.get_all() == [] and [c for c in calls(pool.ctl["lvm"]) if c[0] == "sr_create"] == []
    x.host.add_to_other_config(host, "k", "v" * 65536)  # at the limit: accepted
    assert len(x.host.get_other_config(host)["k"]) == 65536
