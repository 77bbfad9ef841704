"""JSON-RPC as xapi reads and answers it at ``/jsonrpc``: one call per request, over the one dispatcher.

xapi's ``Api_server.jsoncallback`` (``ocaml/xapi/api_server.ml``) reads the
body with ocaml-rpc's ``Jsonrpc.version_id_and_call_of_string``
(``src/lib/jsonrpc.ml``): an object whose ``method`` is a string; no
``jsonrpc`` member is version 1.0, ``"2.0"`` is 2.0, anything else is
refused; 1.0 needs ``params`` as an array, 2.0 takes an array, an object
(one struct parameter), null or nothing; ``id`` must be an integer or a
string (a notification, with no id, is refused).  A body it cannot read
(malformed JSON, a batch array, another version) raises out of the
handler, and xapi's HTTP server answers 500 Internal Error
(``http_svr.ml`` ``handle_one``): so does the shim, with nothing held.

The answer (``Jsonrpc.string_of_response``): 1.0
``{"result": v, "error": null, "id": id}`` or ``{"result": null,
"error": [CODE, params...], "id": id}``; 2.0 ``{"jsonrpc": "2.0",
"result": v, "id": id}`` or an error object ``{"code": 1, "message":
CODE, "data": [params...]}`` (``callback1``; ``error_code_lit`` is 1), as
``application/json``.  Values as ocaml-rpc writes them: int64 as a number
(XML-RPC has it as a string), dates as their string, compact separators.
"""

import json
import typing
import xmlrpc.client

from sm_clusterstack.xapi.db import model
from sm_clusterstack.xapi.rpc import dispatch as api

V1, V2 = "1.0", "2.0"
ERROR_CODE = 1  # api_server_common.ml error_code_lit
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
CONTENT_TYPE = "application/json"


class MalformedRequest(Exception):
    """A body ocaml-rpc would not read as a call (xapi: HTTP 500); the text says why."""


class Call(object):
    """One JSON-RPC call: its version, id, method name and parameters."""

    __slots__ = ("version", "id", "method", "params")

    def __init__(self, version: str, call_id: typing.Union[int, str], method: str, params: list) -> None:
        self.version = version
        self.id = call_id
        self.method = method
        self.params = params


def _first_key_wins(pairs: typing.List[typing.Tuple[str, typing.Any]]) -> dict:
    """An object's members, the first of a repeated name kept (ocaml-rpc reads with List.assoc)."""
    found = {}
    for key, value in pairs:
        found.setdefault(key, value)
    return found


def parse_call(body: bytes) -> Call:
    """The call in ``body``; MalformedRequest as ``version_id_and_call_of_string`` raises."""
    try:
        value = json.loads(body.decode("utf-8"), object_pairs_hook=_first_key_wins)
    except (UnicodeDecodeError, ValueError) as e:
        raise MalformedRequest("Yojson.Json_error: %s" % str(e)[:200])
    except RecursionError:
        raise MalformedRequest("Yojson.Json_error: nested too deep")
    if not isinstance(value, dict):
        raise MalformedRequest("Invalid request body")
    method = _member(value, "method")
    if not isinstance(method, str):
        raise MalformedRequest("Invalid field 'method' in request body")
    version = _version(value)
    return Call(version, _call_id(value), method, _params(value, version))


def _member(obj: dict, name: str) -> typing.Any:
    if name not in obj:
        raise MalformedRequest("Required field %s is missing" % name)
    return obj[name]


def _version(obj: dict) -> str:
    if "jsonrpc" not in obj:
        return V1
    if obj["jsonrpc"] == V2:
        return V2
    raise MalformedRequest("Invalid field 'jsonrpc' in request body")


def _params(obj: dict, version: str) -> list:
    params = _member(obj, "params") if version == V1 else obj.get("params")
    if isinstance(params, list):
        return params
    if version == V2 and params is None:
        return []
    if version == V2 and isinstance(params, dict):
        return [params]
    raise MalformedRequest("Invalid field 'params' in request body")


def _call_id(obj: dict) -> typing.Union[int, str]:
    call_id = obj.get("id")
    if isinstance(call_id, str) or _is_int64(call_id):
        return call_id
    raise MalformedRequest("Invalid field 'id' in request body")


def _is_int64(value: typing.Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX


def answer(call: Call, response: dict) -> bytes:
    """The JSON text xapi sends for ``response`` (a XenAPI Success/Failure struct) to ``call``."""
    if response["Status"] == "Success":
        body = {"result": to_json(response["Value"])}
        error = None
    else:
        description = list(response["ErrorDescription"])
        error = description
        if call.version == V2 and call.method != "system.listMethods":
            error = {"code": ERROR_CODE, "message": description[0] if description else "",
                     "data": description[1:]}
        body = {"result": None}
    if call.version == V1:
        body = {"result": body["result"], "error": error, "id": call.id}
    elif error is None:
        body = {"jsonrpc": V2, "result": body["result"], "id": call.id}
    else:
        body = {"jsonrpc": V2, "error": error, "id": call.id}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def to_json(value: typing.Any) -> typing.Any:
    """``value`` as ocaml-rpc's ``rpc_to_json`` writes it: int64 a number, a date its string."""
    if isinstance(value, model.Int64):
        return int(value)
    if isinstance(value, xmlrpc.client.DateTime):
        return value.value
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def respond(ctx: typing.Any, body: bytes, local_root: bool = False) -> bytes:
    """The JSON-RPC answer to one request body; MalformedRequest when there is no call to answer."""
    call = parse_call(body)
    if api.too_deep(call.params):
        raise MalformedRequest("values nested deeper than %d" % api.MAX_DEPTH)
    return answer(call, api.dispatch(ctx, call.method, tuple(call.params), local_root, "JSON-RPC"))
