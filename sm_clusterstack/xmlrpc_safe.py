"""XML-RPC decoding of untrusted input, stdlib only.

``xmlrpc.client.loads`` would expand internal entities on older expat
builds (the control domain's Python 3.6 among them).  ``loads`` here first
runs expat over the document and refuses any DOCTYPE, entity declaration or
entity reference other than the five predefined ones, then decodes.  It
does not import lxml, so a driver can use it before it knows its command.
"""

import typing
import xml.parsers.expat
import xmlrpc.client

MAX_DOCUMENT = 16 * 1024 * 1024  # bytes; larger calls are refused unread


class XMLRPCFormatError(ValueError):
    """A document that is not an acceptable XML-RPC message."""


def _refuse(what):
    def handler(*_args):
        raise XMLRPCFormatError("%s are not allowed" % what)
    return handler


def check_no_dtd(data: bytes) -> None:
    """Raise XMLRPCFormatError if ``data`` is not well-formed or declares a DTD."""
    if len(data) > MAX_DOCUMENT:
        raise XMLRPCFormatError("document larger than %d bytes" % MAX_DOCUMENT)
    parser = xml.parsers.expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse("DTDs")
    parser.EntityDeclHandler = _refuse("entity declarations")
    parser.SkippedEntityHandler = _refuse("undeclared entities")
    try:
        parser.Parse(data, True)
    except XMLRPCFormatError:
        raise
    except xml.parsers.expat.ExpatError as e:
        raise XMLRPCFormatError("not well-formed XML: %s" % e)
    except (LookupError, ValueError, TypeError) as e:
        # a declared encoding expat cannot decode: utf-7, utf-32, rot13, x-bogus...
        raise XMLRPCFormatError("undecodable document: %s" % e)


def loads(data: typing.Union[bytes, str]) -> typing.Tuple[tuple, typing.Optional[str]]:
    """Decode an XML-RPC call or response: ``(params, method_name)``.

    Faults in a response are raised as ``xmlrpc.client.Fault``, as
    ``xmlrpc.client.loads`` does.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    check_no_dtd(data)
    try:
        return xmlrpc.client.loads(data, use_builtin_types=False)
    except xmlrpc.client.Fault:
        raise
    except (xmlrpc.client.ResponseError, xml.parsers.expat.ExpatError,
            ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise XMLRPCFormatError("not an XML-RPC message: %s" % (e or type(e).__name__))
