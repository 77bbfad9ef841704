"""``sm-clusterstack kit``: the conformance kit for storage vendors' drivers and cluster stacks.

``kit stack DIR`` checks one cluster-stack directory, ``kit driver EXE`` one
SMAPIv1 driver (several pairs in one run: ``kit stack A driver B``), ``kit``
alone every driver of the sm-dir and every stack of the cluster-stack root.
Prints each check's row as it ends; ``--junit FILE`` also writes JUnit XML,
also when the kit cannot run (one testcase with an ``<error>``).  Exit 0
when nothing failed, 1 when a check failed, 2 when the kit could not run
(bad arguments, nothing to check, or a check it could not run: ERROR).
"""

import argparse
import os
import signal
import sys
import typing

from sm_clusterstack import cli
from sm_clusterstack.cli import options

HELP = "check a vendor's SR driver or cluster stack against xapi's rules (conformance kit)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="*", metavar="stack DIR | driver EXE",
                        help="what to check, one or more pairs; nothing: every driver of the sm-dir and every "
                             "stack of the root")
    options.add(parser, "kit", options.XAPI_CONF, options.ROOT, options.SM_DIR)
    parser.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML to FILE")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="timeout of each stack script and of each driver call the kit makes (default 30)")
    options.add(parser, "kit", options.DRIVER_TIMEOUT, options.START_TIMEOUT)
    parser.add_argument("--list", action="store_true", help="list every check and what passes, then exit")
    parser.add_argument("--static", action="store_true",
                        help="static checks only: run no stack script and start no pool")
    options.add(parser, "kit", options.HOSTS, options.HA_TIMEOUT)
    parser.add_argument("--host-path", action="append", default=[], metavar="INSIDE=LOCAL",
                        help="lay this machine's file or directory LOCAL at INSIDE on every sandboxed host, "
                             "e.g. /opt/xensource/xha=DIR or a stack's settings file (repeatable)")
    parser.add_argument("--device-config", action="append", default=[], metavar="KEY=VALUE",
                        help="device_config of the SR the driver checks attach (repeatable)")
    parser.add_argument("--error-table", metavar="FILE", default="",
                        help="the driver's SM error table (XE_SR_ERRORCODES.xml format); default: the one beside "
                             "the driver, else the project's")
    parser.add_argument("--scratch-device", action="store_true",
                        help="give the driver checks a scratch loop device as device_config:device")
    parser.add_argument("--ipv6", action="store_true",
                        help="run the stacks on hosts whose management addresses are IPv6 only")
    options.add(parser, "kit", options.EMULATE_STORAGE)


def _pairs(items: typing.List[str], option: str) -> typing.Dict[str, str]:
    found = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError("%s expects KEY=VALUE, got %r" % (option, item))
        found[key] = value
    return found


def _conf(args: argparse.Namespace) -> typing.Any:
    from sm_clusterstack import config
    try:
        return config.load(args.xapi_conf)
    except config.ConfigError as e:
        raise ValueError(str(e))


def targets(args: argparse.Namespace) -> typing.List[typing.Tuple[str, str]]:
    """The (kind, path) pairs named by the arguments; ValueError when they make no sense."""
    from sm_clusterstack.kit import check
    if not args.target:
        conf = _conf(args) if not (args.root and args.sm_dir) else None
        root = args.root or conf.cluster_stack_root
        sm_dir = args.sm_dir or conf.sm_dir
        found = check.installed_targets(root, sm_dir)
        if not found:
            raise ValueError("no cluster stack under %s and no driver (*SR) in %s" % (root, sm_dir))
        return found
    words = list(args.target)
    if len(words) % 2 or any(kind not in (check.STACK, check.DRIVER) for kind in words[::2]):
        raise ValueError("expected pairs of 'stack DIR' or 'driver EXE', or nothing, got %r" % " ".join(words))
    pairs = list(zip(words[::2], words[1::2]))
    for kind, path in pairs:
        if kind == check.STACK and not os.path.isdir(path):
            raise ValueError("%s: not a directory" % path)
        if kind == check.DRIVER and not os.path.isfile(path):
            raise ValueError("%s: not a file" % path)
    return pairs


