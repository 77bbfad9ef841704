"""Running on a host what xapi runs there: its stack scripts and its SR drivers.

A host with a sandbox (``ctx.sandboxes``) runs them inside it, where the
stack root is ``/usr/libexec/xapi/cluster-stack`` and the pool is reached
at ``/var/lib/xcp/xapi``, as on a real host.  A host without one runs
them on this machine (the one-host pool of a machine that is that host).
Files xapi writes on a host (xhad.conf) are written through ``host_path``.
"""

import logging
import os
import typing

from sm_clusterstack import atomicfile, errors, hostsandbox, runner, stacks
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import mtc, scripts
from sm_clusterstack.xapi.hosts import runs
from sm_clusterstack.xapi.db import store as store_mod

LOG = logging.getLogger("sm_clusterstack.xapi")


class ScriptFailed(XenAPIError):
    """A stack script's non-zero exit, as a XenAPI error; ``returncode`` says which MTC code."""

    def __init__(self, code: str, returncode: typing.Optional[int], *params: str) -> None:
        super(ScriptFailed, self).__init__(code, *params)
        self.returncode = returncode


def sandbox_of(ctx, host: str) -> typing.Optional[hostsandbox.HostSandbox]:
    """The sandbox of host ``host``, or None when the host is this machine."""
    return ctx.sandboxes.get(host)


def runner_for(ctx, host: str) -> typing.Callable[..., runner.Result]:
    """A ``runner.run``-like callable that runs argv on ``host``."""
    box = sandbox_of(ctx, host)
    if box is None:
        return runner.run

    def run(argv, timeout=runner.DEFAULT_TIMEOUT, env=None, stdin=None, cwd=None):
        return box.run(argv, timeout=timeout, env=env, stdin=stdin)
    return run


def host_path(ctx, host: str, path: str) -> str:
    """Where ``path`` of ``host`` is on this machine."""
    box = sandbox_of(ctx, host)
    return box.path(path) if box is not None else path


def write_file(ctx, host: str, path: str, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` on ``host`` atomically with ``mode``, making its directory."""
    target = host_path(ctx, host, path)
    os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
    atomicfile.write(target, data, mode=mode)


def run_script(ctx, host: str, stack: str, script: str, args: typing.Sequence[str] = ()) -> runner.Result:
    """Run ``script`` of ``stack`` on ``host`` as xapi does; its Result on exit 0.

    A failure raises ScriptFailed with the XenAPI code xapi would give
    (``MTC_CODES``), or HA_CONFIGURATION_INVALID for an unsafe stack.
    """
    box = sandbox_of(ctx, host)
    inside = os.path.join(hostsandbox.STACK_ROOT_INSIDE, stack) if box is not None else ""
    try:
        with runs.registered(ctx, store_mod.new_ref(), "%s on %s" % (script, host)):  # issue 14: see runs
            result = scripts.run_script(stacks.stack_dir(ctx.stack_root, stack), script, list(args),
                                        timeout=ctx.script_timeout, run=runner_for(ctx, host), path_inside=inside)
    except scripts.StackScriptError as e:
        if e.result.timed_out:
            LOG.error("%s on host %s hit the %.0f s safety net and was killed", script, _uuid(ctx, host),
                      ctx.script_timeout)
        raise script_error(script, e.returncode, _uuid(ctx, host), e.stderr)
    except stacks.StackError as e:
        raise XenAPIError(errors.HA_CONFIGURATION_INVALID, str(e))
    LOG.info("host %s: %s %s: ok", _uuid(ctx, host), script, " ".join(args))
    return result


# MTC exit codes -> the XenAPI error xapi raises for them (xapi_host.ml ha_join_liveset).
# Any other failure is our HA_CONFIGURATION_INVALID [script, MTC name, host, stderr],
# where xapi gives INTERNAL_ERROR with the Xha_error's name.
MTC_CODES = {
    mtc.BOOTJOIN_TIMEOUT: errors.HA_FAILED_TO_FORM_LIVESET,
    mtc.CAN_NOT_ACCESS_STATEFILE: errors.HA_HOST_CANNOT_ACCESS_STATEFILE,
}


def script_error(script: str, returncode: typing.Optional[int], host_uuid: str, stderr: str) -> ScriptFailed:
    """The XenAPI error of a failed script run."""
    code = MTC_CODES.get(returncode, errors.HA_CONFIGURATION_INVALID) if returncode is not None else None
    name = mtc.name_of(returncode) if returncode is not None else "TIMEOUT"
    if code is None or code == errors.HA_CONFIGURATION_INVALID:
        return ScriptFailed(errors.HA_CONFIGURATION_INVALID, returncode, script, name, host_uuid,
                            stderr.strip()[-1024:])
    LOG.warning("host %s: %s failed: %s: %s", host_uuid, script, name, stderr.strip()[-1024:])
    return ScriptFailed(code, returncode)


def _uuid(ctx, host: str) -> str:
    with ctx.store.read() as conn:
        row = store_mod.row(conn, "host", host)
    return row["uuid"] if row is not None else host
