"""Running on a host what xapi runs there: its stack scripts and its SR drivers.

A host with a sandbox (``ctx.sandboxes``) runs them inside it, where the
stack root is ``/usr/libexec/xapi/cluster-stack`` and the pool is reached
at ``/var/lib/xcp/xapi``, as on a real host.  A host without one runs
them on this machine (the one-host pool of a machine that is that host).
Files xapi writes on a host (xhad.conf) are written through ``host_path``.
"""

import contextlib
import logging
import os
import typing

from sm_clusterstack import atomicfile, errors, hostsandbox, runner, stacks
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import client, liveset, mtc, scripts
from sm_clusterstack.xapi.hosts import runs
from sm_clusterstack.xapi.db import store as store_mod

LOG = logging.getLogger("sm_clusterstack.xapi")


class ScriptFailed(XenAPIError):
    """A stack script's non-zero exit, as a XenAPI error; ``returncode`` says which MTC code.

    ``reason``: the MTC name and the last line the script wrote to stderr (a
    stack says there why, e.g. that the host is fencing), for ``ha status``.
    """

    def __init__(self, code: str, returncode: typing.Optional[int], *params: str, reason: str = "") -> None:
        super(ScriptFailed, self).__init__(code, *params)
        self.returncode = returncode
        self.reason = reason or mtc.name_of(returncode)


def sandbox_of(ctx, host: str) -> typing.Optional[hostsandbox.HostSandbox]:
    """The sandbox of host ``host``, or None when the host is this machine."""
    return ctx.sandboxes.get(host)


def runner_for(ctx, host: str) -> typing.Callable[..., runner.Result]:
    """A ``runner.run``-like callable that runs argv on ``host`` (named by its uuid in messages)."""
    box = sandbox_of(ctx, host)
    where = _uuid(ctx, host)

    def run(argv, timeout=runner.DEFAULT_TIMEOUT, env=None, stdin=None, cwd=None):
        if box is None:
            return runner.run(argv, timeout=timeout, env=env, stdin=stdin, cwd=cwd, where=where)
        return box.run(argv, timeout=timeout, env=env, stdin=stdin, where=where)
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


def run_result(ctx, host: str, stack: str, script: str, args: typing.Sequence[str] = (),
               timeout: typing.Optional[float] = None) -> runner.Result:
    """Run ``script`` of ``stack`` on ``host`` as xapi does, recorded in ``runs``; its Result, whatever the exit.

    HA_CONFIGURATION_INVALID for an unsafe stack (nothing runs then).  The
    judging of the exit and the output is the stack client's (``HostStack``).
    ``timeout``: the caller's own bound (the monitor's), else the safety net.
    """
    limit = timeout or ctx.script_timeout
    box = sandbox_of(ctx, host)
    inside = os.path.join(hostsandbox.STACK_ROOT_INSIDE, stack) if box is not None else ""
    try:
        with runs.registered(ctx, store_mod.new_ref(), "%s on %s" % (script, host)):  # issue 14: see runs
            result = scripts.run_script(stacks.stack_dir(ctx.stack_root, stack), script, list(args),
                                        timeout=limit, run=runner_for(ctx, host), path_inside=inside,
                                        check=False)
    except stacks.StackError as e:
        raise XenAPIError(errors.HA_CONFIGURATION_INVALID, str(e))
    if result.timed_out:
        LOG.error("%s on host %s did not end within %.0f s and was killed", script, _uuid(ctx, host), limit)
    elif result.overflow:
        LOG.error("%s on host %s %s", script, _uuid(ctx, host), scripts.failure_reason(result))
    elif result.returncode == mtc.SUCCESS:
        LOG.info("host %s: %s %s: ok", _uuid(ctx, host), script, " ".join(args))
    return result


