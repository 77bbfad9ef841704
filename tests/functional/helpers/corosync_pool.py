"""A pool of sandboxed hosts running the corosync-ha stack exactly as xapi runs it.

Each host is a ``hostsandbox.HostSandbox``: its own network namespace
(eth0 in xenbr0 on the pool's switch) and its own /etc/xensource,
/etc/sm-clusterstack, /run and /var/log.  The stack's scripts run inside
with xapi's environment (PATH only, the stack dir appended, no ``-C``) and
read the host's own /etc/xensource/xhad.conf, written here as xapi writes
it.  The statefile is one file outside the private paths, shared by every
host as the heartbeat SR's VDI would be (or one the caller serves, made
before the sandboxes so that each host's mount namespace holds its mount).

Fencing never reboots anything: each host's settings file names a
recording fence action (this test's executable, which appends the
CLOCK_MONOTONIC time and the reason to a file and exits 0) and no watchdog
device.  That is the one command replaced: the kernel's reboot.
"""

import os
import signal
import sys
import time

from sm_clusterstack import hostsandbox, runner
from sm_clusterstack.corostack import statefile
from sm_clusterstack.stacks import client, xhadconf

from helpers import REPO, sandbox_prefix

STACK_ROOT = os.path.join(REPO, "libexec", "xapi", "cluster-stack")
STACK_INSIDE = os.path.join(hostsandbox.STACK_ROOT_INSIDE, "corosync-ha")
STACK_OWNER = os.stat(REPO).st_uid  # the stack is safe when its owner is the checkout's
XAPI_PATH = os.path.dirname(sys.executable) + ":/usr/sbin:/usr/bin:/sbin:/bin"  # python3 = this interpreter
GENERATION = "5b3f1a9e-7c2d-4e8f-9a0b-1c2d3e4f5a6b"
HOST_IDS = ["8f1c2a34-0000-4000-8000-0000000000%02d" % i for i in range(1, 65)]
T = 10  # HeartbeatTimeout: xapi's smallest t

RECORDER = """#!%s
import os, sys, time
with open(sys.argv[1], "a") as f:
    f.write("%%.3f %%s\\n" %% (time.monotonic(), os.environ.get("SM_CLUSTERSTACK_FENCE_REASON", "?")))
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
"""


def skip_reason():
    """Why sandboxed hosts cannot run here, or None."""
    if os.geteuid() != 0:
        return "host sandboxes need root"
    if runner.run(["sh", "-c", "command -v corosync || test -x /usr/sbin/corosync"], timeout=10).returncode:
        return "corosync is not installed"
    return None


