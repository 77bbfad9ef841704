"""XML as xapi reads a cluster stack's output: its xml-light2 tree, rebuilt on expat.

xapi parses the liveset with ``Xml.parse_string`` of
``ocaml/libs/xml-light2/xml.ml`` (xapi-project/xen-api), which runs xmlm
(dbuenzli/xmlm ``src/xmlm.ml``, ``make_input`` with its defaults) and keeps:

- elements by their *local* name (``name_local = snd (fst tag)``); an
  unbound namespace prefix is an error (xmlm ``expand_name``);
- character data verbatim (``strip = false``), one piece per run of text,
  CDATA, comments and processing instructions between two tags (xmlm
  ``p_data`` reads through comments and PIs);
- no piece made only of ``'\\n' ' ' '\\t'`` (xml.ml ``is_empty``);
- only the root element: xmlm stops at its end tag (``p_el_end_signal``
  sets ``u_end_doc``), so whatever follows it is never read;
- a DOCTYPE (xmlm keeps it as a string); any entity other than the five
  predefined is unknown (``E_unknown_entity_ref``);
- the XML declaration as xmlm's ``p_xml_decl`` reads it (``declaration``):
  ``version`` first, ``1.0`` or ``1.1`` only; then ``encoding`` (utf-8,
  utf-16be, utf-16le, iso-8859-1, us-ascii or ascii, in any case; utf-16 and
  any other refused), then ``standalone`` ``yes`` or ``no``, in that order
  and nothing else; values read with their white space trimmed; no white
  space needed between them; the rest of the document decoded in the
  declared encoding.

One deliberate difference: a document that *declares* an entity is refused
(expansion stays off: the parser ``expatsafe`` sets up, keeping the
DOCTYPE); xmlm accepts the declaration but fails on any use of it.
``Element.children`` holds ``Element`` and ``str`` (PCData) items.
"""

import re
import typing

from sm_clusterstack import expatsafe
from sm_clusterstack.xmlsafe import XMLFormatError

MAX_BYTES = 16 * 1024 * 1024  # far above a 64-host liveset (~150 KB)
# Encodings xmlm knows (xmlm.ml p_xml_decl) and Python's name for each; utf-16 needs a BOM (refused
# after a declaration, E_malformed_char_stream); any other is E_unknown_encoding.
XMLM_ENCODINGS = {"utf-8": "utf-8", "utf-16be": "utf-16-be", "utf-16le": "utf-16-le", "iso-8859-1": "latin-1",
                  "us-ascii": "ascii", "ascii": "ascii"}
XML_VERSIONS = ("1.0", "1.1")
_EMPTY_CHARS = frozenset("\n \t")
_WHITE = b" \t\r\n"
_DECL_START = re.compile(rb"<\?xml(?![-.:_A-Za-z0-9\x80-\xff])")
_NCNAME = re.compile(rb"[A-Za-z_\x80-\xff][-.A-Za-z0-9_\x80-\xff]*")
_VALUE = re.compile(rb"""=[ \t\r\n]*(?:"([^"<]*)"|'([^'<]*)')""")


class XMLLightError(XMLFormatError):
    """The document is not one xapi's parser reads; the text says why."""


class Element(object):
    """One element of the tree: local name, attributes, children (Element or str)."""

    __slots__ = ("name", "attrs", "children")

    def __init__(self, name: str, attrs: typing.Dict[str, str]) -> None:
        self.name = name
        self.attrs = attrs
        self.children = []  # type: typing.List[typing.Union[Element, str]]

    def elements(self) -> typing.List["Element"]:
        """The element children, in order."""
        return [c for c in self.children if isinstance(c, Element)]

    def __repr__(self):
        return "Element(%r, %r)" % (self.name, self.children)


class _Stop(Exception):
    """Raised at the root's end tag: xmlm reads nothing after it."""


class _Builder(object):
    def __init__(self) -> None:
        self.stack = []  # type: typing.List[Element]
        self.data = []  # type: typing.List[str]
        self.root = None  # type: typing.Optional[Element]

    def flush(self) -> None:
        text = "".join(self.data)
        self.data = []
        if self.stack and text and not set(text) <= _EMPTY_CHARS:
            self.stack[-1].children.append(text)

    def start(self, name: str, attrs: typing.Dict[str, str]) -> None:
        self.flush()
        node = Element(name.rsplit(" ", 1)[-1], {k.rsplit(" ", 1)[-1]: v for k, v in attrs.items()})
        if self.stack:
            self.stack[-1].children.append(node)
        self.stack.append(node)

    def end(self, _name: str) -> None:
        self.flush()
        node = self.stack.pop()
        if not self.stack:
            self.root = node
            raise _Stop()

    def text(self, data: str) -> None:
        if self.stack:
            self.data.append(data)


