"""``sm-clusterstack kit``: the conformance kit for storage vendors' drivers and cluster stacks.

``kit stack DIR`` checks one cluster-stack directory, ``kit driver EXE`` one
SMAPIv1 driver, ``kit`` alone every driver of the sm-dir and every stack of
the cluster-stack root.  Prints a table; ``--junit FILE`` also writes JUnit
XML.  Exit 0 when nothing failed, 1 when a check failed, 2 when the kit
could not run (bad arguments, nothing to check, or a check it could not
run: ERROR).
"""

import argparse
import os
import sys
import typing

from sm_clusterstack import cli

HELP = "check a vendor's SR driver or cluster stack against xapi's rules (conformance kit)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="*", metavar="stack DIR | driver EXE",
                        help="what to check; nothing: every driver of the sm-dir and every stack of the root")
    cli.add_xapi_conf(parser)
    parser.add_argument("--root", metavar="DIR", help="cluster-stack root (default: xapi.conf's cluster-stack-root)")
    parser.add_argument("--sm-dir", metavar="DIR", help="directory of SR drivers (default: xapi.conf's sm-dir)")
    parser.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML to FILE")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="timeout of each stack script and of each driver call the kit makes (default 30)")
    parser.add_argument("--driver-timeout", type=float, default=120.0, metavar="SECONDS",
                        help="timeout of each driver call on the embedded pool (default 120)")
    parser.add_argument("--start-timeout", type=float, default=120.0, metavar="SECONDS",
                        help="timeout of ha_start_daemon and ha_stop_daemon (default 120)")
    parser.add_argument("--list", action="store_true", help="list every check and what passes, then exit")
    parser.add_argument("--static", action="store_true",
                        help="static checks only: run no stack script and start no pool")
    parser.add_argument("--host-network", action="store_true",
                        help="run stack scripts in the host's network namespace (default: a namespace of "
                             "their own with only loopback, where the machine allows)")
    parser.add_argument("--stack-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the stack's scripts (repeatable)")
    parser.add_argument("--device-config", action="append", default=[], metavar="KEY=VALUE",
                        help="device_config of the SR the driver checks attach (repeatable)")
    parser.add_argument("--scratch-device", action="store_true",
                        help="give the driver checks a scratch loop device as device_config:device")


def _pairs(items: typing.List[str], option: str) -> typing.Dict[str, str]:
    found = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError("%s expects KEY=VALUE, got %r" % (option, item))
        found[key] = value
    return found


def targets(args: argparse.Namespace) -> typing.Tuple[typing.List[str], typing.List[str]]:
    """(stack dirs, driver paths) named by the arguments; ValueError when they make no sense."""
    from sm_clusterstack.kit import check
    if not args.target:
        conf = cli.load_conf(args) if not (args.root and args.sm_dir) else None
        root = args.root or conf.cluster_stack_root
        sm_dir = args.sm_dir or conf.sm_dir
        found = (check.stack_dirs(root), check.driver_paths(sm_dir))
        if not found[0] and not found[1]:
            raise ValueError("no cluster stack under %s and no driver (*SR) in %s" % (root, sm_dir))
        return found
    if len(args.target) != 2 or args.target[0] not in ("stack", "driver"):
        raise ValueError("expected 'stack DIR', 'driver EXE' or nothing, got %r" % " ".join(args.target))
    kind, path = args.target
    if kind == "stack" and not os.path.isdir(path):
        raise ValueError("%s: not a directory" % path)
    if kind == "driver" and not os.path.isfile(path):
        raise ValueError("%s: not a file" % path)
    return ([path], []) if kind == "stack" else ([], [path])


def options(args: argparse.Namespace) -> typing.Any:
    """The kit's Options from the command line."""
    from sm_clusterstack.kit import check
    for option in ("timeout", "driver_timeout", "start_timeout"):
        if not getattr(args, option) > 0:
            raise ValueError("--%s must be a positive number of seconds" % option.replace("_", "-"))
    return check.Options(
        timeout=args.timeout, start_timeout=args.start_timeout, live=not args.static,
        stack_env=_pairs(args.stack_env, "--stack-env"),
        device_config=_pairs(args.device_config, "--device-config"),
        scratch_device=args.scratch_device, driver_timeout=args.driver_timeout,
        isolate=not args.host_network)


def _print_block(suite: typing.Any) -> None:
    from sm_clusterstack.kit import report
    sys.stdout.write(report.block(suite))
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    """Run the checks, print the table, write JUnit XML if asked; exit 0, 1 or 2."""
    from sm_clusterstack.kit import catalog, check, report, result
    if args.list:
        sys.stdout.write(catalog.listing())
        return cli.EXIT_OK
    try:
        stack_paths, driver_paths = targets(args)
        opts = options(args)
    except ValueError as e:
        sys.stderr.write("sm-clusterstack kit: %s\n" % e)
        return cli.EXIT_USAGE
    suites = check.check_all(stack_paths, driver_paths, opts, done=_print_block)
    sys.stdout.write(report.summary(suites) + "\n")
    sys.stdout.flush()
    if args.junit:
        try:
            with open(args.junit, "wb") as f:
                f.write(report.junit(suites))
        except OSError as e:
            sys.stderr.write("sm-clusterstack kit: cannot write %s: %s\n" % (args.junit, e.strerror or e))
            return cli.EXIT_USAGE
    return result.exit_code(suites)
