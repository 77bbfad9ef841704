"""Starting the shim: open the store, create the pool, scan the sm-dir, serve, reconcile."""

import logging
import typing

from sm_clusterstack.xapi import context, recovery, server, smscan

LOG = logging.getLogger("sm_clusterstack.xapi")


class Service(object):
    """A running shim: its Pool context and listeners."""

    def __init__(self, ctx: context.Pool, servers: typing.List[typing.Any]) -> None:
        self.ctx = ctx
        self.servers = servers

    @property
    def url(self) -> str:
        """Where drivers and clients reach the pool (TCP preferred)."""
        return self.ctx.xapi_url

    def stop(self) -> None:
        """Stop listening and close the store."""
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()
        self.ctx.store.close()


def start(ctx: context.Pool, hosts: int = 1, port: typing.Optional[int] = None,
          socket_path: typing.Optional[str] = None) -> Service:
    """Create the pool if new, listen, scan the drivers, reconcile a crash; the Service."""
    if context.initialise(ctx.store, hosts):
        LOG.info("created a pool of %d host(s) in %s", hosts, ctx.state_dir)
    servers = server.start(ctx, port=port, socket_path=socket_path)
    ctx.xapi_url = server.url_of(servers[0])
    found = smscan.scan(ctx)
    LOG.info("SM types: %s", " ".join(found) or "none")
    done = recovery.reconcile(ctx)
    if any(done.values()):
        LOG.warning("reconciled after a crash: %s", done)
    return Service(ctx, servers)
