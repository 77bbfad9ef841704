"""Running a stack's scripts as xapi does.

The stack directory is checked for safety before anything in it runs, is
prepended to PATH, and each script runs with an argv list and a timeout.
A non-zero exit becomes StackScriptError carrying the MTC name of the code.
"""

import os
import typing

from sm_clusterstack import runner as runner_mod
from sm_clusterstack import stacks
from sm_clusterstack.stacks import mtc

DEFAULT_TIMEOUT = 60.0  # seconds; ha_start_daemon may wait for a join


class StackScriptError(Exception):
    """A stack script that failed: its exit status, MTC name and stderr."""

    def __init__(self, script: str, result: runner_mod.Result) -> None:
        self.script = script
        self.result = result
        self.returncode = result.returncode
        self.mtc_name = mtc.name_of(result.returncode)
        self.stderr = result.stderr
        super(StackScriptError, self).__init__(
            "%s failed: %s (exit %s)%s" % (
                script, self.mtc_name, result.returncode,
                ": " + result.stderr.strip() if result.stderr.strip() else ""))


def script_env(
        stack_path: str,
        base: typing.Optional[typing.Mapping[str, str]] = None,
) -> typing.Dict[str, str]:
    """The environment a script runs in: ``base`` with the stack dir first on PATH."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = stack_path + os.pathsep + env.get("PATH", os.defpath)
    return env


def run_script(
        stack_path: str,
        script: str,
        args: typing.Sequence[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
        exec_prefix: typing.Sequence[str] = (),
        env: typing.Optional[typing.Mapping[str, str]] = None,
        run: typing.Callable[..., runner_mod.Result] = runner_mod.run,
        owner_uid: int = 0,
) -> runner_mod.Result:
    """Run ``script`` of the stack at ``stack_path``; return its Result on exit 0.

    ``exec_prefix`` (e.g. ``["ip", "netns", "exec", "h2"]``) goes before the
    script's path, so one machine can play several hosts.  Raises StackError
    when the stack is unsafe or ``script`` is not an interface script, and
    StackScriptError on a non-zero exit or a timeout.
    """
    if script not in stacks.SCRIPTS:
        raise stacks.StackError("%s: not a script of the xhad interface" % script)
    stacks.check_safe(stack_path, owner_uid)
    argv = list(exec_prefix) + [os.path.join(stack_path, script)] + list(args)
    result = run(argv, timeout=timeout, env=script_env(stack_path, env))
    if result.returncode != mtc.SUCCESS:
        raise StackScriptError(script, result)
    return result
