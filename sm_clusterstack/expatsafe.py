"""The hardened expat set-up, once: every expat parser of the project is made here.

A parser from ``create`` never expands, declares or fetches an entity:
parameter entities are never parsed, an entity declaration (parsed or
unparsed) raises at once, and so, by default, does a DOCTYPE and an entity
reference expat had to skip; only the five predefined entities are read.
``parse`` runs it and turns expat's own failures into the caller's error
type.  Its users: ``xmlrpc_safe`` and ``smapi.call`` (strict: no DTD at all)
and ``stacks.xmllight`` (xmlm's reading: a DOCTYPE is kept, an unknown
entity reference is reported by its own handler).

A leaf of the standard library's C-backed expat, without ``typing``:
``smapi.call`` is on a driver's start-up path.
"""

import xml.parsers.expat

DTDS = "DTDs are not allowed"
ENTITY_DECLARATIONS = "entity declarations are not allowed"
UNDECLARED_ENTITIES = "undeclared entities are not allowed"


def refusal(error, message):
    """An expat handler that raises ``error(message)`` whatever it is called with."""
    def handler(*_args):
        raise error(message)
    return handler


def create(error, allow_doctype=False, entity_declaration=ENTITY_DECLARATIONS, namespace_separator=None):
    """A new expat parser whose refusals raise ``error`` (an exception class taking the message).

    ``allow_doctype`` keeps a DOCTYPE without its entities (the caller then
    reports unknown entity references itself, from its DefaultHandler);
    ``entity_declaration`` is the message an entity declaration raises.
    """
    parser = xml.parsers.expat.ParserCreate(namespace_separator=namespace_separator)
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = refusal(error, entity_declaration)
    parser.UnparsedEntityDeclHandler = refusal(error, entity_declaration)
    if not allow_doctype:
        parser.StartDoctypeDeclHandler = refusal(error, DTDS)
        parser.SkippedEntityHandler = refusal(error, UNDECLARED_ENTITIES)
    return parser


def parse(parser, data, error):
    """Feed ``parser`` the whole of ``data``; expat's errors (and an undecodable document) raise ``error``.

    Exceptions the handlers raise (``error`` itself, or a caller's own
    signal) go through unchanged.
    """
    try:
        parser.Parse(data, True)
    except error:
        raise
    except xml.parsers.expat.ExpatError as e:
        raise error("not well-formed XML: %s" % (e,))
    except (LookupError, ValueError, TypeError) as e:
        # a declared encoding expat cannot decode: utf-7, utf-32, rot13, x-bogus...
        raise error("undecodable document: %s" % e)
