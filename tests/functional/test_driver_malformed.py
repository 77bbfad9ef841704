"""Bad input: every malformed argv gives an XML-RPC fault on stdout, exit 0, no traceback."""

import pytest

from helpers.drivers import HOST, environment, run_argv
from sm_clusterstack.smapi import call as smapi_call

SR_UUID = "3f2b0c1e-5d4a-4b6e-9c8d-7e6f5a4b3c2d"
MALFORMED, CONFIG_MISSING, CONFIG_INVALID, NOT_IMPLEMENTED, ARGUMENT_INVALID = 600, 601, 602, 38, 608


def member(name, value_xml):
    return "<member><name>%s</name>%s</member>" % (name, value_xml)


def s(text):
    return "<value>%s</value>" % text


COMMON = {
    "host_ref": s(HOST),
    "command": s("sr_attach"),
    "args": "<value><array><data/></array></value>",
    "device_config": "<value><struct/></value>",
    "session_ref": s("OpaqueRef:5e550000-0000-4000-8000-000000000001"),
    "sr_uuid": s(SR_UUID),
}


def document(method="sr_attach", drop=(), **override):
    """A methodCall with the common members, some dropped or replaced (raw XML values)."""
    members = dict(COMMON, command=s(method))
    members.update(override)
    body = "".join(member(k, v) for k, v in members.items() if k not in drop)
    return ("<methodCall><methodName>%s</methodName><params><param><value><struct>%s</struct>"
            "</value></param></params></methodCall>" % (method, body))


def call(command, device_config=None, args=(), **members):
    members.setdefault("session_ref", COMMON["session_ref"][7:-8])
    return smapi_call.Call(command, HOST, list(args), device_config or {}, **members).to_xml()


BOMB = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        '<methodCall><methodName>&lol3;</methodName></methodCall>')
EXTERNAL = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            '<methodCall><methodName>&e;</methodName></methodCall>')
DEEP = "<value><array><data>" * 60 + "</data></array></value>" * 60
# encodings expat cannot decode (multi-byte, not text codecs, unknown): the call is malformed
UNDECODABLE = ("utf-7", "utf-32", "shift_jis", "rot13", "x-bogus", "hex", "utf-16")

