"""jsonrpc: a body read as ocaml-rpc's ``Jsonrpc.version_id_and_call_of_string`` reads it, answered as xapi.

xapi's ``Api_server.jsoncallback`` (``ocaml/xapi/api_server.ml``) and
``callback1`` (the 2.0 error object, ``error_code_lit`` 1 from
``api_server_common.ml``); ocaml-rpc ``src/lib/jsonrpc.ml``
(``version_id_and_call_of_string_option``, ``json_of_response``).
"""

import json
import xmlrpc.client

import pytest

from sm_clusterstack.xapi.db import model
from sm_clusterstack.xapi.rpc import jsonrpc


def call(obj):
    return jsonrpc.parse_call(json.dumps(obj).encode("utf-8"))


def test_no_jsonrpc_member_is_version_1_and_2_0_is_version_2():
    assert call({"method": "m", "params": [], "id": 1}).version == jsonrpc.V1
    assert call({"jsonrpc": "2.0", "method": "m", "params": [], "id": 1}).version == jsonrpc.V2


@pytest.mark.parametrize("params,expected", [(None, []), ([1, "a"], [1, "a"]), ({"k": "v"}, [{"k": "v"}])])
def test_version_2_params_may_be_an_array_an_object_or_null(params, expected):
    assert call({"jsonrpc": "2.0", "method": "m", "params": params, "id": "x"}).params == expected


def test_version_2_params_may_be_left_out():
    assert call({"jsonrpc": "2.0", "method": "m", "id": 0}).params == []


@pytest.mark.parametrize("body", [
    b"{", b"[]", b"[{\"method\": \"m\", \"params\": [], \"id\": 1}]", b"\"m\"", b"\xff\xfe",
    b"{\"params\": [], \"id\": 1}",                                   # no method
    b"{\"method\": 1, \"params\": [], \"id\": 1}",                    # method not a string
    b"{\"jsonrpc\": \"3.0\", \"method\": \"m\", \"params\": [], \"id\": 1}",   # unknown version
    b"{\"jsonrpc\": 2.0, \"method\": \"m\", \"params\": [], \"id\": 1}",       # version as a number
    b"{\"method\": \"m\", \"id\": 1}",                                # 1.0 needs params
    b"{\"method\": \"m\", \"params\": {}, \"id\": 1}",                # 1.0 params must be an array
    b"{\"jsonrpc\": \"2.0\", \"method\": \"m\", \"params\": 5, \"id\": 1}",
    b"{\"method\": \"m\", \"params\": []}",                           # a notification
    b"{\"method\": \"m\", \"params\": [], \"id\": null}",
    b"{\"method\": \"m\", \"params\": [], \"id\": 1.5}",
    b"{\"method\": \"m\", \"params\": [], \"id\": true}",
    b"{\"method\": \"m\", \"params\": [], \"id\": 99999999999999999999}",
    b"[" * 100000 + b"]" * 100000,                                   # deeper than the parser goes
])
def test_what_ocaml_rpc_does_not_read_as_a_call_is_malformed(body):
    with pytest.raises(jsonrpc.MalformedRequest):
        jsonrpc.parse_call(body)


def test_a_repeated_member_keeps_the_first_as_list_assoc_does():
    assert jsonrpc.parse_call(b'{"method": "a", "method": "b", "params": [], "id": 1}').method == "a"


def answer(version, response, method="m", call_id=7):
    return json.loads(jsonrpc.answer(jsonrpc.Call(version, call_id, method, []), response).decode("utf-8"))


def test_a_success_is_result_error_null_in_1_0_and_result_alone_in_2_0():
    ok = {"Status": "Success", "Value": "v"}
    assert answer(jsonrpc.V1, ok) == {"result": "v", "error": None, "id": 7}
    assert answer(jsonrpc.V2, ok, call_id="s") == {"jsonrpc": "2.0", "result": "v", "id": "s"}


def test_a_failure_is_the_description_in_1_0_and_an_error_object_of_code_1_in_2_0():
    failed = {"Status": "Failure", "ErrorDescription": ["HANDLE_INVALID", "SR", "OpaqueRef:x"]}
    assert answer(jsonrpc.V1, failed) == {"result": None, "error": ["HANDLE_INVALID", "SR", "OpaqueRef:x"], "id": 7}
    assert answer(jsonrpc.V2, failed) == {
        "jsonrpc": "2.0", "error": {"code": 1, "message": "HANDLE_INVALID", "data": ["SR", "OpaqueRef:x"]}, "id": 7}


def test_system_list_methods_failures_are_not_translated_in_2_0():
    failed = {"Status": "Failure", "ErrorDescription": ["X"]}
    assert answer(jsonrpc.V2, failed, method="system.listMethods")["error"] == ["X"]


def test_int64_fields_are_numbers_and_dates_their_string_as_ocaml_rpc_writes_them():
    value = {"size": model.Int64(5), "when": xmlrpc.client.DateTime("20260101T00:00:00Z"), "f": 0.5}
    assert answer(jsonrpc.V2, {"Status": "Success", "Value": value})["result"] == {
        "size": 5, "when": "20260101T00:00:00Z", "f": 0.5}


def test_the_answer_is_compact_as_yojson_writes_it():
    text = jsonrpc.answer(jsonrpc.Call(jsonrpc.V1, 1, "m", []), {"Status": "Success", "Value": ["\u00e9"]})
    assert text == '{"result":["\u00e9"],"error":null,"id":1}'.encode("utf-8")


def test_an_int64_is_still_a_string_in_xml_rpc():
    assert "<value><string>5</string></value>" in xmlrpc.client.dumps((model.Int64(5),))
