"""The logged-in XenAPI session of one ``sm-clusterstack xe`` command.

A server is reached over its unix socket or URL (TLS certificates are not
checked, as xe's stunnel does not check them); the local xapi is its socket
``/var/lib/xcp/xapi``, else ``http://127.0.0.1:<port>`` (newcli
``with_open_channels``).  The embedded pool (``--embedded DIR`` or
``$SM_CLUSTERSTACK_STATE``) goes through the ``serve`` that holds DIR if
one runs (its address is in ``DIR/shim.addr``), else the shim is started
in-process on a private socket for the drivers; the client names the pool
on stderr, and says when it created it.  The embedded pool remembers its
``--sm-dir`` and ``--cluster-stack-root`` in ``DIR/embedded.conf``, as ``serve`` does.
"""

import argparse
import os
import sys
import typing

from sm_clusterstack.cli.options import load_conf, pool_dirs
from sm_clusterstack.cli.xe import connect
from sm_clusterstack.cli.xe.errors import ClientError

ORIGINATOR = "sm-clusterstack-xe"


class connected(object):
    """``with connected(options, environ) as session``: logged in; logged out and stopped on exit."""

    def __init__(self, options: connect.Options, environ: typing.Mapping[str, str]) -> None:
        self.options = options
        self.environ = environ
        self.service = None
        self.session = None

    def __enter__(self):
        where = connect.target(self.options, self.environ)
        if where.kind == "embedded":
            self.session, self.service = open_embedded(self.options, where)
        else:
            self.session = login(session_for(where, self.options), self.options.get("username"),
                                 password_of(self.options))
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


def password_of(options: connect.Options) -> str:
    """-pw / -pwf (``passwordfile``), else --password-file (``password_file``, the shim's format), else xe's."""
    if options.get("password_file") and not options.get("passwordfile"):
        from sm_clusterstack.xapi.rpc import context
        try:
            return context.read_password(options.get("password_file"))
        except (OSError, ValueError) as e:
            raise ClientError("Error opening password file '%s': %s" % (options.get("password_file"), e))
    return options.get("password")


def session_for(where: connect.Target, options: connect.Options) -> typing.Any:
    """An XenAPI Session (not yet logged in) for ``where``."""
    import XenAPI
    from sm_clusterstack.smapi import pool
    if where.kind == "local":
        if os.path.exists(connect.LOCAL_XAPI):
            return unix_session(connect.LOCAL_XAPI)
        port = options.get("port") or "80"
        return XenAPI.Session("http://127.0.0.1:%s/" % port, transport=pool.TimeoutTransport(300.0))
    if where.kind == "socket":
        return unix_session(where.where)
    return XenAPI.Session(where.where, ignore_ssl=True)


def unix_session(path: str) -> typing.Any:
    import XenAPI
    from sm_clusterstack.smapi import pool
    return XenAPI.Session("http://localhost/", transport=pool.SocketTransport(path, 300.0))


def login(session: typing.Any, user: str, password: str) -> typing.Any:
    """``session`` logged in as ``user`` (xe's originator is "cli"; ours says who we are)."""
    import socket
    try:
        session.login_with_password(user, password, "2.0", ORIGINATOR)
    except (socket.error, OSError) as e:
        raise ClientError("Unable to contact server. Please check server and port settings. (%s)\n"
                          "sm-clusterstack xe: give -s SERVER (a xapi or 'sm-clusterstack serve'), or "
                          "--embedded DIR or SM_CLUSTERSTACK_STATE=DIR for an embedded pool" % e)
    return session


def open_embedded(options: connect.Options, where: connect.Target) -> typing.Tuple[typing.Any, typing.Any]:
    """(session, in-process service or None) for the embedded pool in ``where.where``."""
    from sm_clusterstack.xapi.rpc import context
    from sm_clusterstack.xapi import service
    from sm_clusterstack.xapi.db import store
    state = where.where
    new = not os.path.exists(os.path.join(state, store.DB_NAME))
    os.makedirs(state, mode=0o700, exist_ok=True)
    password = context.read_password(context.ensure_password_file(state))
    sm_dir, root, default, emulate = _embedded_conf(options, state)
    hosts = _hosts(options)
    sys.stderr.write("sm-clusterstack xe: embedded pool in %s (%s)%s\n" % (
        state, where.why, ", new: %d host(s)" % hosts if new else ""))
    ctx = context.Pool(state, sm_dir, root, password, default_stack=default)
    private = os.path.join(state, "xe-%d.sock" % os.getpid())
    try:
        # hosts are sandboxes where the machine allows (root); they outlive this one command, as hosts do
        svc = service.start(ctx, hosts=hosts, socket_path=private, sandbox=os.geteuid() == 0,
                            sandbox_prefix=options.get("sandbox_prefix") or "", emulate_storage=emulate)
        svc.keep_sandboxes = True
        if emulate:  # through a serve, the serve says so
            sys.stderr.write("sm-clusterstack xe: storage emulation on (--emulate-storage, remembered in %s): "
                             "ha status says what is emulated\n" % state)
    except service.StateInUse as e:  # a serve runs on this pool: go through it
        ctx.store.close()
        through = e.address.get("socket") or e.address.get("url")
        if not through:
            raise
        session = unix_session(through) if e.address.get("socket") else _url_session(through)
        return login(session, "root", password), None
    try:
        return login(unix_session(private), "root", password), svc
    except BaseException:
        svc.stop()
        raise


def _url_session(url: str) -> typing.Any:
    import XenAPI
    return XenAPI.Session(url)


def _hosts(options: connect.Options) -> int:
    text = options.get("hosts") or "1"
    if not text.isdigit():
        raise ClientError("sm-clusterstack xe: --hosts takes a number of hosts, not %r" % text)
    return int(text)


def _embedded_conf(options: connect.Options, state: str) -> typing.Tuple[str, str, str, bool]:
    """sm-dir, stack root, default stack and storage emulation: options, else remembered (``options.pool_dirs``),
    else xapi.conf."""
    conf = load_conf(argparse.Namespace(xapi_conf=options.get("xapi_conf")))
    sm_dir, root, emulate = pool_dirs(state, options.get("sm_dir"), options.get("cluster_stack_root"), conf,
                                      True if options.get("emulate_storage") else None)
    return sm_dir, root, conf.cluster_stack_default, emulate