CASES = [
    ("no argument", [], MALFORMED),
    ("two arguments", [document(), document()], MALFORMED),
    ("empty argument", [""], MALFORMED),
    ("not XML", ["hello driver"], MALFORMED),
    ("truncated XML", [document()[:-20]], MALFORMED),
    ("entity bomb", [BOMB], MALFORMED),
    ("external entity", [EXTERNAL], MALFORMED),
    ("DOCTYPE only", ['<!DOCTYPE methodCall><methodCall/>'], MALFORMED),
    ("methodResponse", ["<methodResponse><params/></methodResponse>"], MALFORMED),
    ("no params", ["<methodCall><methodName>sr_attach</methodName></methodCall>"], MALFORMED),
    ("two params", [document().replace("</params>", "<param><value>x</value></param></params>")],
     MALFORMED),
    ("param not a struct", ["<methodCall><methodName>sr_attach</methodName><params><param>"
                            "<value>x</value></param></params></methodCall>"], MALFORMED),
    ("missing host_ref", [document(drop=("host_ref",))], MALFORMED),
    ("missing command", [document(drop=("command",))], MALFORMED),
    ("missing args", [document(drop=("args",))], MALFORMED),
    ("missing device_config", [document(drop=("device_config",))], MALFORMED),
    ("args a string", [document(args=s("100"))], MALFORMED),
    ("args holding an int", [document(args="<value><array><data><value><int>1</int></value>"
                                           "</data></array></value>")], MALFORMED),
    ("args nil", [document(args="<value><nil/></value>")], MALFORMED),
    ("device_config an array", [document(device_config="<value><array><data/></array></value>")],
     MALFORMED),
    ("device_config value an int", [document(device_config="<value><struct>%s</struct></value>"
                                             % member("device", "<value><int>3</int></value>"))],
     MALFORMED),
    ("device_config value a boolean", [document(device_config="<value><struct>%s</struct></value>"
                                                % member("device", "<value><boolean>1</boolean></value>"))],
     MALFORMED),
    ("host_ref an int", [document(host_ref="<value><int>7</int></value>")], MALFORMED),
    ("sr_uuid a struct", [document(sr_uuid="<value><struct/></value>")], MALFORMED),
    ("command differs from methodName", [document(command=s("sr_delete"))], MALFORMED),
    ("unsupported XML-RPC type", [document(sr_uuid="<value><base64>eA==</base64></value>")], MALFORMED),
    ("nesting too deep", [document(args=DEEP)], MALFORMED),
    ("unknown command", [document(method="sr_frobnicate")], NOT_IMPLEMENTED),
    ("command this driver lacks", [document(method="vdi_resize")], NOT_IMPLEMENTED),
    ("sr_attach without sr_uuid", [document(drop=("sr_uuid",))], MALFORMED),
    ("sr_uuid path-like", [call("sr_attach", {"device": "/dev/null"}, sr_uuid="../../etc")],
     ARGUMENT_INVALID),
    ("device missing", [call("sr_create", {}, ["0"], sr_uuid=SR_UUID)], CONFIG_MISSING),
    ("device empty", [call("sr_create", {"device": ""}, ["0"], sr_uuid=SR_UUID)], CONFIG_MISSING),
    ("device ../../etc", [call("sr_create", {"device": "../../etc"}, ["0"], sr_uuid=SR_UUID)],
     CONFIG_INVALID),
    ("device relative", [call("sr_create", {"device": "dev/sda"}, ["0"], sr_uuid=SR_UUID)],
     CONFIG_INVALID),
    ("device with ..", [call("sr_create", {"device": "/dev/../etc/passwd"}, ["0"], sr_uuid=SR_UUID)],
     CONFIG_INVALID),
    ("device not there", [call("sr_create", {"device": "/nonexistent/disk"}, ["0"], sr_uuid=SR_UUID)],
     CONFIG_INVALID),
    ("size not a number", [call("sr_create", {"device": "/dev/null"}, ["lots"], sr_uuid=SR_UUID)],
     ARGUMENT_INVALID),
    ("vdi_location path-like", [call("vdi_attach", {"device": "/dev/null"}, ["true"], sr_uuid=SR_UUID,
                                     vdi_location="../../etc/shadow")], ARGUMENT_INVALID),
] + [
    ("declared encoding %s" % name, ['<?xml version="1.0" encoding="%s"?>' % name + document()], MALFORMED)
    for name in UNDECODABLE
] + [
    ("cluster_name too long", [call("sr_create", {"device": "/dev/null", "cluster_name": "x" * 17},
                                    ["0"], sr_uuid=SR_UUID)], CONFIG_INVALID),
    ("node_slots zero", [call("sr_create", {"device": "/dev/null", "node_slots": "0"}, ["0"],
                              sr_uuid=SR_UUID)], CONFIG_INVALID),
]


@pytest.mark.parametrize("argv,code", [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_argv_is_a_fault_with_exit_0(argv, code, tmp_path):
    answer = run_argv("OCFS2SR", argv, environment(tmp_path))
    assert answer.returncode == 0
    assert answer.fault is not None, answer.stdout
    assert answer.code == code, answer.reason
    assert "Traceback" not in answer.stdout and "Traceback" not in answer.stderr


def test_invalid_utf8_argument_is_a_fault(tmp_path):
    answer = run_argv("LVMSR", [b"<methodCall>\xff\xfe</methodCall>"], environment(tmp_path))
    assert (answer.returncode, answer.code) == (0, MALFORMED)


def test_fault_names_the_missing_device_config_key(tmp_path):
    answer = run_argv("LVMSR", [call("sr_create", {}, ["0"], sr_uuid=SR_UUID)], environment(tmp_path))
    assert answer.code == CONFIG_MISSING and answer.reason.endswith("[device]")


def test_fault_names_the_wrong_member(tmp_path):
    answer = run_argv("MelioSR", [document(args=s("100"))], environment(tmp_path))
    assert answer.code == MALFORMED and "args" in answer.reason


def test_there_are_at_least_thirty_malformed_cases():
    assert len(CASES) >= 30
