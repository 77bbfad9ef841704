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
  predefined is unknown (``E_unknown_entity_ref``).

One deliberate difference: a document that *declares* an entity is refused
(expansion stays off: the parser ``expatsafe`` sets up, keeping the
DOCTYPE); xmlm accepts the declaration but fails on any use of it.
``Element.children`` holds ``Element`` and ``str`` (PCData) items.
"""

import typing

from sm_clusterstack import expatsafe
from sm_clusterstack.xmlsafe import XMLFormatError

MAX_BYTES = 16 * 1024 * 1024  # far above a 64-host liveset (~150 KB)
# Encodings xmlm knows (xmlm.ml p_xml_decl); any other is E_unknown_encoding.
XMLM_ENCODINGS = ("utf-8", "utf-16", "utf-16be", "utf-16le", "iso-8859-1", "iso-8859-15",
                  "us-ascii", "ascii")
_EMPTY_CHARS = frozenset("\n \t")


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


def _xml_decl(_version, encoding, _standalone) -> None:
    if encoding is not None and encoding.lower() not in XMLM_ENCODINGS:
        raise XMLLightError("unknown encoding (%s)" % encoding)


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
    parser.XmlDeclHandler = _xml_decl
    parser.DefaultHandler = lambda data: _default(builder, data)
    return parser


def parse(data: typing.Union[bytes, str]) -> Element:
    """The root element of ``data`` as xapi's ``Xml.parse_string`` sees it, or XMLLightError."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise XMLLightError("document larger than %d bytes" % MAX_BYTES)
    builder = _Builder()
    try:
        expatsafe.parse(_parser(builder), data, XMLLightError)
    except _Stop:
        pass
    if builder.root is None:
        raise XMLLightError("no root element")
    return builder.root
