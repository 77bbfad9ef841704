"""The XenAPI method table, at the bottom of the wire layer: methods register here.

Methods register themselves with ``@method("PBD.plug", "ref:PBD")``; every
method but the login ones takes the session ref first.  ``Async.<method>``
calls go to the one runner registered with ``async_runner`` (the task
module's), so that the dispatcher above never imports a method module.
This module imports nothing of the shim.
"""

import typing

REGISTRY = {}  # type: typing.Dict[str, Method]
ASYNC = []  # type: typing.List[typing.Callable[[typing.Any, str, tuple], str]]  # at most one runner
MAX_NAME = 256
ASYNC_PREFIX = "Async."  # Async.<method>: methods/task.py runs it as a task


class Method(object):
    """A registered method: its parameter kinds (session excluded) and function."""

    __slots__ = ("name", "params", "optional", "session", "fn")

    def __init__(self, name, params, optional, session, fn):
        self.name = name
        self.params = params
        self.optional = optional
        self.session = session
        self.fn = fn

    @property
    def max_count(self) -> int:
        return len(self.params) + (1 if self.session else 0)

    @property
    def min_count(self) -> int:
        return self.max_count - self.optional


def method(name: str, *params: str, optional: int = 0, session: bool = True) -> typing.Callable:
    """Register ``fn(ctx, session_ref, *args)`` as XenAPI method ``name``.

    ``params`` are ``name:kind`` pairs; kinds: str, bool, int, float, map, set,
    record, ref:<Class>, refs:<Class>.  The last ``optional`` may be left out.
    """
    parsed = [tuple(p.split(":", 1)) for p in params]

    def register(fn):
        REGISTRY[name] = Method(name, parsed, optional, session, fn)
        return fn
    return register


def success(value: typing.Any) -> dict:
    """A Success response struct."""
    return {"Status": "Success", "Value": value}


def failure(description: typing.List[str]) -> dict:
    """A Failure response struct."""
    return {"Status": "Failure", "ErrorDescription": [str(d) for d in description]}


def async_runner(fn: typing.Callable[[typing.Any, str, tuple], str]) -> typing.Callable:
    """Register ``fn(ctx, name, params)`` as the runner of ``Async.<method>`` calls (one only)."""
    del ASYNC[:]
    ASYNC.append(fn)
    return fn
