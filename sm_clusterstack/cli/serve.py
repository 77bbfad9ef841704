"""``sm-clusterstack serve``: the xapi-side shim, a XenAPI server on an embedded pool."""

import argparse
import errno
import os
import signal
import sqlite3
import sys
import typing

from sm_clusterstack import cli
from sm_clusterstack.cli import options

HELP = "serve XenAPI on an embedded SQLite pool (the xapi-side shim)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``serve``."""
    options.add(parser, "serve", options.STATE)
    parser.add_argument("--port", type=int, metavar="N",
                        help="listen on 127.0.0.1:N (0: any free port, printed when ready)")
    parser.add_argument("--socket", metavar="PATH",
                        help="listen on this unix socket, mode 0600 (default: DIR/xapi.sock "
                             "when no --port)")
    options.add(parser, "serve", options.HOSTS, options.PASSWORD_FILE, options.SM_DIR, options.CLUSTER_STACK_ROOT,
                options.DRIVER_TIMEOUT, options.SCRIPT_TIMEOUT, options.SANDBOX, options.SANDBOX_IPV6,
                options.SANDBOX_PREFIX, options.HA_MONITOR_INTERVAL, options.EMULATE_STORAGE)
    parser.add_argument("--sandbox-kernel-fence", action="append", metavar="PATH", dest="kernel_fences",
                        help="a path standing for one of the machine's kernel fences (default: "
                             "/proc/sysrq-trigger and the watchdog devices); each host gets its own file over it, "
                             "and a fence written there resets that host only (repeatable; for tests)")
    parser.add_argument("--new-pool", action="store_true",
                        help="where the state directory's database is missing or damaged (serve refuses to start "
                             "on it), set its files aside and create a new pool")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument("--log-file", metavar="F",
                        help="also log to F (every XenAPI call, HA step and driver run; syslog too where /dev/log is)")
    options.add(parser, "serve", options.XAPI_CONF)


def build_pool(args: argparse.Namespace) -> typing.Any:
    """The Pool context the options describe."""
    from sm_clusterstack.xapi.rpc import context
    from sm_clusterstack.xapi import service
    from sm_clusterstack.xapi.db import durable
    conf = options.load_conf(args)
    service.check_state_dir(args.state)  # issue 14: refuse a state dir others could change, before writing
    existing = check_store(args.state, args.new_pool)  # issue 22: before anything is written
    password_file = args.password_file or os.path.join(args.state, "password")
    if existing is not None and not os.path.exists(password_file):
        raise durable.Refused("%s: root's password file is missing, and pool %s exists: restore it (its first line "
                              "is the password) or give --password-file" % (password_file, existing.pool_uuid))
    os.makedirs(args.state, mode=0o700, exist_ok=True)
    password_file = args.password_file or context.ensure_password_file(args.state)
    service.check_password_file(password_file)
    sm_dir, root, args.emulate_storage = options.pool_dirs(args.state, args.sm_dir, args.cluster_stack_root, conf,
                                                           True if args.emulate_storage else None)
    return context.Pool(
        os.path.abspath(args.state), sm_dir, root,
        context.read_password(password_file), driver_timeout=args.driver_timeout,
        script_timeout=args.script_timeout, default_stack=conf.cluster_stack_default, marked=True)


def check_store(state: str, new_pool: bool) -> typing.Any:
    """The pool the state dir holds (None: a new one is to be made); durable.Refused if its store is unusable.

    ``new_pool``: an unusable store is set aside instead (a sound one never is).
    """
    from sm_clusterstack.xapi.db import durable
    try:
        found = durable.check(state)
    except durable.Refused:
        if not new_pool:
            raise
        moved = durable.set_aside(state)
        sys.stderr.write("sm-clusterstack serve: --new-pool: set aside %s; a new pool is created\n"
                         % (" ".join(moved) or "nothing (the markers only)"))
        return None
    if new_pool and found is not None:
        raise durable.Refused("--new-pool: %s holds pool %s, sound and complete: nothing to replace"
                              % (state, found.pool_uuid))
    return found


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT."""
    from sm_clusterstack import hostsandbox, logsetup
    from sm_clusterstack.xapi.db import durable, schema
    from sm_clusterstack.xapi.db import store as store_mod
    from sm_clusterstack.xapi import service
    try:
        logsetup.configure(args.log_file, args.verbose)
    except OSError as e:
        sys.stderr.write("sm-clusterstack serve: --log-file: %s\n" % e)
        return cli.EXIT_FAILED
    if args.ipv6 and not args.sandbox:
        sys.stderr.write("sm-clusterstack serve: --ipv6 is for host sandboxes: give --sandbox too\n")
        return cli.EXIT_USAGE
    if args.port is not None and not 0 <= args.port <= 65535:
        sys.stderr.write("sm-clusterstack serve: --port %d out of range\n" % args.port)
        return cli.EXIT_USAGE
    socket_path = args.socket or (None if args.port is not None else os.path.join(args.state, "xapi.sock"))
    try:
        pool = build_pool(args)
        svc = service.start(pool, hosts=args.hosts, port=args.port, socket_path=socket_path,
                            sandbox=args.sandbox, sandbox_prefix=args.sandbox_prefix, ipv6=args.ipv6,
                            ha_monitor_interval=args.ha_monitor_interval,
                            kernel_fences=tuple(args.kernel_fences or hostsandbox.KERNEL_FENCES),
                            emulate_storage=args.emulate_storage)
    except OSError as e:
        if e.errno == errno.ENOSPC:  # a file of the state written at start (its record of a clean stop, ...)
            sys.stderr.write("sm-clusterstack serve: %s: its disk is full (%s)\n" % (args.state, e.strerror))
        else:
            sys.stderr.write("sm-clusterstack serve: %s\n" % e)
        return cli.EXIT_FAILED
    except (ValueError, schema.SchemaError, hostsandbox.SandboxError, durable.Refused) as e:
        sys.stderr.write("sm-clusterstack serve: %s\n" % e)
        return cli.EXIT_FAILED
    except store_mod.WriteRefused as e:  # a full disk at start
        sys.stderr.write("sm-clusterstack serve: %s\n" % e.params[0])
        return cli.EXIT_FAILED
    except sqlite3.Error as e:  # the store checked sound a moment ago: its disk (full, failing)
        sys.stderr.write("sm-clusterstack serve: %s: %s%s\n" % (
            os.path.join(args.state, store_mod.DB_NAME), e, "; its disk is full" if _full(args.state) else ""))
        return cli.EXIT_FAILED
    serve_until_signalled(svc)
    return cli.EXIT_OK


def _full(path: str) -> bool:
    """True when the filesystem of ``path`` has no free block left."""
    try:
        return os.statvfs(path).f_bavail == 0
    except OSError:
        return False


def serve_until_signalled(svc) -> None:
    """Print the ready line (where it listens), wait for SIGTERM or SIGINT, stop."""
    from sm_clusterstack.xapi.rpc import server
    stop = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.append(True))
    where = " ".join("%s=%s" % ("url" if isinstance(s, server.TCPServer) else "socket", server.url_of(s))
                     for s in svc.servers)
    sys.stdout.write("sm-clusterstack serve: ready %s pid=%d\n" % (where, os.getpid()))
    sys.stdout.flush()
    while not stop:
        signal.pause()
    svc.stop()
