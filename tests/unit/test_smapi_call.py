"""The SMAPIv1 call model: built as xapi builds it, parsed strictly, answered as xmlrpc.client reads."""

import xmlrpc.client

import pytest

from sm_clusterstack import xmlrpc_safe
from sm_clusterstack.smapi import call as smapi_call
from sm_clusterstack.smapi.call import Call, CallError

HOST = "OpaqueRef:h"
EVERY_MEMBER = dict(
    session_ref="OpaqueRef:s", sr_sm_config={"a": "1"}, sr_ref="OpaqueRef:sr", vdi_type="user",
    sr_uuid="u-sr", vdi_ref="OpaqueRef:v", vdi_location="loc", vdi_uuid="u-vdi",
    driver_params={"p": "q"}, vdi_sm_config={"type": "raw"}, new_uuid="u-new",
    subtask_of="OpaqueRef:t", vdi_on_boot="persist", vdi_allow_caching="false", local_cache_sr="u-c")


def test_sr_attach_is_built_byte_for_byte_as_xapi_builds_it():
    document = Call("sr_attach", HOST, [], {"device": "/dev/sdb"}, session_ref="OpaqueRef:s",
                    sr_ref="OpaqueRef:sr", sr_uuid="u", subtask_of="OpaqueRef:t").to_xml()
    assert document == (
        "<methodCall><methodName>sr_attach</methodName><params><param><value><struct>"
        "<member><name>host_ref</name><value>OpaqueRef:h</value></member>"
        "<member><name>command</name><value>sr_attach</value></member>"
        "<member><name>args</name><value><array><data/></array></value></member>"
        "<member><name>device_config</name><value><struct><member><name>device</name>"
        "<value>/dev/sdb</value></member></struct></value></member>"
        "<member><name>session_ref</name><value>OpaqueRef:s</value></member>"
        "<member><name>sr_ref</name><value>OpaqueRef:sr</value></member>"
        "<member><name>sr_uuid</name><value>u</value></member>"
        "<member><name>subtask_of</name><value>OpaqueRef:t</value></member>"
        "</struct></value></param></params></methodCall>")


def test_members_come_in_xapis_order():
    names = [name for name, _ in Call("vdi_create", HOST, ["1"], {}, **EVERY_MEMBER).members()]
    assert names == [name for name, _ in smapi_call.MEMBERS]
    assert names[:8] == ["host_ref", "command", "args", "device_config", "session_ref",
                         "sr_sm_config", "sr_ref", "vdi_type"]


def test_empty_values_are_written_as_xapi_writes_them():
    document = Call("sr_probe", HOST, [], {}, sr_sm_config={"k": ""}).to_xml()
    assert "<name>args</name><value><array><data/></array></value>" in document
    assert "<name>device_config</name><value><struct/></value>" in document
    assert "<name>k</name><value/>" in document


def test_special_characters_are_escaped():
    document = Call("sr_create", HOST, ["<&>'\""], {}).to_xml()
    assert "<value>&lt;&amp;&gt;&apos;&quot;</value>" in document
    assert smapi_call.parse(document).args == ["<&>'\""]


def test_builder_refuses_characters_xml_cannot_carry():
    with pytest.raises(ValueError):
        Call("sr_create", HOST, ["\x01"], {}).to_xml()


def test_unknown_member_is_a_type_error():
    with pytest.raises(TypeError):
        Call("sr_attach", HOST, frobnicate="x")


@pytest.mark.parametrize("command,members", [
    ("sr_get_driver_info", {}),
    ("sr_create", dict(session_ref="OpaqueRef:s", sr_ref="OpaqueRef:sr", sr_uuid="u")),
    ("vdi_create", EVERY_MEMBER),
])
def test_parse_reads_back_what_was_built(command, members):
    built = Call(command, HOST, ["10", "label"], {"device": "/dev/x", "SRmaster": "true"}, **members)
    parsed = smapi_call.parse(built.to_xml())
    assert parsed.members() == built.members()


