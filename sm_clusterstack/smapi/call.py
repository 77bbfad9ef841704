"""The SMAPIv1 call: the XML-RPC document xapi passes a driver in argv[1].

``Call(...).to_xml()`` builds the document member for member as xapi's
``Sm_exec.xmlrpc_of_call`` does (same member order, strings as bare
``<value>text</value>``, ``<value/>`` for ""), so the shim can run drivers
exactly as a real host would.  ``parse(data)`` reads such a document back,
refusing anything that is not one: a DTD or entity, a bad shape, a member
of the wrong type, a missing member.  ``response(value)`` and
``fault(code, reason)`` write what a driver prints.

Parsing runs on expat directly (not ``xmlrpc.client``, whose import alone
costs more than the interpreter start-up): this module is on the start-up
path of every driver.  DTDs and entities are refused by the parser
``expatsafe`` sets up, as for ``xmlrpc_safe.check_no_dtd``; a test checks
that both decoders agree.
"""

import functools
import re
import types

from sm_clusterstack import expatsafe

MAX_DOCUMENT = 16 * 1024 * 1024  # bytes, as xmlrpc_safe
MAX_DEPTH = 16  # elements; a call nests 9 deep at most

# (member, type), in the order xapi writes them.  Types: str, list (of
# strings), dict (string to string).
MEMBERS = (
    ("host_ref", str), ("command", str), ("args", list), ("device_config", dict),
    ("session_ref", str), ("sr_sm_config", dict), ("sr_ref", str), ("vdi_type", str),
    ("sr_uuid", str), ("vdi_ref", str), ("vdi_location", str), ("vdi_uuid", str),
    ("driver_params", dict), ("vdi_sm_config", dict), ("new_uuid", str),
    ("subtask_of", str), ("vdi_on_boot", str), ("vdi_allow_caching", str),
    ("local_cache_sr", str),
)
MEMBER_TYPES = dict(MEMBERS)
REQUIRED = ("host_ref", "command", "args", "device_config")
TYPE_NAMES = {str: "string", list: "array of strings", dict: "struct of strings"}

# Characters XML 1.0 cannot carry, as a pattern compiled on first need.
_INVALID_XML_CHARS = u"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]"
_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("'", "&apos;"), ('"', "&quot;"))


class CallError(ValueError):
    """A document that is not an SMAPIv1 call; ``member`` names the culprit, if one."""

    def __init__(self, message, member=""):
        super(CallError, self).__init__(message)
        self.member = member


class Call(object):
    """One SMAPIv1 call: the command and the members of its single struct."""

    __slots__ = tuple(name for name, _ in MEMBERS)

    def __init__(self, command: str, host_ref: str = "OpaqueRef:NULL", args=(),
                 device_config=None, **members) -> None:
        self.command = command
        self.host_ref = host_ref
        self.args = list(args)
        self.device_config = dict(device_config or {})
        for name, _ in MEMBERS[4:]:
            setattr(self, name, members.pop(name, None))
        if members:
            raise TypeError("unknown SMAPIv1 members: %s" % ", ".join(sorted(members)))

    def members(self) -> list:
        """The (name, value) pairs xapi sends, in its order; absent ones left out."""
        return [(name, getattr(self, name)) for name, _ in MEMBERS
                if getattr(self, name) is not None]

    def to_xml(self) -> str:
        """The methodCall document, as xapi writes it (no declaration, no spaces)."""
        struct = "".join("<member><name>%s</name>%s</member>" % (name, _xapi_value(value))
                         for name, value in self.members())
        return ("<methodCall><methodName>%s</methodName><params><param><value><struct>%s"
                "</struct></value></param></params></methodCall>" % (_text(self.command), struct))

    def __repr__(self):
        return "Call(%r, sr_uuid=%r)" % (self.command, self.sr_uuid)


@functools.lru_cache(maxsize=1)
def _invalid_xml_chars():
    return re.compile(_INVALID_XML_CHARS)


def _text(value: str) -> str:
    # isprintable() is False for every character XML refuses (and for a few it allows)
    if not value.isprintable() and _invalid_xml_chars().search(value):
        raise ValueError("character not allowed in XML in %r" % value)
    for char, entity in _ESCAPES:
        value = value.replace(char, entity)
    return value


def _xapi_value(value) -> str:
    if isinstance(value, str):
        return "<value>%s</value>" % _text(value) if value else "<value/>"
    if isinstance(value, dict):
        body = "".join("<member><name>%s</name>%s</member>" % (_text(k), _xapi_value(v))
                       for k, v in value.items())
        return "<value><struct>%s</struct></value>" % body if body else "<value><struct/></value>"
    if isinstance(value, (list, tuple)):
        body = "".join(_xapi_value(v) for v in value)
        return "<value><array><data>%s</data></array></value>" % body if body else \
            "<value><array><data/></array></value>"
    raise TypeError("xapi sends only strings, arrays and structs, not %r" % (value,))


# ---- parsing ---------------------------------------------------------------

class _Element(object):
    __slots__ = ("tag", "children", "text")

    def __init__(self, tag):
        self.tag = tag
        self.children = []
        self.text = []


def _tree(data: bytes) -> _Element:
    """The element tree of ``data``, via expat, with DTDs and entities refused."""
    if len(data) > MAX_DOCUMENT:
        raise CallError("document larger than %d bytes" % MAX_DOCUMENT)
    root = _Element("")
    stack = [root]

    def start(tag, _attrs):
        if len(stack) > MAX_DEPTH:
            raise CallError("elements nested deeper than %d" % MAX_DEPTH)
        element = _Element(tag)
        stack[-1].children.append(element)
        stack.append(element)

    parser = expatsafe.create(CallError)
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda _tag: stack.pop()
    parser.CharacterDataHandler = lambda text: stack[-1].text.append(text)
    expatsafe.parse(parser, data, CallError)
    return root.children[0]


