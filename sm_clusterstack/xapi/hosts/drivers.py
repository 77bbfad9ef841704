"""Running an SR's driver for a host, as xapi does (``ocaml/xapi/sm_exec.ml``).

Each driver run gets a fresh internal session (its ``session_ref``), ended
when the driver exits.  A sandboxed host runs its drivers inside its
sandbox, where they reach the pool at ``/var/lib/xcp/xapi`` (the shim
listens there for each host), with ``ORIGINATOR=SM`` and the shim's PATH
as their environment.
"""

import logging
import os
import typing

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.smapi import caller
from sm_clusterstack.xapi.hosts import onhost
from sm_clusterstack.xapi.hosts import runs
from sm_clusterstack.xapi.hosts import smscan
from sm_clusterstack.xapi.db import store as store_mod

LOG = logging.getLogger("sm_clusterstack.xapi")


def run_for_pbd(ctx, command: str, pbd: typing.Any, sr: typing.Any,
                args: typing.Sequence[str] = (), extra: typing.Optional[dict] = None) -> typing.Any:
    """Run ``command`` of ``sr``'s driver on ``pbd``'s host with its device_config."""
    params = {
        "host_ref": pbd["host"],
        "device_config": store_mod.loads(pbd["device_config"]) or {},
        "sr_ref": sr["ref"],
        "sr_uuid": sr["uuid"],
        "sr_sm_config": store_mod.loads(sr["sm_config"]) or {},
        "args": [str(a) for a in args],
    }
    params.update(extra or {})
    return run(ctx, sr["type"], command, params)


def _env(ctx, host: str) -> typing.Optional[typing.Dict[str, str]]:
    """A sandboxed host's driver environment (None: this machine's, see ``caller.driver_env``).

    With storage emulation (``ctx.emulation``) its commands come first on the PATH.
    """
    path = os.environ.get("PATH", os.defpath)
    if ctx.emulation is not None:
        path = ctx.emulation.path_for_drivers(path)
    if onhost.sandbox_of(ctx, host) is None:
        return None if ctx.emulation is None else caller.driver_env(ctx.xapi_url, dict(os.environ, PATH=path))
    return {"PATH": path, "ORIGINATOR": "SM"}


def run(ctx, sr_type: str, command: str, params: dict) -> typing.Any:
    """Run ``command`` of the driver of ``sr_type`` with ``params`` (a session added) on params' host."""
    path = ctx.driver_path(sr_type)
    _check_trusted(path)  # issue 14: the file may have changed since the scan
    host = params.get("host_ref", "")
    session = ctx.new_session("root", "SM", internal=True)
    try:
        params = dict(params, session_ref=session)
        LOG.info("driver %s %s sr=%s", os.path.basename(path), command, params.get("sr_uuid", ""))
        sandboxed = onhost.sandbox_of(ctx, host) is not None
        with runs.registered(ctx, session, "%s %s" % (os.path.basename(path), command)):  # issue 14: see runs
            return caller.call(path, command, params, xapi_url="" if sandboxed else ctx.xapi_url,
                               timeout=ctx.driver_timeout, run=onhost.runner_for(ctx, host), env=_env(ctx, host))
    finally:
        ctx.end_session(session)


def run_from_config(ctx, sr_type: str, host: str, config: str) -> typing.Any:
    """Run the driver of ``sr_type`` on ``host`` with a ``vdi_generate_config`` document, as static-vdis does."""
    path = ctx.driver_path(sr_type)
    _check_trusted(path)  # issue 14
    LOG.info("driver %s from its generated config on %s", os.path.basename(path), host)
    with runs.registered(ctx, store_mod.new_ref(), "%s from config" % os.path.basename(path)):  # issue 14
        return caller.call_document(path, config, timeout=ctx.driver_timeout, run=onhost.runner_for(ctx, host),
                                    env=_env(ctx, host) or caller.driver_env(""))


def _check_trusted(path: str) -> None:
    """SR_BACKEND_FAILURE naming the path unless the driver at ``path`` is trusted (``smscan``)."""
    problems = smscan.trust_problems(path)
    if problems:
        raise XenAPIError(errors.SR_BACKEND_FAILURE_PREFIX, "unsafe driver: " + "; ".join(problems), "", "")