def _default(builder: _Builder, data: str) -> None:
    """Markup expat has no handler for; inside the root only an entity reference gets here."""
    if builder.stack and data.startswith("&") and data.endswith(";"):
        raise XMLLightError("unknown entity reference (%s)" % data[1:-1])


def declaration(data: bytes) -> bytes:
    """``data`` without its XML declaration, in UTF-8; XMLLightError where xmlm's ``p_xml_decl`` fails."""
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    if not _DECL_START.match(data, start):
        return data[start:]
    pos, attrs = start + len(b"<?xml"), []
    while True:
        pos = _skip_white(data, pos)
        if data[pos:pos + 2] == b"?>":
            break
        name, value, pos = _pseudo_attribute(data, pos)
        attrs.append((name, value))
    _check_declaration(attrs)
    encoding = dict(attrs).get("encoding", "utf-8").lower()
    try:
        rest = data[pos + 2:].decode(XMLM_ENCODINGS[encoding]).encode("utf-8")
    except UnicodeError as e:
        raise XMLLightError("malformed character stream (%s)" % e)
    if _DECL_START.match(rest, _skip_white(rest, 0)):
        raise XMLLightError("a second XML declaration")  # a processing instruction named xml is reserved
    return rest


def _skip_white(data: bytes, pos: int) -> int:
    while data[pos:pos + 1] and data[pos:pos + 1] in _WHITE:
        pos += 1
    return pos


def _pseudo_attribute(data: bytes, pos: int) -> typing.Tuple[str, str, int]:
    """(name, value with white space trimmed, position after it) of one ``name = "value"``."""
    name = _NCNAME.match(data, pos)
    if not name:
        raise XMLLightError("malformed XML declaration")
    value = _VALUE.match(data, _skip_white(data, name.end()))
    if not value:
        raise XMLLightError("malformed XML declaration: %s has no value" % name.group().decode("latin-1"))
    text = (value.group(1) if value.group(1) is not None else value.group(2)).decode("latin-1")
    return name.group().decode("latin-1"), " ".join(text.split()), value.end()


def _check_declaration(attrs: typing.List[typing.Tuple[str, str]]) -> None:
    names = [name for name, _ in attrs]
    if names not in (["version"], ["version", "encoding"], ["version", "standalone"],
                     ["version", "encoding", "standalone"]):
        raise XMLLightError("XML declaration: expected version, encoding, standalone in that order, not %s"
                            % ", ".join(names))
    values = dict(attrs)
    if values["version"] not in XML_VERSIONS:
        raise XMLLightError("XML declaration: version %r, not 1.0 or 1.1" % values["version"])
    if "encoding" in values and values["encoding"].lower() not in XMLM_ENCODINGS:
        raise XMLLightError("unknown encoding (%s)" % values["encoding"])
    if values.get("standalone", "yes") not in ("yes", "no"):
        raise XMLLightError("XML declaration: standalone %r, not yes or no" % values["standalone"])


def _parser(builder: _Builder):
    parser = expatsafe.create(XMLLightError, allow_doctype=True, namespace_separator=" ",
                              entity_declaration="an entity declaration is not allowed")
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.text
    parser.CommentHandler = lambda _data: None
    parser.ProcessingInstructionHandler = lambda _target, _data: None
    parser.StartCdataSectionHandler = lambda: None
    parser.EndCdataSectionHandler = lambda: None
    parser.DefaultHandler = lambda data: _default(builder, data)
    return parser


def parse(data: typing.Union[bytes, str]) -> Element:
    """The root element of ``data`` as xapi's ``Xml.parse_string`` sees it, or XMLLightError."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise XMLLightError("document larger than %d bytes" % MAX_BYTES)
    builder = _Builder()
    data = declaration(data)
    try:
        expatsafe.parse(_parser(builder), data, XMLLightError)
    except _Stop:
        pass
    if builder.root is None:
        raise XMLLightError("no root element")
    return builder.root
