"""The cluster-stack client: every call of a stack's scripts, judged in one place.

``ocaml/xapi/xha_scripts.ml`` (xapi-project/xen-api) names each script once
(the ``HA_*`` constants here, from ``stacks.names``) and its ``call_script``
turns a non-zero exit into ``Xha_error`` of the MTC code; ``stacks.mtc`` is
that table, and every error here carries the exit status and its MTC name.
A ``StackClient`` is one stack on one host: ``run`` is where the host is (a
host sandbox's ``run``, or ``runner.run`` for this machine), and the runs go
through ``scripts.run_script`` (safety check first, PATH-only environment,
a timeout).  What the answers mean, once:

- exit 0 is success, any other exit or a timeout is ``ScriptFailed``;
- exit 14 DAEMON_IS_NOT_PRESENT is ``DaemonAbsent``, except where it means
  "nothing to do" (``ok_if_absent``: ``disarm_fencing`` and ``stop_daemon``,
  as ``xapi_ha.ml`` ``ha_disarm_fencing``: "daemon has exited so returning
  success");
- ``query_liveset`` returns the liveset parsed with xapi's rules
  (``stacks.liveset``); one xapi would refuse is ``InvalidOutput``;
- ``propose_master`` is True for ``TRUE`` and False for ``FALSE``
  (``xapi_ha.ml`` ``propose_master``: ``String.rtrim result = "TRUE"``, where
  rtrim drops one trailing newline); anything else is ``InvalidOutput``
  where xapi would read "no".

Every error is a ``ScriptError`` (``scripts.StackScriptError``) naming the
script, the host and what it printed.  An unsafe stack is
``stacks.StackError``, raised before anything runs.  xapi runs one script
at a time on a host (``ha_script_m``); a client does not serialise calls.
"""

import typing

from sm_clusterstack import runner
from sm_clusterstack.stacks import liveset, mtc, scripts
from sm_clusterstack.stacks.names import (  # noqa: F401 (re-exported: callers name scripts as client.HA_...)
    HA_CLEAR_EXCLUDED, HA_DISARM_FENCING, HA_PROPOSE_MASTER, HA_QUERY_LIVESET, HA_SET_EXCLUDED,
    HA_SET_POOL_STATE, HA_START_DAEMON, HA_STOP_DAEMON, POOL_STATE_INIT, POOL_STATE_INVALID, SCRIPTS,
)
from sm_clusterstack.xmlsafe import XMLFormatError

ScriptError = scripts.StackScriptError  # the base of every error below


class ScriptFailed(ScriptError):
    """A script that exited non-zero, or was killed at its timeout or for more output than the runner's cap.

    ``returncode``/``mtc_name`` say which (TIMEOUT, OUTPUT_OVER_CAP).
    """


class DaemonAbsent(ScriptFailed):
    """Exit 14 DAEMON_IS_NOT_PRESENT: no daemon runs on the host (for ha_query_liveset: no liveset)."""


class InvalidOutput(ScriptError):
    """A script that exited 0 but printed what the interface does not allow; ``reason`` says what.

    ``detail`` is why the model refused it (the liveset parser's message), if one did.
    """

    def __init__(self, script: str, result: runner.Result, host: str, what: str, detail: str = "") -> None:
        super(InvalidOutput, self).__init__(script, result, host, what + (": " + detail if detail else ""))
        self.detail = detail


def failure(script: str, result: runner.Result, host: str = "") -> ScriptFailed:
    """The error of a run that did not exit 0: DaemonAbsent for 14, ScriptFailed otherwise."""
    if result.returncode == mtc.DAEMON_IS_NOT_PRESENT:
        return DaemonAbsent(script, result, host)
    return ScriptFailed(script, result, host)


def read_liveset(result: runner.Result, host: str = "") -> liveset.Liveset:
    """The liveset ``ha_query_liveset`` printed, read as xapi reads it; InvalidOutput when xapi would refuse it."""
    try:
        return liveset.parse(result.stdout)
    except XMLFormatError as e:
        raise InvalidOutput(HA_QUERY_LIVESET, result, host, "printed a liveset xapi would refuse", str(e))


