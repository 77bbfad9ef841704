"""The malformed SMAPIv1 invocations of ``driver.bad-input``: each with what it sends and the rule it breaks.

The rules are xapi's call shape (``ocaml/xapi/sm_exec.ml``
``xmlrpc_of_call``: one argument, a ``<methodCall>`` whose methodName is
``call.cmd`` and whose one param is a struct of ``host_ref``, ``command``
(``call.cmd`` again), ``args`` (strings) and ``device_config`` (a struct of
strings), then the optional refs and uuids as strings) and what a driver
must do with anything else: answer a fault.  Two families: the structural
cases (the call itself is malformed) and the device_config cases (a
well-formed call whose ``device_config`` value is not one to use), which
only tell something when the driver reaches the key (``config_cases`` takes
the members of a call made as xapi makes it: session, host, SR).
"""

import collections
import typing
import xmlrpc.client

from sm_clusterstack.smapi import call as call_model

Case = collections.namedtuple("Case", "name argv sent rule struct")
Case.__doc__ = """One malformed invocation: argv after the driver, the bad part as sent, the rule, its struct."""
Case.__new__.__defaults__ = (None,)

ONE_ARGUMENT = "xapi runs a driver with one argument, the <methodCall> (sm_exec.ml exec_xmlrpc)"
METHOD_CALL = "argv[1] is one well-formed XML-RPC <methodCall>; anything else is answered with a fault"
NO_DTD = "no DTD and no entity is expanded (an entity bomb, a file read through an external entity)"
ONE_STRUCT = "the call has exactly one param, a struct (sm_exec.ml xmlrpc_of_call)"
MEMBERS = "host_ref, command, args and device_config are in every call (xmlrpc_of_call's common members)"
TYPES = ("members have xapi's types: args an array of strings, device_config a struct of strings, "
         "refs and uuids strings (xmlrpc_of_call)")
UNKNOWN = "a command the driver does not implement is answered with a fault (38: SR_OPERATION_NOT_SUPPORTED)"
SAME_COMMAND = ("the methodName must equal the struct's command: xapi writes call.cmd as both (sm_exec.ml "
                "xmlrpc_of_call); sm's SRCommand runs the methodName but answers sr_get_driver_info on the command, "
                "so a call where they differ is not xapi's and has no one meaning")
SIZE = "sr_create's args[0] is the size in bytes, a number (sm's SRCommand: long(args[0]))"
VALUE_RULES = collections.OrderedDict((
    ("path-traversal", ("../../../../etc/passwd", "a device_config value with '..' is refused, never resolved")),
    ("option", ("--help", "a device_config value starting with '-' never reaches a tool as an option")),
    ("newline", ("/dev/null\n--force", "a device_config value with a newline is refused")),
    ("empty", ("", "an empty device_config value is refused")),
))
HUGE = "a device_config value is bounded: 100000 characters are refused, not passed on"

_BOMB = ('<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
         '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>'
         '<methodCall><methodName>&d;</methodName><params/></methodCall>')
_XXE = ('<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<methodCall><methodName>sr_attach</methodName><params><param><value>&x;</value></param>'
        '</params></methodCall>')
NULL_MEMBERS = {"host_ref": "OpaqueRef:NULL", "session_ref": "OpaqueRef:NULL", "sr_ref": "OpaqueRef:NULL",
                "sr_uuid": "00000000-0000-0000-0000-000000000000"}
SHORT = 60  # characters of a value shown as sent


def good(command: str = "sr_attach", members: typing.Optional[typing.Dict[str, str]] = None,
         **changes: typing.Any) -> typing.Dict[str, typing.Any]:
    """A well-formed call's struct with ``changes`` (a None value leaves the member out)."""
    struct = {"host_ref": "OpaqueRef:NULL", "command": command, "args": [], "device_config": {}}
    struct.update(NULL_MEMBERS if members is None else members)
    struct.update(changes)
    return {k: v for k, v in struct.items() if v is not None}


def document(struct: typing.Any, method: str = "sr_attach") -> str:
    """The <methodCall> of ``struct`` (any value: the malformed ones too)."""
    return xmlrpc.client.dumps((struct,), methodname=method, allow_none=True)