def _only(element: _Element, tag: str, where: str) -> _Element:
    if len(element.children) != 1 or element.children[0].tag != tag:
        raise CallError("%s: expected one <%s>" % (where, tag))
    return element.children[0]


def _decode(value: _Element, where: str):
    """The Python value of one XML-RPC <value> (strings, arrays, structs, ints, booleans, nil)."""
    if value.tag != "value":
        raise CallError("%s: expected <value>, found <%s>" % (where, value.tag))
    if not value.children:
        return "".join(value.text)
    if len(value.children) != 1:
        raise CallError("%s: <value> holds more than one element" % where)
    typed = value.children[0]
    decoder = _DECODERS.get(typed.tag)
    if decoder is None:
        raise CallError("%s: unsupported XML-RPC type <%s>" % (where, typed.tag))
    return decoder(typed, where)


def _scalar(typed: _Element, where: str):
    text = "".join(typed.text)
    if typed.children:
        raise CallError("%s: <%s> holds elements" % (where, typed.tag))
    if typed.tag == "string":
        return text
    if typed.tag == "boolean":
        if text.strip() not in ("0", "1"):
            raise CallError("%s: boolean %r" % (where, text))
        return text.strip() == "1"
    try:
        return int(text.strip())
    except ValueError:
        raise CallError("%s: integer %r" % (where, text))


def _array(typed: _Element, where: str) -> list:
    data = _only(typed, "data", where)
    return [_decode(v, "%s[%d]" % (where, i)) for i, v in enumerate(data.children)]


def _struct(typed: _Element, where: str) -> dict:
    result = {}
    for member in typed.children:
        if member.tag != "member" or len(member.children) != 2 or member.children[0].tag != "name":
            raise CallError("%s: a <member> must hold <name> and <value>" % where)
        name = "".join(member.children[0].text)
        result[name] = _decode(member.children[1], "%s.%s" % (where, name) if where else name)
    return result


def _nil(typed: _Element, where: str) -> None:
    if typed.children or "".join(typed.text).strip():
        raise CallError("%s: <nil/> must be empty" % where)
    return None


_DECODERS = {"string": _scalar, "int": _scalar, "i4": _scalar, "i8": _scalar,
             "boolean": _scalar, "array": _array, "struct": _struct, "nil": _nil}


def decode_call(data) -> tuple:
    """``(method_name, params)`` of an XML-RPC methodCall document."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    root = _tree(data)
    if root.tag != "methodCall" or not root.children or root.children[0].tag != "methodName":
        raise CallError("not an XML-RPC methodCall")
    method = "".join(root.children[0].text).strip()
    params = root.children[1:]
    if len(params) != 1 or params[0].tag != "params":
        raise CallError("methodCall: expected one <params>")
    if any(p.tag != "param" for p in params[0].children):
        raise CallError("<params> may hold only <param> elements")
    return method, [_decode(_only(p, "value", "param"), "param") for p in params[0].children]


def _check_member(name: str, value) -> None:
    wanted = MEMBER_TYPES[name]
    ok = isinstance(value, wanted) and not isinstance(value, bool)
    if ok and wanted is list:
        ok = all(isinstance(v, str) for v in value)
    elif ok and wanted is dict:
        ok = all(isinstance(v, str) for v in value.values())
    if not ok:
        raise CallError("member %s must be a %s" % (name, TYPE_NAMES[wanted]), name)


def parse(data) -> Call:
    """The Call in ``data`` (bytes or str), or CallError saying what is wrong."""
    method, params = decode_call(data)
    if len(params) != 1 or not isinstance(params[0], dict):
        raise CallError("an SMAPIv1 call has one parameter, a struct")
    struct = params[0]
    for name in REQUIRED:
        if name not in struct:
            raise CallError("member %s is missing" % name, name)
    known = {k: v for k, v in struct.items() if k in MEMBER_TYPES}  # unknown: newer xapi
    for name, value in known.items():
        _check_member(name, value)
    if known["command"] != method:
        raise CallError("command %r differs from methodName %r" % (known["command"], method),
                        "command")
    return Call(**known)


# ---- what a driver prints --------------------------------------------------

def _printable(value: str) -> str:
    if not value.isprintable():
        value = _invalid_xml_chars().sub(u"\ufffd", value)
    return _text(value)


def _response_value(value) -> str:
    if value is None:
        return "<value><nil/></value>"
    if isinstance(value, bool):
        return "<value><boolean>%d</boolean></value>" % value
    if isinstance(value, int):
        return "<value><int>%d</int></value>" % value
    if isinstance(value, str):
        return "<value><string>%s</string></value>" % _printable(value)
    if isinstance(value, (dict, types.MappingProxyType)):
        return "<value><struct>%s</struct></value>" % "".join(
            "<member><name>%s</name>%s</member>" % (_printable(k), _response_value(v))
            for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "<value><array><data>%s</data></array></value>" % "".join(
            _response_value(v) for v in value)
    raise TypeError("cannot answer %r over XML-RPC" % (value,))


def response(value) -> str:
    """The methodResponse carrying ``value`` (None is ``<nil/>``)."""
    return ("<?xml version=\"1.0\"?>\n<methodResponse><params><param>%s</param></params>"
            "</methodResponse>\n" % _response_value(value))


def fault(code: int, reason: str) -> str:
    """The methodResponse of an SM fault."""
    return ("<?xml version=\"1.0\"?>\n<methodResponse><fault>%s</fault></methodResponse>\n"
            % _response_value({"faultCode": int(code), "faultString": reason}))