@pytest.mark.parametrize("members", [{}, EVERY_MEMBER])
def test_parse_agrees_with_xmlrpc_safe_on_xapi_documents(members):
    document = Call("vdi_attach", HOST, ["true"], {"device": "/dev/x"}, **members).to_xml()
    (struct,), method = xmlrpc_safe.loads(document)
    assert method == "vdi_attach"
    assert dict(smapi_call.parse(document).members()) == struct


def test_parse_reads_documents_written_by_xmlrpc_client():
    struct = {"host_ref": HOST, "command": "sr_scan", "args": [], "device_config": {"device": "/d"},
              "sr_uuid": "u"}
    parsed = smapi_call.parse(xmlrpc.client.dumps((struct,), "sr_scan"))
    assert dict(parsed.members()) == struct


def test_parse_ignores_members_a_newer_xapi_adds():
    struct = {"host_ref": HOST, "command": "sr_scan", "args": [], "device_config": {}, "new_member": 3}
    assert smapi_call.parse(xmlrpc.client.dumps((struct,), "sr_scan")).command == "sr_scan"


@pytest.mark.parametrize("struct,member", [
    ({"command": "sr_scan", "args": [], "device_config": {}}, "host_ref"),
    ({"host_ref": HOST, "command": "sr_scan", "args": "x", "device_config": {}}, "args"),
    ({"host_ref": HOST, "command": "sr_scan", "args": [1], "device_config": {}}, "args"),
    ({"host_ref": HOST, "command": "sr_scan", "args": [], "device_config": {"a": True}}, "device_config"),
    ({"host_ref": HOST, "command": "sr_scan", "args": [], "device_config": {}, "sr_uuid": 5}, "sr_uuid"),
    ({"host_ref": HOST, "command": "sr_delete", "args": [], "device_config": {}}, "command"),
])
def test_parse_names_the_wrong_member(struct, member):
    with pytest.raises(CallError) as raised:
        smapi_call.parse(xmlrpc.client.dumps((struct,), "sr_scan"))
    assert raised.value.member == member


@pytest.mark.parametrize("document", [
    b"", b"junk", b"<methodCall/>", b"<methodResponse/>",
    b'<!DOCTYPE x [<!ENTITY a "b">]><methodCall><methodName>&a;</methodName></methodCall>',
    b"<methodCall><methodName>x</methodName><params><bogus/></params></methodCall>",
    b"<methodCall><methodName>x</methodName><params><param><value><dateTime.iso8601>2020"
    b"</dateTime.iso8601></value></param></params></methodCall>",
    b"<methodCall><methodName>x</methodName><params><param><value><struct><member><name>a</name>"
    b"</member></struct></value></param></params></methodCall>",
    b"<methodCall><methodName>x</methodName><params><param><value><array><data>" * 20,
])
def test_parse_refuses_what_is_not_a_call(document):
    with pytest.raises(CallError):
        smapi_call.parse(document)


def test_parse_refuses_nesting_deeper_than_a_call_needs():
    deep = "<value><array><data>" * 20 + "</data></array></value>" * 20
    document = ("<methodCall><methodName>x</methodName><params><param>%s</param></params>"
                "</methodCall>" % deep)
    with pytest.raises(CallError, match="deeper"):
        smapi_call.parse(document)


def test_response_is_read_by_xmlrpc_client():
    value = {"uuid": "u", "sizes": [1, 2], "ok": True, "none": None, "nested": {"k": "v"}}
    (read,), _ = xmlrpc.client.loads(smapi_call.response(value))
    assert read == value


def test_fault_is_read_by_xmlrpc_client_with_bad_characters_replaced():
    with pytest.raises(xmlrpc.client.Fault) as raised:
        xmlrpc.client.loads(smapi_call.fault(605, "stack \x1b[1m [corosync]"))
    assert raised.value.faultCode == 605
    assert raised.value.faultString == "stack \ufffd[1m [corosync]"
