"""A three-host corosync cluster of network namespaces for the functional tests.

Each host is a network namespace with a veth pair to a bridge in a namespace
of its own; addresses exist only inside those namespaces.  The fixture
``cluster`` (tests/functional/conftest.py) builds it and tears it down,
namespaces and daemons, even when a test fails.
"""

import os
import random
import shutil
import signal
import sys
import time

from sm_clusterstack import runner
from sm_clusterstack.corostack import daemon
from sm_clusterstack.stacks import liveset as liveset_mod
from sm_clusterstack.stacks import xhadconf

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK = os.path.join(REPO, "libexec", "xapi", "cluster-stack", "corosync-ha")
HEARTBEAT_TIMEOUT = 2  # seconds: the totem token of the test cluster
MARGIN = 20.0  # seconds beyond token + consensus for a membership change to show
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
HOST_IDS = ["8f1c2a34-0000-4000-8000-00000000000%d" % i for i in (1, 2, 3)]
GENERATION = "5b3f1a9e-7c2d-4e8f-9a0b-1c2d3e4f5a6b"

RECORDER = """#!%s
import os, sys
with open(sys.argv[1], "a") as f:
    f.write(os.environ.get("SM_CLUSTERSTACK_FENCE_REASON", "?") + "\\n")
"""


def _ip(*args, check=True):
    result = runner.run(["ip"] + list(args), timeout=30)
    if check and not result.ok:
        raise AssertionError("ip %s: %s" % (" ".join(args), result.describe()))
    return result


def skip_reason():
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip", path=os.environ.get("PATH", "") + ":" + SYSTEM_PATH) is None:
        return "ip (iproute2) is not installed"
    if not runner.run(["ip", "netns", "list"], timeout=10).ok:
        return "ip netns is unavailable here"
    return None


class Host(object):
    """One namespace host: its netns, runtime dir, xhad.conf and fence record."""

    def __init__(self, cluster, index):
        self.index = index
        self.ns = "smcs-h%d-%s" % (index, cluster.suffix)
        self.veth = "smv%d%s" % (index, cluster.suffix)
        self.host_id = HOST_IDS[index - 1]
        self.address = "%s.%d" % (cluster.subnet, index)
        self.dir = str(cluster.tmp / ("h%d" % index))
        self.conf_path = str(cluster.tmp / ("xhad-h%d.conf" % index))
        self.fence_log = str(cluster.tmp / ("fence-h%d.log" % index))
        self.cluster = cluster

    def run(self, script, *args):
        """Run one stack script in this host's namespace; the Result."""
        argv = ["ip", "netns", "exec", self.ns, "env", "SM_CLUSTERSTACK_COROSYNC_DIR=" + self.dir,
                "SM_CLUSTERSTACK_FENCE_ACTION=%s %s" % (self.cluster.recorder, self.fence_log),
                os.path.join(STACK, script)] + list(args)
        return runner.run(argv, timeout=120, env=self.cluster.env)

    def liveset(self):
        """The parsed liveset, or None when the query fails."""
        result = self.run("ha_query_liveset")
        return liveset_mod.parse(result.stdout.encode()) if result.ok else None

    def monitor_log(self):
        """What the fence monitor logged."""
        try:
            with open(daemon.Paths(self.dir).monitor_log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def fences(self):
        """The reasons the fence action was run with, in order."""
        try:
            with open(self.fence_log) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []


class Cluster(object):
    """Namespaces, bridge and per-host files; ``teardown`` undoes it all."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.suffix = "%06x" % random.getrandbits(24)
        self.subnet = "10.213.%d" % random.randint(1, 254)
        self.bridge_ns = "smcs-br-%s" % self.suffix
        self.statefile = str(tmp / "statefile")
        self.recorder = str(tmp / "record-fence")
        self.env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep
                        + os.environ.get("PATH", "") + os.pathsep + SYSTEM_PATH)
        self.hosts = [Host(self, i) for i in (1, 2, 3)]

    def build(self):
        """Create the namespaces, links, addresses and files."""
        _ip("netns", "add", self.bridge_ns)
        _ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.bridge_ns, "link", "set", "br0", "up")
        for host in self.hosts:
            _ip("netns", "add", host.ns)
            _ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.ns)
            _ip("link", "set", host.veth, "netns", self.bridge_ns)
            _ip("-n", self.bridge_ns, "link", "set", host.veth, "master", "br0", "up")
            _ip("-n", host.ns, "addr", "add", host.address + "/24", "dev", "eth0")
            _ip("-n", host.ns, "link", "set", "eth0", "up")
            _ip("-n", host.ns, "link", "set", "lo", "up")
            self.write_conf(host)
        with open(self.statefile, "wb") as f:
            f.truncate(4096 + 64 * 4096)
        with open(self.recorder, "w") as f:
            f.write(RECORDER % sys.executable)
        os.chmod(self.recorder, 0o755)

    def write_conf(self, host):
        conf = xhadconf.XhadConfig(
            GENERATION, [xhadconf.Host(h.host_id, h.address) for h in self.hosts], host.host_id,
            self.statefile, udp_port=49154, parameters={"HeartbeatTimeout": HEARTBEAT_TIMEOUT})
        with open(host.conf_path, "wb") as f:
            f.write(conf.to_xml())

    def link(self, host, up):
        """Connect or cut ``host``'s link to the bridge."""
        _ip("-n", self.bridge_ns, "link", "set", host.veth, "up" if up else "down")

    def teardown(self):
        """Kill every monitor and corosync we started, then delete the namespaces."""
        for host in self.hosts:
            paths = daemon.Paths(host.dir)
            for pid in (daemon.monitor_pid(paths), daemon.corosync_pid(paths)):
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
        for host in self.hosts:
            daemon.wait_for(lambda: daemon.corosync_pid(daemon.Paths(host.dir)) is None, 10)
            _ip("netns", "del", host.ns, check=False)
        _ip("netns", "del", self.bridge_ns, check=False)


def wait_liveset(host, predicate, timeout):
    """Poll ``host``'s liveset until ``predicate`` holds; the last liveset seen."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = host.liveset()
        if seen is not None and predicate(seen):
            return seen
        time.sleep(0.3)
    raise AssertionError("host %d: liveset never matched; last: %r" % (
        host.index, seen and [(h.host_id[-1], h.liveness, h.excluded) for h in seen.hosts]))


def live(ls):
    return sorted(h[-1] for h in ls.live_hosts())


def online_with(*indexes):
    want = sorted(str(i) for i in indexes)
    return lambda ls: ls.status == "Online" and live(ls) == want


def ok(result):
    assert result.returncode == 0, result.describe() + result.stderr
    return result
