"""The shim's hosts as host sandboxes (``serve --sandbox``): records, sockets, health check.

Each host of the pool gets a sandbox (``hostsandbox``); its record gets
the management PIF the sandbox has (device ``eth0``, bridge ``xenbr0``,
the sandbox's address) and ``other_config:sandbox-netns``; the shim listens
at the host's ``/var/lib/xcp/xapi`` (where stock SM drivers look) and
writes the host's ``/opt/xensource/libexec/xapi-health-check`` (which xhad
runs), which asks the shim ``host.ha_xapi_healthcheck`` through that socket:
the shim answers for that host, unhealthy when the host's
``/var/lib/xcp/fist_fail_healthcheck`` exists (xapi's ``Xapi_fist.fail_healthcheck``
FIST point, in the host's own /var/lib/xcp rather than /tmp).
"""

import logging
import os
import sys
import typing

from sm_clusterstack import hostsandbox
from sm_clusterstack.xapi.db import records
from sm_clusterstack.xapi.hosts import onhost
from sm_clusterstack.xapi.db import store as store_mod

LOG = logging.getLogger("sm_clusterstack.xapi")
XAPI_SOCKET = "/var/lib/xcp/xapi"
HEALTH_CHECK = "/opt/xensource/libexec/xapi-health-check"
HEALTH_CHECK_SCRIPT = """#!%(python)s
# sm-clusterstack: xapi's health check for xhad (xha daemon/xapi_mon.c runs it; exit 0 = healthy)
import sys
sys.path.insert(0, %(path)r)
from sm_clusterstack.xapi.hosts import healthcheck
sys.exit(healthcheck.main(%(socket)r))
"""


def setup(ctx, hosts: int, prefix: str = "", ipv6: bool = False) -> hostsandbox.SandboxPool:
    """Make (or adopt) one sandbox per host, record their PIFs, map ``ctx.sandboxes``."""
    pool = hostsandbox.SandboxPool.create(ctx.state_dir, hosts, prefix=prefix, stack_root=ctx.stack_root,
                                          ipv6=ipv6)
    try:
        with ctx.store.write() as conn:
            rows = records.hosts_in_creation_order(conn)  # host1 first
            if len(rows) != hosts:
                raise hostsandbox.SandboxError("the pool has %d hosts, not %d" % (len(rows), hosts))
            for row, box in zip(rows, pool.hosts):
                _record_host(conn, row, box)
                ctx.sandboxes[row["ref"]] = box
        for ref, box in ctx.sandboxes.items():
            _write_health_check(ctx, ref)
    except BaseException:
        ctx.sandboxes.clear()
        pool.teardown()
        raise
    return pool


def _record_host(conn, row, box: hostsandbox.HostSandbox) -> None:
    other = store_mod.loads(row["other_config"]) or {}
    other["sandbox-netns"] = box.netns
    store_mod.update(conn, "host", row["ref"], address=box.address, other_config=other)
    pif = records.management_pif(conn, row["ref"])
    values = {"device": box.device, "bridge": box.bridge, "IP": box.address,
              "netmask": "" if box.ipv6 else hostsandbox.NETMASK, "management": True, "currently_attached": True}
    if pif is None:
        store_mod.insert(conn, "PIF", dict(values, ref=store_mod.new_ref(), uuid=store_mod.new_uuid(),
                                           host=row["ref"]))
    else:
        store_mod.update(conn, "PIF", pif[0], **values)


def _write_health_check(ctx, host: str) -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = HEALTH_CHECK_SCRIPT % {"python": sys.executable, "path": os.path.dirname(root), "socket": XAPI_SOCKET}
    onhost.write_file(ctx, host, HEALTH_CHECK, text.encode("utf-8"), mode=0o755)


def listen_on_hosts(ctx, start: typing.Callable[[str], typing.List[typing.Any]]) -> typing.List[typing.Any]:
    """Listen at each sandboxed host's ``/var/lib/xcp/xapi`` with ``start(path)``; the servers.

    The path is given as ``/proc/self/fd/N/xapi`` (N: the directory, open
    while binding), as a unix socket's path is limited to 107 bytes and a
    state dir may be deep.
    """
    servers = []
    for host in sorted(ctx.sandboxes):
        directory = os.path.dirname(onhost.host_path(ctx, host, XAPI_SOCKET))
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            started = start("/proc/self/fd/%d/%s" % (fd, os.path.basename(XAPI_SOCKET)))
        finally:
            os.close(fd)
        for srv in started:
            srv.local_host = host  # a request on it comes from that host (host.ha_xapi_healthcheck)
        servers.extend(started)
    return servers
