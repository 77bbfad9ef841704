"""Starting the shim: lock the state dir, create the pool, listen, scan the sm-dir, reconcile, serve.

One shim serves a state directory at a time: it holds an exclusive
``flock`` on ``STATE/shim.lock`` while it runs (the kernel drops it if the
process dies), and writes where it listens to ``STATE/shim.addr``.  Another
start on the same directory gets StateInUse with that address, so it never
"recovers" operations a live shim has in flight.
"""

import fcntl
import json
import logging
import os
import typing

from sm_clusterstack import hostsandbox, proctree
from sm_clusterstack import atomicfile
from sm_clusterstack.emulation import pool as emulation_pool
from sm_clusterstack.xapi.rpc import context
from sm_clusterstack.xapi.ha import lifecycle
from sm_clusterstack.xapi.ha import monitor as ha_monitor
from sm_clusterstack.xapi import methods, recovery
from sm_clusterstack.xapi.hosts import runs
from sm_clusterstack.xapi.hosts import onhost, sandboxes
from sm_clusterstack.xapi.rpc import server
from sm_clusterstack.xapi.hosts import smscan
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.db import records

LOG = logging.getLogger("sm_clusterstack.xapi")
LOCK_FILE = "shim.lock"
ADDRESS_FILE = "shim.addr"
STOPPED_FILE = "shim.stopped"  # written by a clean stop, taken by the next start: no crash in between


check_state_dir = store_mod.check_state_dir  # before anything is written there (cli/serve.py)
check_password_file = store_mod.check_secret_file


class StateInUse(OSError):
    """The state directory is served by another live shim; ``address`` says where."""

    def __init__(self, state_dir: str, address: typing.Dict[str, typing.Any]) -> None:
        self.address = address
        super(StateInUse, self).__init__("%s is served by another shim (pid %s, %s)" % (
            state_dir, address.get("pid", "?"), address.get("url") or address.get("socket") or "address unknown"))