def short(value: typing.Any) -> str:
    """``repr(value)``, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= SHORT else "%s...(%d characters)" % (text[:SHORT - 20], len(text))


def _raw(name: str, argv: typing.List[str], rule: str, sent: str = "") -> Case:
    return Case(name, argv, sent or "argv[1] %s" % short(argv[0]), rule)


def _bad(name: str, rule: str, method: str = "sr_attach", command: str = "sr_attach",
         members: typing.Optional[typing.Dict[str, str]] = None, **changes: typing.Any) -> Case:
    struct = good(command, members, **changes)
    shown = dict(changes, **({"command": command} if command != method else {}))
    sent = "%s(%s)" % (method, ", ".join("%s=%s" % (k, "absent" if v is None else short(v))
                                         for k, v in sorted(shown.items())))
    return Case(name, [document(struct, method)], sent, rule, struct)


def structural_cases() -> typing.List[Case]:
    """The calls that are malformed themselves: the driver must refuse them whatever its state."""
    valid = call_model.Call("sr_attach", device_config={}).to_xml()
    return [
        _raw("no-argument", [], ONE_ARGUMENT, "no argument"),
        _raw("two-arguments", [valid, valid], ONE_ARGUMENT, "two well-formed calls as two arguments"),
        _raw("empty", [""], METHOD_CALL),
        _raw("not-xml", ["this is not XML"], METHOD_CALL),
        _raw("truncated", [valid[:len(valid) // 2]], METHOD_CALL),
        _raw("xml-bomb", [_BOMB], NO_DTD),
        _raw("external-entity", [_XXE], NO_DTD),
        _raw("control-character", [valid.replace("sr_attach", "sr_\x01attach", 1)], METHOD_CALL,
             "methodName 'sr_\\x01attach'"),
        _raw("method-response", [xmlrpc.client.dumps(({},), methodresponse=True)], METHOD_CALL),
        _raw("no-params", ["<methodCall><methodName>sr_attach</methodName><params/></methodCall>"], ONE_STRUCT),
        Case("param-not-struct", [document("sr_attach")], "sr_attach('sr_attach'): a string, not a struct",
             ONE_STRUCT),
        Case("two-params", [xmlrpc.client.dumps((good(), good()), methodname="sr_attach")],
             "sr_attach(struct, struct)", ONE_STRUCT),
        _bad("missing-command", MEMBERS, command=None),
        _bad("missing-device-config", MEMBERS, device_config=None),
        _bad("missing-host-ref", MEMBERS, host_ref=None),
        _bad("args-not-array", TYPES, args="100"),
        _bad("device-config-not-struct", TYPES, device_config=["a"]),
        _bad("session-ref-int", TYPES, session_ref=3),
        _bad("unknown-command", UNKNOWN, "sr_frobnicate", "sr_frobnicate"),
        _bad("command-differs", SAME_COMMAND, command="sr_delete"),
        _bad("sr-create-size-not-number", SIZE, "sr_create", "sr_create", args=["many"]),
    ]


def config_cases(config_keys: typing.Sequence[str],
                 members: typing.Optional[typing.Dict[str, str]] = None) -> typing.List[Case]:
    """Well-formed sr_attach calls (with ``members``: session, host, SR) whose device_config value is bad."""
    keys = list(config_keys) or ["device"]
    found = [
        _bad("device-config-int-value", TYPES, members=members, device_config={keys[0]: 7}),
        _bad("nested-too-deep", TYPES, members=members, device_config={keys[0]: [[[[[[[[[["x"]]]]]]]]]]}),
        _bad("huge-value", HUGE, members=members, device_config={keys[0]: "x" * 100000}),
    ]
    for key in keys:
        for label, (value, rule) in VALUE_RULES.items():
            found.append(_bad("%s-%s" % (key, label), rule, members=members, device_config={key: value}))
    return found


def control(config: typing.Dict[str, str], members: typing.Optional[typing.Dict[str, str]] = None) -> Case:
    """The well-formed sr_attach the device_config cases are compared with."""
    return _bad("well-formed", "", members=members, device_config=dict(config))


def undo(case: Case) -> typing.List[str]:
    """argv of the sr_detach that undoes ``case`` when the driver attached it."""
    struct = dict(case.struct, command="sr_detach")
    return [document(struct, "sr_detach")]


def cases(config_keys: typing.Sequence[str] = ("device",)) -> typing.List[Case]:
    """Every malformed invocation, as run without a pool (the device_config ones with null refs)."""
    return structural_cases() + config_cases(config_keys)
