"""Running a stack's scripts for the behaviour checks: sandbox, timeouts, engine absence.

Every script run has a timeout; a hung script is killed and fails the check
that ran it (and ``stack.timeout``).  A script exiting 16
(INVALID_ENVIRONMENT: the stack's engine is absent) makes that check and
every later one SKIP with the script's stderr as the reason, never PASS.
Whatever happens, the kit stops the daemon it started and kills what it
left running in the sandbox.
"""

import os
import typing

from sm_clusterstack import runner
from sm_clusterstack.kit.sandbox import StackSandbox
from sm_clusterstack.stacks import liveset, mtc, scripts

SCRIPT_TIMEOUT = 30.0  # seconds, every script but ha_start_daemon
START_TIMEOUT = 120.0  # seconds: ha_start_daemon waits until this host is in the liveset
ENGINE_ABSENT_AGAIN = "engine absent (the reason is on the first skipped check)"


class Skip(Exception):
    """The check cannot be judged; the text says why."""


class Fail(Exception):
    """The check failed; the text says how."""


def code(result: runner.Result) -> str:
    """An exit status with its MTC name, e.g. ``14 DAEMON_IS_NOT_PRESENT``."""
    return "%s %s" % (result.returncode, mtc.name_of(result.returncode))


def expect(result: runner.Result, want: int, what: str) -> None:
    """Fail unless ``result`` exited ``want``; the detail names both codes and the stderr."""
    if result.returncode != want:
        err = " ".join(result.stderr.split())[-200:]
        raise Fail("%s exited %s, expected %d %s%s" % (
            what, code(result), want, mtc.name_of(want), (": " + err) if err else ""))


class StackProbe(object):
    """Runs one stack's scripts in a sandbox and remembers what the checks need."""

    def __init__(self, path: str, sandbox: StackSandbox, timeout: float = SCRIPT_TIMEOUT,
                 start_timeout: float = START_TIMEOUT, owner_uid: int = 0) -> None:
        self.path = path
        self.sandbox = sandbox
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.owner_uid = owner_uid
        self.engine_absent = ""
        self.timeouts = []  # type: typing.List[str]
        self.no_daemon_code = None  # type: typing.Optional[int]
        self.daemon_may_run = False
        self.started = False
        self.stopped = False
        self.liveset = None  # type: typing.Optional[liveset.Liveset]
        self.left_after_stop = []  # type: typing.List[int]

    def call(self, script: str, args: typing.Sequence[str] = (),
             timeout: typing.Optional[float] = None) -> runner.Result:
        """Run ``script`` in the sandbox; Skip when it cannot run, Fail on a timeout."""
        if self.engine_absent:
            raise Skip(ENGINE_ABSENT_AGAIN)
        target = os.path.join(self.path, script)
        if not (os.path.isfile(target) and os.access(target, os.X_OK)):
            raise Skip("%s is missing (see stack.script-missing)" % script)
        limit = timeout or self.timeout
        try:
            result = scripts.run_script(self.path, script, args, timeout=limit, env=self.sandbox.env,
                                        exec_prefix=self.sandbox.exec_prefix(), owner_uid=self.owner_uid)
        except scripts.StackScriptError as e:
            result = e.result
        if result.timed_out:
            self.timeouts.append(script)
            raise Fail("%s timed out after %gs and was killed" % (script, limit))
        if result.returncode == mtc.INVALID_ENVIRONMENT:
            self.engine_absent = " ".join(result.stderr.split()) or "%s exited 16 INVALID_ENVIRONMENT" % script
            raise Skip("engine absent: %s" % self.engine_absent)
        return result

    def query(self) -> runner.Result:
        """ha_query_liveset, which must exit 0."""
        result = self.call("ha_query_liveset")
        expect(result, mtc.SUCCESS, "ha_query_liveset")
        return result

    def need_daemon(self) -> None:
        """Skip unless ha_start_daemon succeeded."""
        if self.engine_absent:
            raise Skip(ENGINE_ABSENT_AGAIN)
        if not self.started:
            raise Skip("needs the daemon running (stack.start-daemon did not pass)")

    def local(self, check: str) -> liveset.LivesetHost:
        """The local host's entry of the last valid liveset; Skip when there is none."""
        if self.liveset is None:
            raise Skip("needs a valid liveset (see stack.liveset-schema)")
        try:
            return self.liveset.host(self.sandbox.host_id)
        except KeyError:
            raise Skip("the liveset has no entry for the local host (see %s)" % check)
