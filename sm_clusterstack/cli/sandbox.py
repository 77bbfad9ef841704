"""``sm-clusterstack sandbox``: run a command inside a host's sandbox (``exec``), list and remove sandboxes.

``remove --state DIR`` removes exactly what ``DIR/sandbox/made.json``
records (a pool whose serve, xe --embedded or kit is gone) and lists
it; ``list`` shows every pool's namespaces on this machine by prefix, and
``remove --prefix P`` removes the namespaces ``P-hN`` and ``P-sw`` of one
whose state dir is gone.
"""

import argparse
import os
import sqlite3
import sys
import time

from sm_clusterstack import cli
from sm_clusterstack.cli import options

HELP = "run a command inside a host sandbox of a pool served with --sandbox; list or remove host sandboxes"
POWER_WAIT = 60.0  # seconds exec waits for a host that is off (a fenced host between its reset and its power-on)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``sandbox``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    run_parser = sub.add_parser("exec", help="run CMD in HOST's sandbox with xapi's environment for stack scripts")
    options.add(run_parser, "sandbox", options.STATE)
    run_parser.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                            help="kill the command after S seconds (default 3600); a host that is off (rebooting) "
                                 "is waited for first, %.0f s at most, and a command a reset of the host killed "
                                 "runs again" % POWER_WAIT)
    run_parser.add_argument("host", metavar="HOST", help="the host's uuid or name-label")
    run_parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD...")
    run_parser.set_defaults(act=_exec)
    remove_parser = sub.add_parser("remove", help="remove the host sandboxes a pool left: what --state DIR records, "
                                                  "or the namespaces P-sw, P-hN of --prefix P; list them")
    which = remove_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--state", metavar="DIR", help="the pool's state directory (its sandbox/made.json)")
    which.add_argument("--prefix", metavar="P", help="remove the namespaces P-sw and P-h1, P-h2, ... "
                                                     "(a pool whose state dir is gone; see sandbox list)")
    remove_parser.set_defaults(act=_remove)
    list_parser = sub.add_parser("list", help="every pool's namespaces on this machine, by prefix")
    list_parser.set_defaults(act=_list)


def _host(state: str, wanted: str):
    """(netns, pool's stack) of the host whose uuid or name-label is ``wanted``."""
    from sm_clusterstack.xapi.db import records
    from sm_clusterstack.xapi.db import store as store_mod
    path = os.path.join(state, "pool.db")
    if not os.path.exists(path):
        raise LookupError("%s holds no pool" % state)
    with store_mod.read_only(path, timeout=30) as conn:
        rows = records.hosts_named(conn, wanted)
        stack = records.pool_stacks(conn)[0]
    if len(rows) != 1:
        raise LookupError("%s: %s" % (wanted, "no such host" if not rows else "several hosts have that name"))
    netns = (store_mod.loads(rows[0]["other_config"]) or {}).get("sandbox-netns", "")
    if not netns:
        raise LookupError("host %s has no sandbox" % rows[0]["uuid"])
    return netns, stack


def run(args: argparse.Namespace) -> int:
    """The action's exit status."""
    return args.act(args)


def _list(args: argparse.Namespace) -> int:
    """Print each pool's prefix and namespaces."""
    from sm_clusterstack import hostsandbox
    for prefix, names in sorted(hostsandbox.pools_on_machine().items()):
        sys.stdout.write("%s  %s\n" % (prefix, " ".join(names)))
    return cli.EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    """Remove what the record or the prefix names; print each thing stopped and removed, failures on stderr."""
    from sm_clusterstack import hostsandbox
    from sm_clusterstack.xapi import service
    if args.prefix is not None:
        try:
            return _report(hostsandbox.remove_prefix(args.prefix), args.prefix,
                           "no namespace %s-sw or %s-hN" % (args.prefix, args.prefix))
        except hostsandbox.SandboxError as e:
            sys.stderr.write("sm-clusterstack sandbox remove: %s\n" % e)
            return cli.EXIT_USAGE
    if not os.path.isdir(args.state):
        sys.stderr.write("sm-clusterstack sandbox remove: %s: no such directory (a pool whose state dir is gone: "
                         "sandbox list, then sandbox remove --prefix P)\n" % args.state)
        return cli.EXIT_FAILED
    try:
        fd = service.lock(args.state)
    except service.StateInUse as e:
        sys.stderr.write("sm-clusterstack sandbox remove: %s: stop it (SIGTERM), which removes its sandboxes\n" % e)
        return cli.EXIT_FAILED
    try:
        return _report(hostsandbox.SandboxPool.remove_recorded(args.state), args.state, "no host sandboxes recorded")
    finally:
        os.close(fd)


