"""The one hardened expat set-up (``expatsafe``): what it refuses, strict and with a DOCTYPE kept."""

import pytest

from sm_clusterstack import expatsafe


class Refused(ValueError):
    pass


def parsed(data, **options):
    """The element names ``data`` holds, parsed by a parser of ``expatsafe.create``."""
    names = []
    parser = expatsafe.create(Refused, **options)
    parser.StartElementHandler = lambda name, _attrs: names.append(name)
    expatsafe.parse(parser, data, Refused)
    return names


@pytest.mark.parametrize("data, message", [
    (b"<!DOCTYPE a><a/>", expatsafe.DTDS),
    (b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', expatsafe.DTDS),
    (b"<a>&x;</a>", "not well-formed XML: undefined entity"),
    (b"<a>", "not well-formed XML: "),
    (b'<?xml version="1.0" encoding="x-bogus"?><a/>', "undecodable document: "),
])
def test_strict_parsers_refuse_any_dtd_entity_or_broken_document(data, message):
    with pytest.raises(Refused) as info:
        parsed(data)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("data", [
    b'<!DOCTYPE a [<!ENTITY x "y">]><a/>',
    b'<!DOCTYPE a [<!ENTITY x SYSTEM "f" NDATA n>]><a/>',
    b'<!DOCTYPE a [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a>&lol2;</a>',
])
def test_with_the_doctype_kept_an_entity_declaration_is_still_refused(data):
    with pytest.raises(Refused) as info:
        parsed(data, allow_doctype=True, entity_declaration="no entities here")
    assert str(info.value) == "no entities here"


def test_with_the_doctype_kept_a_document_without_entities_parses():
    assert parsed(b"<!DOCTYPE a><a><b/></a>", allow_doctype=True) == ["a", "b"]


def test_the_predefined_entities_and_namespaces_are_read():
    assert parsed(b'<a xmlns:p="u"><p:b>&amp;&lt;</p:b></a>', namespace_separator=" ") == ["a", "u b"]


def test_a_handler_s_own_exception_goes_through_unchanged():
    class Stop(Exception):
        pass
    parser = expatsafe.create(Refused)
    parser.StartElementHandler = expatsafe.refusal(Stop, "enough")
    with pytest.raises(Stop):
        expatsafe.parse(parser, b"<a/>", Refused)
