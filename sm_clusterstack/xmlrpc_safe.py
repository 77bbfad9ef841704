"""XML-RPC decoding of untrusted input, stdlib only.

``xmlrpc.client.loads`` would expand internal entities on older expat
builds (the control domain's Python 3.6 among them).  ``loads`` here first
runs expat over the document (a parser ``expatsafe`` sets up) and refuses
any DOCTYPE, entity declaration or entity reference other than the five
predefined ones, then decodes.  It
does not import lxml, so a driver can use it before it knows its command.
"""

import typing
import xml.parsers.expat
import xmlrpc.client

from sm_clusterstack import expatsafe

MAX_DOCUMENT = 16 * 1024 * 1024  # bytes; larger calls are refused unread


class XMLRPCFormatError(ValueError):
    """A document that is not an acceptable XML-RPC message."""


def check_no_dtd(data: bytes) -> None:
    """Raise XMLRPCFormatError if ``data`` is not well-formed or declares a DTD."""
    if len(data) > MAX_DOCUMENT:
        raise XMLRPCFormatError("document larger than %d bytes" % MAX_DOCUMENT)
    expatsafe.parse(expatsafe.create(XMLRPCFormatError), data, XMLRPCFormatError)


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
