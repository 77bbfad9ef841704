"""The XenAPI dispatcher: arity, parameter types and the session, then the method.

The methods are those of ``registry`` (the layer below); every method but
the login ones takes the session ref first, which is checked before the
method runs.  ``dispatch`` never raises: it returns the XenAPI response
struct, a Failure for anything that went wrong.  ``Async.<method>`` goes
to the registry's async runner (the task module's).
"""

import logging
import re
import threading
import typing

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.rpc import calllog
from sm_clusterstack.xapi.rpc.registry import ASYNC, ASYNC_PREFIX, MAX_NAME, REGISTRY, Method, failure, success

LOG = logging.getLogger("sm_clusterstack.xapi")
CALLER = threading.local()  # .local_root: the request came from uid 0 over the unix socket
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
_INT = re.compile(r"-?[0-9]{1,19}\Z")  # ASCII digits: "\u00b2".isdigit() is True, int() refuses it
MAX_STRING = 65536  # characters in any one string of a parameter (xapi bounds the request at 300 KiB)
MAX_DEPTH = 16  # nesting of arrays and structs; XenAPI calls need 3


def too_deep(value: typing.Any, limit: int = MAX_DEPTH) -> bool:
    """True when arrays/structs in ``value`` nest deeper than ``limit`` (checked without recursion)."""
    todo = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (list, tuple, dict)):
            if depth >= limit:
                return True
            todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def caller_is_local_root() -> bool:
    """True while serving a request made by root over the unix socket (xapi lets it log in)."""
    return getattr(CALLER, "local_root", False)


def dispatch(ctx: typing.Any, name: typing.Any, params: tuple, local_root: bool = False,
             transport: str = "") -> dict:
    """Run XenAPI method ``name`` with ``params``; the response struct (logged by ``calllog``, with the
    ``transport`` when it is not XML-RPC)."""
    entry = calllog.begin(ctx, name, params, transport)
    response = _dispatch(ctx, name, params, local_root)
    calllog.end(entry, response)
    return response


def _dispatch(ctx, name, params, local_root):
    CALLER.local_root = local_root
    try:
        if isinstance(name, str) and name.startswith(ASYNC_PREFIX):
            if not ASYNC:
                raise XenAPIError(errors.MESSAGE_METHOD_UNKNOWN, name[:MAX_NAME])
            return success(ASYNC[0](ctx, name, params))
        return success(_call(ctx, name, params))
    except XenAPIError as e:
        return failure(e.description)
    except Exception as e:  # a bug must not take the server down nor leak a traceback
        LOG.exception("internal error in %s", name)
        return failure([errors.INTERNAL_ERROR, "%s: %s" % (type(e).__name__, e)])


def lookup(name: typing.Any) -> Method:
    """The method called ``name``; MESSAGE_METHOD_UNKNOWN if there is none (``Async.*``: see dispatch)."""
    found = REGISTRY.get(name) if isinstance(name, str) else None
    if found is None:
        raise XenAPIError(errors.MESSAGE_METHOD_UNKNOWN, str(name)[:MAX_NAME])
    return found


def _call(ctx, name, params):
    meth = lookup(name)
    session_ref, args = prepare(ctx, meth, params)
    return meth.fn(ctx, session_ref, *args) if meth.session else meth.fn(ctx, *args)


def prepare(ctx: typing.Any, meth: Method, params: tuple) -> typing.Tuple[typing.Any, list]:
    """Check arity, session, readiness and parameter types; (session ref or None, the other args)."""
    if not meth.min_count <= len(params) <= meth.max_count:
        raise XenAPIError(errors.MESSAGE_PARAMETER_COUNT_MISMATCH, meth.name,
                          meth.max_count, len(params))
    args = list(params)
    session_ref = None
    if meth.session:
        session_ref = args.pop(0)
        ctx.check_session(session_ref)
    ctx.check_ready(session_ref)
    for (pname, kind), value in zip(meth.params, args):
        check_type(pname, kind, value)
    return session_ref, args


def check_type(pname: str, kind: str, value: typing.Any) -> None:
    """Raise FIELD_TYPE_ERROR [pname] unless ``value`` fits ``kind``; INVALID_VALUE if a string is too long.

    Every string in the value (map keys and values, set members) is at
    most MAX_STRING characters, checked before any method runs: no value
    is ever validated, slowly, under the pool's write lock.
    """
    if not _fits(kind, value):
        raise XenAPIError(errors.FIELD_TYPE_ERROR, pname)
    longest = _longest_string(value)
    if len(longest) > MAX_STRING:
        raise XenAPIError(errors.INVALID_VALUE, pname, "%s... (%d characters; at most %d)"
                          % (longest[:32], len(longest), MAX_STRING))


def _longest_string(value: typing.Any) -> str:
    """The longest string in ``value``, its dict keys included ("" when none)."""
    longest, todo = "", [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            longest = item if len(item) > len(longest) else longest
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, (list, tuple)):
            todo.extend(item)
    return longest


def _fits(kind, value):
    if kind in ("str",) or kind.startswith("ref:"):
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return _fits_int(value)
    if kind == "float":  # XML-RPC double or int, a JSON number
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "map":
        return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str)
                                               for k, v in value.items())
    if kind == "record":
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    if kind == "set" or kind.startswith("refs:"):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    raise ValueError("unknown parameter kind %r" % kind)


def _fits_int(value: typing.Any) -> bool:
    """An int64, as an XML-RPC int or a string of ASCII digits (xapi sends int64 as strings)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        if not _INT.match(value):
            return False
        value = int(value)
    return isinstance(value, int) and INT64_MIN <= value <= INT64_MAX