def check_options(args: argparse.Namespace) -> typing.Any:
    """The kit's Options from the command line."""
    from sm_clusterstack.kit import check, hostpool
    for option in ("timeout", "driver_timeout", "start_timeout"):
        if not getattr(args, option) > 0:
            raise ValueError("--%s must be a positive number of seconds" % option.replace("_", "-"))
    if not 1 <= args.hosts <= 4:
        raise ValueError("--hosts must be 1 to 4")
    if args.ha_timeout < 10:
        raise ValueError("--ha-timeout must be at least 10 (xapi refuses less)")
    if args.error_table and not os.path.isfile(args.error_table):
        raise ValueError("--error-table %s: no such file" % args.error_table)
    host_paths = _pairs(args.host_path, "--host-path")
    hostpool.check_host_paths(host_paths)
    return check.Options(
        timeout=args.timeout, start_timeout=args.start_timeout, live=not args.static,
        device_config=_pairs(args.device_config, "--device-config"),
        scratch_device=args.scratch_device, driver_timeout=args.driver_timeout,
        hosts=args.hosts, ha_timeout=args.ha_timeout, host_paths=host_paths, ipv6=args.ipv6,
        emulate_storage=args.emulate_storage,
        error_table=os.path.abspath(args.error_table) if args.error_table else "")


def progress(suite: typing.Any, found: typing.Any) -> None:
    """Print a target's header when it starts, then each check's row as it ends."""
    from sm_clusterstack.kit import report
    sys.stdout.write(report.header(suite) if found is None else report.row(found))
    sys.stdout.flush()


def _write_junit(path: str, document: bytes) -> bool:
    try:
        with open(path, "wb") as f:
            f.write(document)
    except OSError as e:
        sys.stderr.write("sm-clusterstack kit: cannot write %s: %s\n" % (path, e.strerror or e))
        return False
    return True


def junit_path_problem(path: str) -> str:
    """Why the JUnit document could not be written to ``path`` ("" when it can), checked before any check runs."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return "is a directory"
    if not os.path.isdir(folder):
        return "no such directory %s" % folder
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return "not writable"
    if not os.path.exists(path) and not os.access(folder, os.W_OK | os.X_OK):
        return "cannot create a file in %s" % folder
    return ""


def _cannot_run(args: argparse.Namespace, message: str) -> int:
    from sm_clusterstack.kit import report
    sys.stderr.write("sm-clusterstack kit: %s\n" % message)
    if args.junit:
        _write_junit(args.junit, report.junit_error(message))
    return cli.EXIT_USAGE


def _check(pairs: typing.List[typing.Tuple[str, str]], opts: typing.Any) -> typing.List[typing.Any]:
    from sm_clusterstack.kit import check
    suites = []
    for pair in pairs:
        suites.extend(check.check_targets([pair], opts))
        sys.stdout.write("\n")
    return suites


class Interrupted(KeyboardInterrupt):
    """SIGTERM, SIGINT or SIGHUP while the kit runs: unwind (every pool and host sandbox is removed on the way)."""


INTERRUPTED = 130  # exit status after a signal, as a shell reports SIGINT
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _interrupt(signum: int, _frame: typing.Any) -> None:
    """Ignore further stop signals (the unwinding removes the sandboxes), then unwind."""
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signal.Signals(signum).name)


def run(args: argparse.Namespace) -> int:
    """Run the checks, print the table as they go, write JUnit XML if asked; exit 0, 1 or 2 (130: a signal)."""
    from sm_clusterstack.kit import catalog, report, result
    if args.list:
        sys.stdout.write(catalog.listing())
        return cli.EXIT_OK
    problem = junit_path_problem(args.junit) if args.junit else ""
    if problem:  # before anything runs: a run of many minutes must not end unable to write its report
        sys.stderr.write("sm-clusterstack kit: --junit %s: %s\n" % (args.junit, problem))
        return cli.EXIT_USAGE
    try:
        pairs = targets(args)
        opts = check_options(args)
    except (ValueError, OSError) as e:
        return _cannot_run(args, str(e))
    opts.listener = progress
    if opts.emulate_storage:
        from sm_clusterstack.emulation import pool as emulation_pool
        sys.stdout.write("kit: %s\n\n" % emulation_pool.summary())
    for signum in STOP_SIGNALS:
        signal.signal(signum, _interrupt)
    try:
        suites = _check(pairs, opts)
    except KeyboardInterrupt as e:
        sys.stdout.flush()
        sys.stderr.write("sm-clusterstack kit: interrupted (%s): stopped the checks and removed their pools and "
                         "host sandboxes (a kit.teardown row names any it could not); no result\n"
                         % (e.args[0] if e.args else "SIGINT"))
        return INTERRUPTED
    sys.stdout.write(report.summary(suites) + "\n")
    sys.stdout.flush()
    if args.junit and not _write_junit(args.junit, report.junit(suites)):
        return cli.EXIT_USAGE
    return result.exit_code(suites)
