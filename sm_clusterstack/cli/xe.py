"""``sm-clusterstack xe``: an xe-style XenAPI client (``key=value`` arguments).

With ``--server URL`` (http://host:port or a unix socket path) it talks to
a running shim or a real xapi, logging in as root with ``--password-file``
(not needed on a unix socket, where root is trusted as xapi trusts it).
Without it, it uses the embedded pool in ``--state`` (default
``$SM_CLUSTERSTACK_STATE``, else ``~/.local/share/sm-clusterstack/pool``):
through the ``serve`` that holds that pool if one runs (its address is in
``STATE/shim.addr``), else by starting the shim in-process on a private
socket for the drivers.  The
embedded pool remembers its ``--sm-dir`` and ``--cluster-stack-root`` in
``STATE/embedded.conf``.  Errors print as xe prints them: the code, then
the params.
"""

import argparse
import os
import sys
import typing

from sm_clusterstack import cli
from sm_clusterstack.cli import xe_commands

HELP = "xe-style XenAPI client: sm-list, sr-create, pbd-plug, pool-ha-enable, ... (embedded pool or --server)"
EMBEDDED_CONF = "embedded.conf"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``xe``: where the pool is, then the command and its key=value params."""
    parser.add_argument("--server", metavar="URL", help="XenAPI server: http://host:port or a unix socket path")
    parser.add_argument("--password-file", metavar="F",
                        help="root's password for --server (not needed for root on a unix socket)")
    parser.add_argument("--state", metavar="DIR", help="state directory of the embedded pool")
    parser.add_argument("--sm-dir", metavar="DIR", help="SR drivers of the embedded pool (remembered)")
    parser.add_argument("--cluster-stack-root", metavar="DIR",
                        help="cluster stacks of the embedded pool (remembered)")
    parser.add_argument("--hosts", type=int, default=1, metavar="N", help="hosts of a new embedded pool")
    cli.add_xapi_conf(parser)
    parser.add_argument("command", choices=sorted(xe_commands.COMMANDS), metavar="COMMAND",
                        help="one of: " + ", ".join(sorted(xe_commands.COMMANDS)))
    parser.add_argument("params", nargs="*", metavar="KEY=VALUE")


def run(args: argparse.Namespace) -> int:
    """Run one xe command; 0, 1 on a XenAPI error, 2 on bad usage."""
    import XenAPI
    try:
        params = xe_commands.parse_params(args.params)
    except ValueError as e:
        sys.stderr.write("sm-clusterstack xe: %s\n" % e)
        return cli.EXIT_USAGE
    try:
        with _connected(args) as session:
            output = xe_commands.COMMANDS[args.command](session.xenapi, params)
    except XenAPI.Failure as e:
        sys.stderr.write(render_failure(e.details))
        return cli.EXIT_FAILED
    except xe_commands.UsageError as e:
        sys.stderr.write("sm-clusterstack xe %s: %s\n" % (args.command, e))
        return cli.EXIT_USAGE
    except (OSError, ValueError) as e:
        sys.stderr.write("sm-clusterstack xe: %s\n" % e)
        return cli.EXIT_FAILED
    if output:
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
    return cli.EXIT_OK


def render_failure(details: typing.List[str]) -> str:
    """An error as xe prints it."""
    details = [str(d) for d in details] or ["UNKNOWN_ERROR"]
    return "Error code: %s\nError parameters: %s\n" % (details[0], ", ".join(details[1:]))


class _connected(object):
    """A logged-in XenAPI session for the options; stops an in-process pool on exit."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.service = None
        self.session = None

    def __enter__(self):
        args = self.args
        if args.server:
            local = not args.server.startswith(("http://", "https://"))  # root needs no password there
            password = _read(args.password_file, "--password-file") if args.password_file or not local else ""
            self.session = login(args.server, password)
            return self.session
        state = os.path.abspath(args.state or os.environ.get("SM_CLUSTERSTACK_STATE")
                                or os.path.expanduser("~/.local/share/sm-clusterstack/pool"))
        self.session, self.service = open_embedded(args, state)
        return self.session

    def __exit__(self, *exc):
        try:
            if self.session is not None:
                self.session.xenapi.session.logout()
        except Exception:  # logging out is a courtesy
            pass
        if self.service is not None:
            self.service.stop()
            for server in self.service.servers:
                if isinstance(server.server_address, str) and os.path.exists(server.server_address):
                    os.unlink(server.server_address)
        return False


def _read(path: typing.Optional[str], option: str) -> str:
    from sm_clusterstack.xapi import context
    if not path:
        raise ValueError("%s is required" % option)
    return context.read_password(path)


def login(server: str, password: str) -> typing.Any:
    """A XenAPI session logged in as root at ``server`` (URL or unix socket path)."""
    import XenAPI
    from sm_clusterstack.smapi import pool
    if server.startswith(("http://", "https://")):
        session = XenAPI.Session(server)
    else:
        session = XenAPI.Session("http://localhost/", transport=pool.SocketTransport(server, 300.0))
    session.login_with_password("root", password, "2.0", "sm-clusterstack-xe")
    return session


def open_embedded(args: argparse.Namespace, state: str) -> typing.Tuple[typing.Any, typing.Any]:
    """(session, in-process service or None) for the embedded pool in ``state``."""
    from sm_clusterstack.xapi import context, service
    os.makedirs(state, mode=0o700, exist_ok=True)
    password = context.read_password(context.ensure_password_file(state))
    sm_dir, root, default = _embedded_conf(args, state)
    ctx = context.Pool(state, sm_dir, root, password, default_stack=default)
    private = os.path.join(state, "xe-%d.sock" % os.getpid())
    try:
        # hosts are sandboxes where the machine allows (root); they outlive this one command, as hosts do
        svc = service.start(ctx, hosts=args.hosts, socket_path=private, sandbox=os.geteuid() == 0)
        svc.keep_sandboxes = True
    except service.StateInUse as e:  # a serve runs on this pool: go through it
        ctx.store.close()
        where = e.address.get("socket") or e.address.get("url")
        if not where:
            raise
        return login(where, password), None
    try:
        return login(private, password), svc
    except BaseException:
        svc.stop()
        raise


def _embedded_conf(args: argparse.Namespace, state: str) -> typing.Tuple[str, str, str]:
    """sm-dir, stack root and default stack: options, else remembered, else xapi.conf."""
    from sm_clusterstack import config
    path = os.path.join(state, EMBEDDED_CONF)
    remembered = config.load(path) if os.path.exists(path) else config.XapiConf()
    conf = cli.load_conf(args)
    sm_dir = os.path.abspath(args.sm_dir or remembered.values.get("sm-dir") or conf.sm_dir)
    root = os.path.abspath(args.cluster_stack_root or remembered.values.get("cluster-stack-root")
                           or conf.cluster_stack_root)
    with open(path + ".tmp", "w") as f:
        f.write("# the embedded pool's drivers and stacks (sm-clusterstack xe)\n"
                "sm-dir = %s\ncluster-stack-root = %s\n" % (sm_dir, root))
    os.rename(path + ".tmp", path)
    return sm_dir, root, conf.cluster_stack_default
