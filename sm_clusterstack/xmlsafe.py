"""Parsing of untrusted XML with lxml: no DTD, no entities, no network.

A document that declares a DTD is refused before any entity could be
expanded, so an entity-expansion attack costs one quick parse.
"""

import typing


class XMLFormatError(ValueError):
    """An XML document that is not what its format says; the text says why."""


_PARSER_OPTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False,
                       dtd_validation=False, huge_tree=False, remove_comments=True,
                       remove_pis=True)


def parse(data: typing.Union[bytes, str], what: str = "document") -> typing.Any:
    """Parse ``data`` and return its root element (an lxml ``_Element``), or raise XMLFormatError."""
    from lxml import etree  # on first use: the daemons that never parse XML do not carry lxml
    if isinstance(data, str):
        data = data.encode("utf-8")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XMLFormatError("%s: a DTD or entity declaration is not allowed" % what)
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        raise XMLFormatError("%s: not well-formed XML: %s" % (what, e))
    if root is None:
        raise XMLFormatError("%s: empty document" % what)
    if root.getroottree().docinfo.internalDTD is not None:
        raise XMLFormatError("%s: a DTD is not allowed" % what)
    return root


def child_text(node: typing.Any, tag: str, what: str) -> str:
    """The stripped text of ``node``'s one child ``tag``; missing is an error."""
    child = node.find(tag)
    if child is None:
        raise XMLFormatError("%s: missing <%s>" % (what, tag))
    return (child.text or "").strip()


def to_bytes(root: typing.Any) -> bytes:
    """Serialise ``root`` (an lxml ``_Element``) with an XML declaration, indented."""
    from lxml import etree
    return etree.tostring(root, xml_declaration=True, encoding="utf-8",
                          pretty_print=True)
