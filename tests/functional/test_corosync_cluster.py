"""The corosync stack on a real three-node corosync cluster, one network namespace per host.

Three hosts are network namespaces whose veth pairs meet on a bridge in a
fourth namespace; addresses exist only inside them.  Every script runs
per host through ``ip netns exec <ns> env SM_CLUSTERSTACK_COROSYNC_DIR=...``.
The fence action is a recording command (it appends its reason to a file).
Nothing is replaced: corosync, corosync-quorumtool and corosync-cmapctl
are the real ones.
"""

import os
import random
import shutil
import signal
import sys
import time

import pytest

from sm_clusterstack import runner
from sm_clusterstack.corostack import daemon
from sm_clusterstack.stacks import liveset as liveset_mod
from sm_clusterstack.stacks import mtc, xhadconf

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK = os.path.join(REPO, "libexec", "xapi", "cluster-stack", "corosync")
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


def _skip_reason():
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


@pytest.fixture
def cluster(tmp_path):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    built = Cluster(tmp_path)
    try:
        built.build()
        yield built
    finally:
        built.teardown()


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


def test_three_namespace_hosts_form_a_cluster_fence_on_isolation_and_leave_cleanly(cluster):
    h1, h2, h3 = cluster.hosts
    ok(h1.run("ha_set_pool_state", "init", "-C", h1.conf_path))
    for host in cluster.hosts:
        ok(host.run("ha_start_daemon", "-C", host.conf_path))
    for host in cluster.hosts:
        wait_liveset(host, online_with(1, 2, 3), 60)

    assert h1.run("ha_set_pool_state", "init").returncode == mtc.DAEMON_IS_PRESENT
    assert h2.run("ha_start_daemon").returncode == mtc.DAEMON_IS_PRESENT

    answers = [ok(host.run("ha_propose_master")).stdout.strip() for host in cluster.hosts]
    assert sorted(answers) == ["FALSE", "FALSE", "TRUE"]
    master = cluster.hosts[answers.index("TRUE")]
    assert [h.host_id for h in h1.liveset().hosts if h.master] == [master.host_id]

    check_corrupt_statefile_is_reported(cluster)

    cluster.link(h3, up=False)
    timeout = HEARTBEAT_TIMEOUT * 2.2 + MARGIN
    wait_liveset(h1, online_with(1, 2), timeout)
    wait_liveset(h2, online_with(1, 2), timeout)
    wait_liveset(h3, lambda ls: ls.status != "Online", timeout)
    daemon.wait_for(lambda: h3.fences(), timeout)
    assert h3.fences() == ["quorum lost"]

    cluster.link(h3, up=True)
    for host in cluster.hosts:
        wait_liveset(host, online_with(1, 2, 3), 60)

    ok(h2.run("ha_set_excluded"))
    ok(h2.run("ha_stop_daemon"))
    seen = wait_liveset(h1, online_with(1, 3), timeout)
    assert seen.host(h2.host_id).excluded and not seen.host(h1.host_id).excluded
    assert h2.run("ha_query_liveset").returncode == mtc.DAEMON_IS_NOT_PRESENT

    # as xapi disables HA: pool state invalid, then disarm and stop host by host;
    # h1, still armed, loses quorum when h3 stops and must not fence
    ok(h1.run("ha_set_pool_state", "invalid"))
    ok(h3.run("ha_disarm_fencing"))
    ok(h3.run("ha_stop_daemon"))
    wait_liveset(h1, lambda ls: ls.status != "Online", timeout)
    daemon.wait_for(lambda: "not fencing" in h1.monitor_log(), timeout)
    ok(h1.run("ha_stop_daemon"))
    for host in cluster.hosts:
        assert host.run("ha_query_liveset").returncode == mtc.DAEMON_IS_NOT_PRESENT
    assert (h1.fences(), h2.fences(), h3.fences()) == ([], [], ["quorum lost"])


def check_corrupt_statefile_is_reported(cluster):
    """While the cluster runs, a corrupt statefile shows in the liveset and stops propose_master."""
    with open(cluster.statefile, "rb") as f:
        good = f.read()
    with open(cluster.statefile, "r+b") as f:
        f.write(b"garbage")
    try:
        seen = cluster.hosts[0].liveset()
        assert seen.status == "Online" and all(h.statefile_corrupted for h in seen.hosts)
        assert cluster.hosts[1].run("ha_propose_master").returncode == mtc.INVALID_STATE_FILE
    finally:
        with open(cluster.statefile, "wb") as f:
            f.write(good)
    assert not any(h.statefile_corrupted for h in cluster.hosts[0].liveset().hosts)
