"""Running an SR driver as xapi does (REFERENCE.md section 3), and mapping its answer.

The driver gets one argument, the ``<methodCall>`` document; its environment
has ``ORIGINATOR=SM`` and ``SM_CLUSTERSTACK_XAPI`` pointing back at the pool.
Its stdout is an XML-RPC ``<methodResponse>``; a fault ``(n, reason)``
becomes ``SR_BACKEND_FAILURE_<n> ["", reason, stderr]`` except for the codes
xapi names (16, 24, 38, 39, 144) and the project's exclusion fault (605),
which becomes INCOMPATIBLE_CLUSTER_STACK_ACTIVE [the required stacks].
"""

import os
import re
import typing
import xmlrpc.client

from sm_clusterstack import errors, runner, xmlrpc_safe
from sm_clusterstack.smapi import call as smapi_call
from sm_clusterstack.errors import XenAPIError

DEFAULT_TIMEOUT = 300.0  # seconds; an sr_create may format a large device
INCOMPATIBLE_CLUSTER_STACK = 605  # SM fault IncompatibleClusterStack (data/sm_errorcodes.xml)
MAX_OUTPUT = 4096  # characters of stdout/stderr kept in an error
_STACKS = re.compile(r"\[([^\[\]]*)\]\s*\Z")


def build_call(command: str, params: typing.Dict[str, typing.Any]) -> str:
    """The ``<methodCall>`` document xapi passes as argv[1] (``call.Call``'s form)."""
    members = dict(params)
    members.pop("command", None)
    return smapi_call.Call(command, members.pop("host_ref", "OpaqueRef:NULL"), members.pop("args", ()),
                           members.pop("device_config", None), **members).to_xml()


def driver_env(xapi_url: str, base: typing.Optional[typing.Mapping[str, str]] = None) -> typing.Dict[str, str]:
    """The environment of a driver run: ``ORIGINATOR=SM`` and the pool's address."""
    env = dict(os.environ if base is None else base)
    env["ORIGINATOR"] = "SM"
    if xapi_url:
        env["SM_CLUSTERSTACK_XAPI"] = xapi_url
    return env


def call(
        driver_path: str,
        command: str,
        params: typing.Dict[str, typing.Any],
        xapi_url: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        run: typing.Callable[..., runner.Result] = runner.run,
        env: typing.Optional[typing.Dict[str, str]] = None,
) -> typing.Any:
    """Run ``command`` of the driver at ``driver_path``; its value, or XenAPIError.

    ``env`` replaces the default environment (``driver_env``) when given.
    """
    document = build_call(command, params)
    result = run([driver_path, document], timeout=timeout, env=env if env is not None else driver_env(xapi_url))
    return interpret(result, params)


def call_document(driver_path: str, document: str, timeout: float = DEFAULT_TIMEOUT,
                  run: typing.Callable[..., runner.Result] = runner.run,
                  env: typing.Optional[typing.Dict[str, str]] = None) -> typing.Any:
    """Run the driver with a ready ``<methodCall>`` (a ``vdi_generate_config`` answer); its value."""
    result = run([driver_path, document], timeout=timeout, env=env)
    return interpret(result, {})


def interpret(result: runner.Result, params: typing.Dict[str, typing.Any]) -> typing.Any:
    """The value a driver run answered; raise the XenAPI error its failure means."""
    stderr = _tail(result.stderr)
    where = " on host " + result.where if result.where else ""
    if result.timed_out:
        raise XenAPIError(errors.SR_BACKEND_FAILURE_PREFIX, "driver timed out" + where, _tail(result.stdout), stderr)
    if result.overflow:
        raise XenAPIError(errors.SR_BACKEND_FAILURE_PREFIX, "driver printed more than %d bytes on %s (the cap)%s" % (
            runner.OUTPUT_CAPS[result.overflow], result.overflow, where), _tail(result.stdout), stderr)
    try:
        values, _ = xmlrpc_safe.loads(result.stdout.encode("utf-8"))
    except xmlrpc.client.Fault as fault:
        raise fault_error(fault.faultCode, fault.faultString, stderr, params)
    except xmlrpc_safe.XMLRPCFormatError as e:
        what = "non-zero exit %s" % result.returncode if result.returncode else "unparseable output: %s" % e
        raise XenAPIError(errors.SR_BACKEND_FAILURE_PREFIX, what, _tail(result.stdout), stderr)
    if result.returncode != 0 or len(values) != 1:
        what = "non-zero exit %s" % result.returncode if result.returncode else "not one value in the response"
        raise XenAPIError(errors.SR_BACKEND_FAILURE_PREFIX, what, _tail(result.stdout), stderr)
    return values[0]


def fault_error(code: typing.Any, reason: typing.Any, stderr: str,
                params: typing.Dict[str, typing.Any]) -> XenAPIError:
    """The XenAPI error for SM fault ``code`` with ``reason``."""
    try:
        number = int(code)
    except (TypeError, ValueError):
        return XenAPIError(errors.SR_BACKEND_FAILURE_PREFIX, "fault code %r" % (code,), _tail(str(reason)), stderr)
    reason = _tail(str(reason))
    sr, vdi = params.get("sr_ref", ""), params.get("vdi_ref", "")
    if number == INCOMPATIBLE_CLUSTER_STACK:
        match = _STACKS.search(reason)
        return XenAPIError(errors.INCOMPATIBLE_CLUSTER_STACK_ACTIVE, match.group(1) if match else reason)
    named = errors.SM_CODES_NAMED_BY_XAPI.get(number)
    if named == errors.SR_OPERATION_NOT_SUPPORTED:
        return XenAPIError(named, sr)
    if named == errors.VDI_IN_USE:
        return XenAPIError(named, vdi)
    if named == errors.VDI_MISSING:
        return XenAPIError(named, sr, vdi)
    if named is not None:
        return XenAPIError(named)
    return XenAPIError("%s_%d" % (errors.SR_BACKEND_FAILURE_PREFIX, number), "", reason, stderr)


def _tail(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT else "..." + text[-MAX_OUTPUT:]
