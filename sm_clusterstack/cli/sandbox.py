"""``sm-clusterstack sandbox exec``: run a command inside a host's sandbox, as xapi runs a stack script."""

import argparse
import os
import sqlite3
import sys

from sm_clusterstack import cli
from sm_clusterstack.cli import options

HELP = "run a command inside a host sandbox of a pool served with --sandbox"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``sandbox``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    run_parser = sub.add_parser("exec", help="run CMD in HOST's sandbox with xapi's environment for stack scripts")
    options.add(run_parser, "sandbox", options.STATE)
    run_parser.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                            help="kill the command after S seconds (default 3600)")
    run_parser.add_argument("host", metavar="HOST", help="the host's uuid or name-label")
    run_parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD...")


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
    result = box.run(command, timeout=args.timeout, env=env)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.timed_out:
        sys.stderr.write("sm-clusterstack sandbox exec: killed after %.0f s\n" % args.timeout)
        return cli.EXIT_FAILED
    return result.returncode if result.returncode is not None and result.returncode >= 0 else cli.EXIT_FAILED