class Service(object):
    """A running shim: its Pool context, listeners and state-dir lock."""

    def __init__(self, ctx: context.Pool, servers: typing.List[typing.Any], lock_fd: int,
                 sandbox_pool: typing.Any = None,
                 host_servers: typing.Optional[typing.List[typing.Any]] = None,
                 power_switch: typing.Any = None) -> None:
        self.ctx = ctx
        self.servers = servers
        self.lock_fd = lock_fd
        self.sandbox_pool = sandbox_pool
        self.host_servers = list(host_servers or [])
        self.keep_sandboxes = False  # True: stop leaves the hosts up (a one-shot embedded command)
        self.power_switch = power_switch  # sandboxes.PowerSwitch of a sandboxed pool

    @property
    def url(self) -> str:
        """Where drivers and clients reach the pool (TCP preferred)."""
        return self.ctx.xapi_url

    def stop(self) -> None:
        """Stop listening, remove the host sandboxes (what runs in them is stopped), close the store, unlock."""
        if self.ctx.ha_runtime is not None:
            self.ctx.ha_runtime.stop_all()
        if self.power_switch is not None:
            self.power_switch.stop()
            self.power_switch = None
        for srv in self.servers + self.host_servers:
            srv.shutdown()
            srv.server_close()
        if self.sandbox_pool is not None and not self.keep_sandboxes:
            failed = self.sandbox_pool.teardown()
            for problem in failed:
                LOG.error("sandbox teardown: %s", problem)
            self.sandbox_pool = None
            self.ctx.sandboxes.clear()
        self.ctx.store.close()
        if self.lock_fd is not None:
            _remove(os.path.join(self.ctx.state_dir, ADDRESS_FILE))
            atomicfile.write(os.path.join(self.ctx.state_dir, STOPPED_FILE), "stopped cleanly, pid %d\n" % os.getpid(),
                             mode=0o600)
            os.close(self.lock_fd)
            self.lock_fd = None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def lock(state_dir: str) -> int:
    """Take the state dir's lock; its fd (StateInUse if a live shim holds it)."""
    fd = os.open(os.path.join(state_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StateInUse(state_dir, read_address(state_dir))
    return fd


def read_address(state_dir: str) -> typing.Dict[str, typing.Any]:
    """What ``STATE/shim.addr`` says (pid, url, socket); {} if unreadable."""
    try:
        with open(os.path.join(state_dir, ADDRESS_FILE)) as f:
            found = json.load(f)
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _write_address(state_dir: str, servers: typing.List[typing.Any]) -> None:
    address = {"pid": os.getpid(), "url": "", "socket": ""}
    for srv in servers:
        key = "url" if isinstance(srv, server.TCPServer) else "socket"
        address[key] = server.url_of(srv)
    atomicfile.write(os.path.join(state_dir, ADDRESS_FILE), json.dumps(address), mode=0o600)


def start(ctx: context.Pool, hosts: int = 1, port: typing.Optional[int] = None,
          socket_path: typing.Optional[str] = None, sandbox: bool = False, sandbox_prefix: str = "",
          ha_monitor_interval: float = ha_monitor.DEFAULT_INTERVAL, ipv6: bool = False,
          kernel_fences: typing.Sequence[str] = hostsandbox.KERNEL_FENCES,
          emulate_storage: bool = False) -> Service:
    """Lock the state dir, create the pool if new, listen, scan the drivers, reconcile; the Service.

    ``emulate_storage``: the storage tools this kernel cannot serve are emulated (``emulation``), and said so.

    Until the scan and the reconcile are done, the listeners serve only the
    drivers those run (their internal sessions; anyone else gets
    HOST_STILL_BOOTING), and ``shim.addr`` is written only then.  Any
    failure releases the listeners and the lock.
    """
    if port is None and not socket_path:
        raise ValueError("nothing to listen on: give a TCP port or a unix socket path")
    fd = lock(ctx.state_dir)
    _remove(os.path.join(ctx.state_dir, ADDRESS_FILE))  # a dead shim's: we hold the lock now
    clean = os.path.exists(os.path.join(ctx.state_dir, STOPPED_FILE))
    _remove(os.path.join(ctx.state_dir, STOPPED_FILE))  # from here on, an end without stop() is a crash
    servers, host_servers, sandbox_pool, switch = [], [], None, None
    ctx.ready = False
    ctx.ha_runtime = ha_monitor.Runtime(ctx, ha_monitor_interval, on_fenced=lifecycle.reboot_fenced)
    try:
        if context.initialise(ctx.store, hosts):
            LOG.info("created a pool of %d host(s) in %s", hosts, ctx.state_dir)
        if runs.end_orphans(ctx):  # before anything is served, scanned or reconciled
            LOG.warning("ended the runs the previous instance left")
        LOG.info("scripts and drivers: each run's process tree is %s", proctree.mechanism())
        if sandbox:
            sandbox_pool = sandboxes.setup(ctx, _host_count(ctx), sandbox_prefix, ipv6, kernel_fences)
            LOG.info("host sandboxes: %s", " ".join(b.netns for b in sandbox_pool.hosts))
            _say_kernel_fences(sandbox_pool)
            switch = sandboxes.PowerSwitch(
                ctx, lambda host, fences: lifecycle.reset(ctx, ctx.ha_runtime, host, fences)).start()
        _storage_emulation(ctx, emulate_storage)
        methods.load()
        servers = server.start(ctx, port=port, socket_path=socket_path)
        host_servers = sandboxes.listen_on_hosts(ctx, lambda path: server.start(ctx, socket_path=path))
        ctx.xapi_url = server.url_of(servers[0])
        _recover(ctx, clean)
        ctx.ready = True
        lifecycle.restart(ctx, ctx.ha_runtime)  # HA armed: rejoin every host, then monitor (in the background)
        _write_address(ctx.state_dir, servers)
    except BaseException:
        Service(ctx, servers, fd, sandbox_pool, host_servers, switch).stop()
        raise
    return Service(ctx, servers, fd, sandbox_pool, host_servers, switch)


def _say_kernel_fences(pool: hostsandbox.SandboxPool) -> None:
    """Say at start-up which kernel fences a host's stack can use, and that they reach only its power switch."""
    present = [p for p in pool.kernel_fences if os.path.exists(p)]
    missing = [p for p in pool.kernel_fences if p not in present]
    if present:
        LOG.info("host sandboxes: a kernel fence (%s) resets only that host (the shim plays its power switch)",
                 ", ".join(present))
    if missing:
        LOG.info("host sandboxes: this machine has no %s: a stack's fence through it fails in a host as it "
                 "would here (its fence action is then what fences)", ", ".join(missing))
    if not os.path.exists(hostsandbox.SYSRQ):
        # info, not a warning: a host's fence still works (ha status shows it on every host, the stack's "fence"
        # note); an `xe --embedded` command starting the pool would print it on every call
        LOG.info("host sandboxes: this machine has no %s: a stack's kernel fence (corosync-ha's default) is the "
                 "reboot(2) system call, which in a host's own PID namespace ends only that host (its init); "
                 "the shim, its power switch, powers it on again", hostsandbox.SYSRQ)


def _storage_emulation(ctx: context.Pool, emulate: bool) -> None:
    """Emulate what the kernel lacks of the storage tools (each host finds the settings), or nothing; say which.

    The pool's ``other_config`` says it too (``ha status`` shows it), and loses the key when emulation is off.
    """
    ctx.emulation = emulation_pool.prepare(ctx.state_dir) if emulate else None
    said = ctx.emulation.describe() if ctx.emulation is not None else ""
    for ref in sorted(ctx.sandboxes):
        if said:
            onhost.write_file(ctx, ref, emulation_pool.HOST_SETTINGS, emulation_pool.host_settings(ctx.emulation),
                              mode=0o644)
        else:
            _remove(onhost.host_path(ctx, ref, emulation_pool.HOST_SETTINGS))
    key = emulation_pool.OTHER_CONFIG_KEY
    with ctx.store.write() as conn:
        other = store_mod.loads(records.pool_row(conn)["other_config"]) or {}
        if other.get(key, "") != said:
            other.pop(key, None)
            records.set_pool(conn, other_config=dict(other, **({key: said} if said else {})))
    if said:
        LOG.warning("%s", said)


def _host_count(ctx: context.Pool) -> int:
    with ctx.store.read() as conn:
        return records.host_count(conn)


def _recover(ctx: context.Pool, clean: bool) -> None:
    """Scan the sm-dir, then undo what a crash left in flight (``clean``: the last run stopped cleanly)."""
    found = smscan.scan(ctx)
    LOG.info("SM types: %s", " ".join(found) or "none")
    done = recovery.reconcile(ctx)
    if any(done.values()):
        LOG.warning("reconciled %s: %s", "what the last run left unfinished (it stopped cleanly)" if clean
                    else "after a crash", done)