def read_proposal(stdout: str) -> typing.Optional[bool]:
    """What ``ha_propose_master`` answered: True (TRUE), False (FALSE), None (anything else).

    One trailing newline is allowed, as xapi's ``String.rtrim`` drops it.
    """
    text = stdout[:-1] if stdout.endswith("\n") else stdout
    return {"TRUE": True, "FALSE": False}.get(text)


class StackClient(object):
    """The scripts of the stack at ``stack_path``, run on one host as xapi runs them.

    ``host`` names the host in errors; ``path_inside`` is where the stack
    directory is seen by ``run`` (a sandbox's view); ``env`` a base
    environment instead of xapi's PATH (``scripts.script_env``).
    """

    def __init__(self, stack_path: str, run: typing.Callable[..., runner.Result] = runner.run,
                 host: str = "", path_inside: str = "", timeout: float = scripts.DEFAULT_TIMEOUT,
                 owner_uid: int = 0, env: typing.Optional[typing.Mapping[str, str]] = None) -> None:
        self.stack_path = stack_path
        self.run = run
        self.host = host
        self.path_inside = path_inside
        self.timeout = timeout
        self.owner_uid = owner_uid
        self.env = env

    def result(self, script: str, args: typing.Sequence[str] = (),
               timeout: typing.Optional[float] = None) -> runner.Result:
        """Run ``script`` and return its Result whatever the exit (the kit judges exits itself)."""
        return scripts.run_script(self.stack_path, script, list(args), timeout=timeout or self.timeout,
                                  env=self.env, run=self.run, owner_uid=self.owner_uid,
                                  path_inside=self.path_inside, check=False)

    def call(self, script: str, args: typing.Sequence[str] = (), timeout: typing.Optional[float] = None,
             ok_if_absent: bool = False) -> runner.Result:
        """Run ``script``; its Result on exit 0, and on exit 14 when ``ok_if_absent``; else ScriptFailed."""
        found = self.result(script, args, timeout)
        if found.returncode == mtc.SUCCESS or (ok_if_absent and found.returncode == mtc.DAEMON_IS_NOT_PRESENT):
            return found
        raise failure(script, found, self.host)

    def set_pool_state(self, state: str) -> None:
        """``ha_set_pool_state <state>`` (POOL_STATE_INIT or POOL_STATE_INVALID)."""
        self.call(HA_SET_POOL_STATE, [state])

    def start_daemon(self) -> None:
        """``ha_start_daemon``: returns once this host is in an Online liveset."""
        self.call(HA_START_DAEMON)

    def stop_daemon(self) -> bool:
        """``ha_stop_daemon``; False when there was no daemon to stop (exit 14: nothing to do)."""
        return self.call(HA_STOP_DAEMON, ok_if_absent=True).returncode == mtc.SUCCESS

    def disarm_fencing(self) -> bool:
        """``ha_disarm_fencing``; False when there was no daemon to disarm (exit 14: nothing to do)."""
        return self.call(HA_DISARM_FENCING, ok_if_absent=True).returncode == mtc.SUCCESS

    def set_excluded(self) -> None:
        """``ha_set_excluded``: this host leaves cleanly (after disarm and stop)."""
        self.call(HA_SET_EXCLUDED)

    def query_liveset(self) -> liveset.Liveset:
        """``ha_query_liveset``, parsed; DaemonAbsent (exit 14), InvalidOutput (refused), ScriptFailed."""
        return read_liveset(self.call(HA_QUERY_LIVESET), self.host)

    def propose_master(self) -> bool:
        """``ha_propose_master``: True for TRUE, False for FALSE; InvalidOutput for anything else."""
        found = self.call(HA_PROPOSE_MASTER)
        answer = read_proposal(found.stdout)
        if answer is None:
            raise InvalidOutput(HA_PROPOSE_MASTER, found, self.host, "printed neither TRUE nor FALSE")
        return answer
