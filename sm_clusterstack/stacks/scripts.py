"""Running a stack's scripts as xapi does (``ocaml/xapi/xha_scripts.ml`` ``call_script``).

The stack directory is checked for safety before anything in it runs.  A
script gets exactly one environment variable, ``PATH=<caller's PATH>:<stack
dir>`` (appended), and never ``-C``: its config is /etc/xensource/xhad.conf.
xapi sets no timeout; ours is a safety net the caller reports if it is hit.
A non-zero exit becomes StackScriptError carrying the MTC name of the code
(``check=False``: the Result, for the stack client, which judges it).
Callers call scripts through ``stacks.client``, not through this module.
"""

import os
import typing

from sm_clusterstack import hostsandbox
from sm_clusterstack import runner as runner_mod
from sm_clusterstack import stacks
from sm_clusterstack.stacks import mtc

DEFAULT_TIMEOUT = 3600.0  # seconds: a safety net only; ha_start_daemon waits up to EnableJoinTimeout


OUTPUT_OVER_CAP = "OUTPUT_OVER_CAP"  # the name of a run killed for printing more than runner.OUTPUT_CAPS
OUTPUT_SHOWN = 300  # characters of a script's stdout and of its stderr an error message quotes (the tail)


class StackScriptError(Exception):
    """A run of a stack script that broke the interface: by default a failure exit or a timeout.

    Carries the ``script``, the ``host`` it ran on ("" when not named), the
    ``result``, its ``returncode`` with the MTC name (``mtc_name``: TIMEOUT
    when it was killed at its timeout, OUTPUT_OVER_CAP when it printed more
    than the runner's cap), its ``stdout`` and ``stderr``.  ``reason``
    replaces "failed: <MTC name> (exit <n>)" in the message
    (``stacks.client``'s errors for output xapi would refuse).
    """

    def __init__(self, script: str, result: runner_mod.Result, host: str = "", reason: str = "") -> None:
        self.script = script
        self.host = host
        self.result = result
        self.returncode = result.returncode
        self.mtc_name = OUTPUT_OVER_CAP if result.overflow else mtc.name_of(result.returncode)
        self.stdout = result.stdout
        self.stderr = result.stderr
        self.reason = reason or failure_reason(result)
        super(StackScriptError, self).__init__("%s%s %s%s" % (
            script, " on " + host if host else "", self.reason, _quoted_output(result, bool(reason))))


def failure_reason(result: runner_mod.Result) -> str:
    """How a failed run ended, for a message: its MTC name and exit, or the cap it broke."""
    if result.overflow:
        return "printed more than %d bytes on %s (the cap) and was killed" % (
            runner_mod.OUTPUT_CAPS[result.overflow], result.overflow)
    return "failed: %s (exit %s)" % (mtc.name_of(result.returncode), result.returncode)


def _quoted_output(result: runner_mod.Result, with_stdout: bool) -> str:
    parts = [("stdout %r" % result.stdout[-OUTPUT_SHOWN:]) if with_stdout else ""]
    parts.append(result.stderr.strip()[-OUTPUT_SHOWN:])
    shown = "; ".join(p for p in parts if p)
    return ": " + shown if shown else ""


def script_env(
        stack_path: str,
        base: typing.Optional[typing.Mapping[str, str]] = None,
) -> typing.Dict[str, str]:
    """The environment a script runs in: xapi's (PATH only, the stack dir appended).

    ``base`` (the conformance kit's own sandbox, until it runs stacks in host
    sandboxes) is kept, with the stack dir appended to its PATH.
    """
    if base is None:
        return hostsandbox.xapi_env(stack_path)
    env = dict(base)
    env["PATH"] = env.get("PATH", os.defpath) + os.pathsep + stack_path
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
        path_inside: str = "",
        check: bool = True,
) -> runner_mod.Result:
    """Run ``script`` of the stack at ``stack_path``; return its Result on exit 0 (any exit: ``check`` False).

    ``run`` runs the argv where the host is (a host sandbox's ``run``), and
    ``path_inside`` is where the stack dir is seen there (default: where it
    is here).  ``exec_prefix`` is the kit's legacy way of doing the same.
    Raises StackError when the stack is unsafe or ``script`` is not an
    interface script, and (``check``) StackScriptError on a non-zero exit or
    a timeout.
    """
    if script not in stacks.SCRIPTS:
        raise stacks.StackError("%s: not a script of the xhad interface" % script)
    stacks.check_safe(stack_path, owner_uid)
    where = path_inside or stack_path
    argv = list(exec_prefix) + [os.path.join(where, script)] + list(args)
    result = run(argv, timeout=timeout, env=script_env(where, env))
    if check and result.returncode != mtc.SUCCESS:
        raise StackScriptError(script, result)
    return result