class Host(object):
    """One sandboxed host of the pool."""

    def __init__(self, pool, box, index):
        self.pool, self.box, self.index = pool, box, index
        self.host_id = HOST_IDS[index]
        self.fence_log = str(pool.tmp / ("fence-h%d.log" % (index + 1)))
        self.stack = client.StackClient(os.path.join(STACK_ROOT, "corosync-ha"), run=box.run,
                                        host="h%d" % (index + 1), path_inside=STACK_INSIDE, env={"PATH": XAPI_PATH},
                                        owner_uid=STACK_OWNER)

    def run(self, script, *args, timeout=120):
        """Run one stack script as xapi does; the Result, whatever the exit."""
        return self.stack.result(script, args, timeout=timeout)

    def liveset(self):
        """The parsed liveset, or None when the query fails."""
        result = self.run(client.HA_QUERY_LIVESET, timeout=30)
        return client.read_liveset(result, self.stack.host) if result.ok else None

    def write_settings(self, fence_exit=0, escalation_exit=0, extra=""):
        """The host's /etc/sm-clusterstack/corosync-ha.conf with the recording fence actions."""
        with open(self.box.path("/etc/sm-clusterstack/corosync-ha.conf"), "w") as f:
            f.write("# written by the test: a recording fence action, never a reboot\n"
                    "fence-action = \"%s %s %d\"\nfence-escalation = \"%s %s.escalated %d\"\n"
                    "watchdog-device = none\n%s"
                    % (self.pool.recorder, self.fence_log, fence_exit, self.pool.recorder, self.fence_log,
                       escalation_exit, extra))

    def fences(self, escalated=False):
        """(monotonic time, reason) of each fence action run, in order."""
        try:
            with open(self.fence_log + (".escalated" if escalated else "")) as f:
                return [(float(line.split(" ", 1)[0]), line.split(" ", 1)[1].strip()) for line in f]
        except FileNotFoundError:
            return []

    def log(self):
        """The stack's log file on this host."""
        try:
            with open(self.box.path("/var/log/sm-clusterstack/corosync-ha.log")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def pid(self, name):
        """The machine's pid of the process the runtime dir's ``name``.pid names (a pid of the host's own PID
        namespace), or None."""
        try:
            with open(self.box.path("/run/sm-clusterstack/corosync-ha/%s.pid" % name)) as f:
                return self.box.machine_pid(int(f.read().strip()))
        except (OSError, ValueError):
            return None

    def signal(self, name, signum):
        """Send ``signum`` to this host's corosync, monitor or guard."""
        os.kill(self.pid(name), signum)

    def freeze(self, signum, pids=None):
        """Send ``signum`` (SIGSTOP, SIGCONT) to every process of this host's namespaces (or ``pids``); the pids."""
        pids = self.box.pids() if pids is None else pids
        for pid in pids:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        return pids


class CorosyncPool(object):
    """``n`` sandboxed hosts sharing one statefile; ``teardown`` removes everything."""

    def __init__(self, tmp, n, t=T, prefix="s12", statefile_path=None):
        self.tmp = tmp
        self.t = t
        self.prefix = sandbox_prefix(prefix)
        self.statefile = statefile_path or str(tmp / "statefile")
        self.recorder = str(tmp / "record-fence")
        with open(self.recorder, "w") as f:
            f.write(RECORDER % sys.executable)
        os.chmod(self.recorder, 0o755)
        if statefile_path is None:  # else one the caller serves, already statefile.SIZE bytes
            with open(self.statefile, "wb") as f:
                f.truncate(statefile.SIZE)
        self.sandbox = hostsandbox.SandboxPool.create(str(tmp / "state"), n, self.prefix, STACK_ROOT)
        self.hosts = [Host(self, box, i) for i, box in enumerate(self.sandbox.hosts)]
        for host in self.hosts:
            self.write_conf(host)
            host.write_settings()

    def write_conf(self, host, **params):
        """The host's /etc/xensource/xhad.conf as xapi writes it (Timeouts.derive t)."""
        parameters = xhadconf.derive_timeouts(self.t)
        parameters.update(params)
        conf = xhadconf.XhadConfig(
            GENERATION, [xhadconf.Host(h.host_id, h.box.address) for h in self.hosts], host.host_id,
            self.statefile, udp_port=694, parameters=parameters, heartbeat_interface=host.box.bridge,
            heartbeat_physical_interface=host.box.device)
        with open(host.box.path("/etc/xensource/xhad.conf"), "wb") as f:
            f.write(conf.to_xml())

    def split(self, *groups):
        """Put each group of hosts (indexes) on a switch of its own: a split with every link up."""
        ip = ["ip", "-n", self.sandbox.switch]
        for number, group in enumerate(groups):
            bridge = "switch" if number == 0 else "s12part%d" % number
            if number:
                must(ip + ["link", "add", bridge, "type", "bridge"])
                must(ip + ["link", "set", bridge, "up"])
            for index in group:
                must(ip + ["link", "set", self.hosts[index].box.switch_port, "master", bridge])

    def start_all(self):
        """ha_set_pool_state init on the first host, then ha_start_daemon on every host at once."""
        ok(self.hosts[0].run("ha_set_pool_state", "init"))
        return parallel([lambda h=h: h.run("ha_start_daemon") for h in self.hosts])

    def teardown(self):
        """Stop what runs in the sandboxes and remove them."""
        for host in self.hosts:
            for name in ("guard", "monitor", "corosync"):
                pid = host.pid(name)
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
        assert self.sandbox.teardown() == []


def must(argv):
    result = runner.run(argv, timeout=30)
    assert result.ok, result.describe()


def ok(result):
    assert result.returncode == 0, "%s: %s" % (result.describe(), result.stderr)
    return result


def parallel(calls):
    """Run ``calls`` in threads; their results in order."""
    import threading
    results = [None] * len(calls)

    def one(i):
        results[i] = calls[i]()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def wait_for(probe, timeout, interval=0.2):
    """Poll ``probe`` until it returns a true value; that value (AssertionError at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s" % timeout)
        time.sleep(interval)
