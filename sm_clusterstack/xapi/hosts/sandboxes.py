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
import threading
import typing

from sm_clusterstack import hostsandbox, proctree
from sm_clusterstack.xapi.db import records
from sm_clusterstack.xapi.hosts import onhost
from sm_clusterstack.xapi.db import store as store_mod

LOG = logging.getLogger("sm_clusterstack.xapi")
XAPI_SOCKET = "/var/lib/xcp/xapi"
HEALTH_CHECK = "/opt/xensource/libexec/xapi-health-check"
POWER_POLL = 0.2  # seconds between two looks at the hosts' kernel fence stand-ins
HEALTH_CHECK_SCRIPT = """#!%(python)s
# sm-clusterstack: xapi's health check for xhad (xha daemon/xapi_mon.c runs it; exit 0 = healthy)
import sys
sys.path.insert(0, %(path)r)
from sm_clusterstack.xapi.hosts import healthcheck
sys.exit(healthcheck.main(%(socket)r))
"""


def setup(ctx, hosts: int, prefix: str = "", ipv6: bool = False,
          kernel_fences: typing.Sequence[str] = hostsandbox.KERNEL_FENCES) -> hostsandbox.SandboxPool:
    """Make (or adopt) one sandbox per host, record their PIFs, map ``ctx.sandboxes``.

    ``kernel_fences``: the machine's kernel fence paths each host gets its own stand-in over (a test names a
    file of its own that stands for the machine's).
    """
    pool = hostsandbox.SandboxPool.create(ctx.state_dir, hosts, prefix=prefix, stack_root=ctx.stack_root,
                                          ipv6=ipv6, kernel_fences=kernel_fences)
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


def end_stack_processes(ctx, host: str) -> typing.List[str]:
    """Stop every process left in ``host``'s sandbox but the shim's runs in progress; what was stopped.

    With HA disabled no stack process may run on a host, fenced or not (a
    guard still trying to fence, a monitor that lingers).  A real host is
    left to its stack's scripts: only a sandbox can be searched.
    """
    box = onhost.sandbox_of(ctx, host)
    if box is None:
        return []
    with ctx.store.read() as conn:
        running = {r["pgid"] for r in records.runs(conn) if r["pgid"]}

    def spare(pid: int) -> bool:  # a run in progress: its tree (proctree), or its recorded process group
        try:
            return proctree.in_a_run(pid) or os.getpgid(pid) in running
        except OSError:
            return True  # gone already
    return ["%s[%d]" % (command, pid) for pid, command in hostsandbox.stop_processes(box, spare)]


class PowerSwitch(object):
    """The power switch of the pool's sandboxed hosts: a host its kernel rebooted is reset and powered on at once.

    Each host sandbox's PID namespace is its power (``hostsandbox``): a
    reboot(2) in the host (corosync-ha's kernel fence where the machine has
    no sysrq) kills its init and every process of the host, never the
    machine.  A kernel fence through sysrq's ``b`` or an expiring watchdog
    writes the host's own stand-in instead.  Every ``POWER_POLL`` the switch
    looks at each host: its init gone, or a stand-in written, means that
    host's kernel rebooted it now: it is power-cycled (every process of its
    sandbox gone, as after a power cut; a new init and PID namespace, the
    same disks and cables), its stand-ins emptied, and ``on_reset(host,
    how)`` is told (HA's lifecycle says so and boots the host again).
    """

    def __init__(self, ctx, on_reset: typing.Callable[[str, typing.List[str]], None]) -> None:
        self.ctx = ctx
        self.on_reset = on_reset
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="power-switch", daemon=True)

    def start(self) -> "PowerSwitch":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)

    def _run(self) -> None:
        while not self.stopping.wait(POWER_POLL):
            for host, box in sorted(self.ctx.sandboxes.items()):
                try:
                    self.check(host, box)
                except Exception:  # the switch never dies silently
                    LOG.exception("power switch of host %s", host)

    def check(self, host: str, box: hostsandbox.HostSandbox) -> bool:
        """Reset ``host`` if its kernel rebooted it (its init gone, a kernel fence stand-in written); whether it did."""
        with box.power_lock():  # not while HA's lifecycle power-cycles it
            fences = box.kernel_fences()
            if fences:
                how = ["a kernel fence through %s" % ", ".join(fences)]
                stopped = hostsandbox.stop_processes(box)
                box.power_off()
                box.clear_kernel_fences()
            elif not box.powered():
                how = ["reboot(2) in its PID namespace: %s" % box.power_loss()]
                stopped = hostsandbox.stop_processes(box)  # what was in its netns only (parents of commands entered)
            else:
                return False
            box.power_on()
        LOG.warning("host %s (%s): %s: reset and powered on again, %d process(es) stopped%s", host, box.netns,
                    how[0], len(stopped), ": " + ", ".join("%s[%d]" % (c, p) for p, c in stopped) if stopped else "")
        self.on_reset(host, how)
        return True