def _powered_within(box, seconds: float) -> bool:
    """Whether the host is on, waiting ``seconds`` at most for another process (the shim) to power it on.

    A host is off between a fence's reboot and its power switch's power-on,
    and while it is reset: entering it then fails (its PID namespace has no
    init), as a command to a rebooting machine does.
    """
    deadline = time.monotonic() + seconds
    while not box.powered():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def run_through_resets(box, command, timeout: float, env):
    """``command`` run in ``box`` once it is on; again if a reset of the host killed it; None if it stays off.

    A fenced host is reset by its power switch (the shim) and may be reset
    again once the survivors dropped it: a command that failed while the
    host's init changed under it never ran to its end (every process of the
    host went with the old init), so it runs again on the new boot, within
    ``timeout`` in all.
    """
    deadline = time.monotonic() + timeout
    while True:
        if not _powered_within(box, max(0.0, min(POWER_WAIT, deadline - time.monotonic()))):
            return None
        init = box.init_pid()
        result = box.run(command, timeout=max(1.0, deadline - time.monotonic()), env=env)
        reset = not box.powered() or box.init_pid() != init  # (the old init lingers a moment as a zombie)
        if result.ok or result.timed_out or not reset or time.monotonic() >= deadline:
            return result


def _report(removal, subject: str, nothing: str) -> int:
    """Print a Removal; exit 1 when something could not be removed."""
    if not removal.recorded:
        sys.stdout.write("%s: %s: nothing to remove\n" % (subject, nothing))
    for line in removal.stopped:
        sys.stdout.write("stopped %s\n" % line)
    for line in removal.removed:
        sys.stdout.write("removed %s\n" % line)
    for line in removal.failed:
        sys.stderr.write("sm-clusterstack sandbox remove: could not remove %s\n" % line)
    return cli.EXIT_FAILED if removal.failed else cli.EXIT_OK


def _exec(args: argparse.Namespace) -> int:
    """Run the command in the sandbox; its exit status, its output passed through."""
    from sm_clusterstack import hostsandbox
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        sys.stderr.write("sm-clusterstack sandbox exec: no command given (HOST -- CMD...)\n")
        return cli.EXIT_USAGE
    try:
        netns, stack = _host(args.state, args.host)
        box = hostsandbox.find(args.state, netns)
    except (LookupError, hostsandbox.SandboxError, sqlite3.Error) as e:
        sys.stderr.write("sm-clusterstack sandbox exec: %s\n" % e)
        return cli.EXIT_FAILED
    env = hostsandbox.xapi_env(os.path.join(hostsandbox.STACK_ROOT_INSIDE, stack))
    result = run_through_resets(box, command, args.timeout, env)
    if result is None:
        sys.stderr.write("sm-clusterstack sandbox exec: %s is off and was not powered on within %.0f s (the shim "
                         "serving the pool powers a fenced host on again; a host shut down stays off until "
                         "host-reboot)\n" % (args.host, min(POWER_WAIT, args.timeout)))
        return cli.EXIT_FAILED
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.timed_out:
        sys.stderr.write("sm-clusterstack sandbox exec: killed after %.0f s\n" % args.timeout)
        return cli.EXIT_FAILED
    return result.returncode if result.returncode is not None and result.returncode >= 0 else cli.EXIT_FAILED