class HostStack(client.StackClient):
    """The pool's cluster stack on one of its hosts, as the shim calls it (``Xha_scripts`` on that host).

    The stack client judges every answer (exit codes, exit 14 as nothing to
    do for stop and disarm, the liveset, TRUE/FALSE); each run goes through
    ``run_result`` (the host's sandbox, ``runs``, the log) and each error
    becomes the XenAPI error xapi raises: ``ScriptFailed`` (``DaemonAbsent``
    for exit 14) with the code of ``MTC_CODES``, ``InvalidAnswer`` for
    output xapi would refuse.
    """

    def __init__(self, ctx, host: str, stack: str, timeout: typing.Optional[float] = None) -> None:
        super(HostStack, self).__init__(stacks.stack_dir(ctx.stack_root, stack), host=_uuid(ctx, host),
                                        timeout=timeout or ctx.script_timeout)
        self.ctx, self.ref, self.stack = ctx, host, stack

    def result(self, script: str, args: typing.Sequence[str] = (),
               timeout: typing.Optional[float] = None) -> runner.Result:
        return run_result(self.ctx, self.ref, self.stack, script, args, timeout=timeout or self.timeout)

    def set_pool_state(self, state: str) -> None:
        with _as_xenapi_errors():
            super(HostStack, self).set_pool_state(state)

    def start_daemon(self) -> None:
        with _as_xenapi_errors():
            super(HostStack, self).start_daemon()

    def stop_daemon(self) -> bool:
        with _as_xenapi_errors():
            return super(HostStack, self).stop_daemon()

    def disarm_fencing(self) -> bool:
        with _as_xenapi_errors():
            return super(HostStack, self).disarm_fencing()

    def set_excluded(self) -> None:
        with _as_xenapi_errors():
            super(HostStack, self).set_excluded()

    def query_liveset(self) -> liveset.Liveset:
        with _as_xenapi_errors():
            return super(HostStack, self).query_liveset()

    def propose_master(self) -> bool:
        with _as_xenapi_errors():
            return super(HostStack, self).propose_master()

    def liveset_text(self) -> str:
        """What ``ha_query_liveset`` printed, unparsed (for ``ha status``); ScriptFailed on a failed exit."""
        with _as_xenapi_errors():
            return self.call(client.HA_QUERY_LIVESET).stdout


def stack_on(ctx, host: str, stack: str, timeout: typing.Optional[float] = None) -> HostStack:
    """The client of ``stack`` on ``host`` (``timeout``: of each script, else the safety net)."""
    return HostStack(ctx, host, stack, timeout)


class DaemonAbsent(ScriptFailed):
    """Exit 14 DAEMON_IS_NOT_PRESENT: the host runs no HA daemon (it never started, left, or fenced)."""


class InvalidAnswer(XenAPIError):
    """A script that exited 0 with output xapi would refuse (INTERNAL_ERROR, as xapi's parse failure)."""

    def __init__(self, error: client.InvalidOutput) -> None:
        super(InvalidAnswer, self).__init__(errors.INTERNAL_ERROR, str(error))
        self.script = error.script


@contextlib.contextmanager
def _as_xenapi_errors() -> typing.Iterator[None]:
    try:
        yield
    except client.InvalidOutput as e:
        raise InvalidAnswer(e)
    except client.ScriptFailed as e:
        raise script_error(e.script, e.returncode, e.host, e.stderr, name=e.mtc_name,
                           said=e.reason if e.result.overflow else "")


# MTC exit codes -> the XenAPI error xapi raises for them (xapi_host.ml ha_join_liveset).
# Any other failure is our HA_CONFIGURATION_INVALID [script, MTC name, host, stderr],
# where xapi gives INTERNAL_ERROR with the Xha_error's name.
MTC_CODES = {
    mtc.BOOTJOIN_TIMEOUT: errors.HA_FAILED_TO_FORM_LIVESET,
    mtc.CAN_NOT_ACCESS_STATEFILE: errors.HA_HOST_CANNOT_ACCESS_STATEFILE,
}


def script_error(script: str, returncode: typing.Optional[int], host_uuid: str, stderr: str, name: str = "",
                 said: str = "") -> ScriptFailed:
    """The XenAPI error of a failed script run.

    ``name`` is how it ended when not by an exit (TIMEOUT, the default for
    no ``returncode``, or OUTPUT_OVER_CAP), ``said`` replaces the last line
    of its stderr as the reason and the stderr param.
    """
    code = MTC_CODES.get(returncode, errors.HA_CONFIGURATION_INVALID) if returncode is not None else None
    name = name or (mtc.name_of(returncode) if returncode is not None else "TIMEOUT")
    stderr = said or stderr
    said = said or (stderr.strip().splitlines()[-1].strip()[:300] if stderr.strip() else "")
    reason = "%s: %s" % (name, said) if said else name
    if code is None or code == errors.HA_CONFIGURATION_INVALID:
        kind = DaemonAbsent if returncode == mtc.DAEMON_IS_NOT_PRESENT else ScriptFailed
        return kind(errors.HA_CONFIGURATION_INVALID, returncode, script, name, host_uuid, stderr.strip()[-1024:],
                    reason=reason)
    LOG.warning("host %s: %s failed: %s: %s", host_uuid, script, name, stderr.strip()[-1024:])
    return ScriptFailed(code, returncode, reason=reason)


def _uuid(ctx, host: str) -> str:
    with ctx.store.read() as conn:
        row = store_mod.row(conn, "host", host)
    return row["uuid"] if row is not None else host
