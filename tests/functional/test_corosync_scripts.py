"""The corosync stack's scripts as processes: bad input gives the documented exit code.

No daemon is started here (see test_corosync_cluster.py for that); the
real corosync parses the configurations we generate.
"""

import os
import sys
import time

import pytest

from sm_clusterstack import runner, stacks
from sm_clusterstack.corostack import conf as coroconf
from sm_clusterstack.corostack import daemon, statefile
from sm_clusterstack.stacks import mtc, xhadconf

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROOT = os.path.join(REPO, "libexec", "xapi", "cluster-stack")
STACK = os.path.join(ROOT, "corosync-ha")
GEN = "5b3f1a9e-7c2d-4e8f-9a0b-1c2d3e4f5a6b"
HOSTS = ["8f1c2a34-0000-4000-8000-00000000000%d" % i for i in (1, 2, 3)]
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

needs_corosync = pytest.mark.skipif(
    runner.run(["sh", "-c", "PATH=$PATH:" + SYSTEM_PATH + " command -v corosync"], timeout=10).returncode != 0,
    reason="corosync is not installed")


class Host(object):
    """One host's runtime dir, xhad.conf and statefile in tmp_path."""

    def __init__(self, tmp_path, **params):
        self.dir = str(tmp_path / "run")
        self.conf_path = str(tmp_path / "xhad.conf")
        self.statefile = str(tmp_path / "statefile")
        with open(self.statefile, "wb") as f:
            f.truncate(8192)
        self.write_conf(**params)

    def write_conf(self, generation=GEN, **params):
        hosts = [xhadconf.Host(h, "10.213.250.%d" % i) for i, h in enumerate(HOSTS, 1)]
        conf = xhadconf.XhadConfig(generation, hosts, HOSTS[0], self.statefile, parameters=params)
        with open(self.conf_path, "wb") as f:
            f.write(conf.to_xml())

    def run(self, script, *args, **env_items):
        env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
                   SM_CLUSTERSTACK_COROSYNC_DIR=self.dir, SM_CLUSTERSTACK_FENCE_ACTION="true")
        env.update(env_items)
        return runner.run([os.path.join(STACK, script)] + list(args), timeout=60, env=env)

    def code(self, script, *args, **env_items):
        result = self.run(script, *args, **env_items)
        assert "Traceback" not in result.stderr
        assert result.returncode == 0 or result.stderr.strip(), "a failure must say why on stderr"
        return result.returncode


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


def test_stack_is_complete_and_safe_with_ocfs2_statefiles():
    info = stacks.describe(ROOT, "corosync", owner_uid=os.stat(STACK).st_uid)
    assert (info.missing, info.problems, info.supported_srs) == ([], [], ["ocfs2"])


@needs_corosync
@pytest.mark.parametrize("script, args", [
    ("ha_query_liveset", ["extra"]), ("ha_set_pool_state", ["bogus"]), ("ha_set_pool_state", []),
    ("ha_stop_daemon", ["-C"]), ("ha_start_daemon", ["-C"]), ("ha_propose_master", ["-C", "/x"]),
])
def test_bad_arguments_are_invalid_parameter(host, script, args):
    assert host.code(script, *args) == mtc.INVALID_PARAMETER


@needs_corosync
def test_unreadable_config_is_can_not_read_config_file(host, tmp_path):
    absent = str(tmp_path / "absent.conf")
    assert host.code("ha_set_pool_state", "init", "-C", absent) == mtc.CAN_NOT_READ_CONFIG_FILE


@needs_corosync
@pytest.mark.parametrize("content", [b"not xml", b"<xhad-config/>", b"<!DOCTYPE x><xhad-config/>"])
def test_invalid_config_is_invalid_config_file(host, content):
    with open(host.conf_path, "wb") as f:
        f.write(content)
    assert host.code("ha_set_pool_state", "init", "-C", host.conf_path) == mtc.INVALID_CONFIG_FILE


@needs_corosync
def test_host_whose_address_is_not_local_cannot_start(host):
    assert host.code("ha_set_pool_state", "init", "-C", host.conf_path) == 0
    result = host.run("ha_start_daemon")
    assert result.returncode == mtc.INVALID_CONFIG_FILE and "No valid name found for local host" in result.stderr
    assert host.code("ha_query_liveset") == mtc.DAEMON_IS_NOT_PRESENT


@needs_corosync
def test_out_of_range_heartbeat_timeout_is_invalid_config_file(host):
    host.write_conf(HeartbeatTimeout=0)
    assert host.code("ha_set_pool_state", "init", "-C", host.conf_path) == 0
    assert host.code("ha_start_daemon", "-C", host.conf_path) == mtc.INVALID_CONFIG_FILE


@needs_corosync
def test_without_daemon_query_and_propose_exit_daemon_is_not_present(host):
    assert host.code("ha_query_liveset") == mtc.DAEMON_IS_NOT_PRESENT
    assert host.code("ha_propose_master") == mtc.DAEMON_IS_NOT_PRESENT


@needs_corosync
def test_stop_and_disarm_succeed_when_nothing_runs(host):
    assert (host.code("ha_stop_daemon"), host.code("ha_disarm_fencing")) == (0, 0)


@needs_corosync
def test_start_on_blank_statefile_is_invalid_pool_state(host):
    assert host.code("ha_start_daemon", "-C", host.conf_path) == mtc.INVALID_POOL_STATE


@needs_corosync
def test_start_on_invalid_pool_state_is_refused(host):
    assert host.code("ha_set_pool_state", "init", "-C", host.conf_path) == 0
    assert host.code("ha_set_pool_state", "invalid") == 0
    assert host.code("ha_start_daemon") == mtc.INVALID_POOL_STATE


@needs_corosync
def test_corrupt_statefile_is_invalid_state_file(host):
    with open(host.statefile, "r+b") as f:
        f.write(b"SMCS-STATEFILE 1 3 0000\nabc")
    assert host.code("ha_set_pool_state", "active", "-C", host.conf_path) == mtc.INVALID_STATE_FILE
    assert host.code("ha_start_daemon") == mtc.INVALID_STATE_FILE
    assert host.code("ha_set_excluded") == mtc.INVALID_STATE_FILE


@needs_corosync
def test_missing_statefile_is_can_not_access_statefile(host):
    os.unlink(host.statefile)
    assert host.code("ha_set_pool_state", "active", "-C", host.conf_path) == mtc.CAN_NOT_ACCESS_STATEFILE


@needs_corosync
def test_statefile_of_another_generation_is_generation_uuid_mismatch(host):
    assert host.code("ha_set_pool_state", "init", "-C", host.conf_path) == 0
    host.write_conf(generation="0b3f1a9e-7c2d-4e8f-9a0b-1c2d3e4f5a6b")
    assert host.code("ha_start_daemon") == mtc.GENERATION_UUID_MISMATCH


@needs_corosync
def test_excluded_host_start_is_boot_blocked_until_cleared(host):
    assert host.code("ha_set_pool_state", "init", "-C", host.conf_path) == 0
    assert host.code("ha_set_excluded") == 0
    assert statefile.read(host.statefile).excluded == [HOSTS[0]]
    assert host.code("ha_start_daemon") == mtc.BOOT_BLOCKED_BY_EXCLUDED
    assert host.code("ha_clear_excluded") == 0
    assert statefile.read(host.statefile).excluded == []


@needs_corosync
def test_scripts_without_c_use_the_config_the_last_c_named(host):
    assert host.code("ha_set_pool_state", "init", "-C", host.conf_path) == 0
    assert host.code("ha_set_pool_state", "active") == 0
    assert statefile.read(host.statefile).pool_state == "active"


@needs_corosync
def test_without_any_config_reads_the_default_path(host):
    if os.path.exists(xhadconf.DEFAULT_PATH):
        pytest.skip("%s exists on this machine" % xhadconf.DEFAULT_PATH)
    result = host.run("ha_set_pool_state", "init")
    assert result.returncode == mtc.CAN_NOT_READ_CONFIG_FILE and xhadconf.DEFAULT_PATH in result.stderr


@needs_corosync
def test_runtime_dir_with_unsafe_characters_is_invalid_environment(host):
    assert host.code("ha_stop_daemon", SM_CLUSTERSTACK_COROSYNC_DIR="/tmp/a b") == mtc.INVALID_ENVIRONMENT


@needs_corosync
def test_unsplittable_fence_action_is_invalid_environment(host):
    assert host.code("ha_set_pool_state", "init", "-C", host.conf_path) == 0
    assert host.code("ha_start_daemon", SM_CLUSTERSTACK_FENCE_ACTION="'unclosed") == mtc.INVALID_ENVIRONMENT


def test_absent_engine_is_invalid_environment(host):
    """corosync is hidden by an empty tmpfs over /usr/sbin in a private mount namespace."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount over /usr/sbin in a private mount namespace")
    script = os.path.join(STACK, "ha_query_liveset")
    result = runner.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                         'mount -t tmpfs none /usr/sbin && PATH="$1":/usr/bin:/bin exec "$2"', "sh",
                         os.path.dirname(sys.executable), script], timeout=60,
                        env=dict(os.environ, SM_CLUSTERSTACK_COROSYNC_DIR=host.dir))
    assert result.returncode == mtc.INVALID_ENVIRONMENT, result.stderr
    assert "corosync is not installed" in result.stderr


@needs_corosync
@pytest.mark.parametrize("n_hosts, params", [
    (1, {}), (2, {}), (3, {"HeartbeatTimeout": 1}), (64, {"HeartbeatTimeout": 30})])
def test_corosync_accepts_the_generated_configuration(tmp_path, n_hosts, params):
    """The local host is on 127.0.0.1: corosync -t insists on finding itself in the nodelist."""
    hosts = [xhadconf.Host("8f1c2a34-0000-4000-8000-%012d" % i, "10.213.%d.%d" % (i // 200, i % 200 + 1))
             for i in range(n_hosts)]
    hosts[0] = xhadconf.Host(hosts[0].host_id, "127.0.0.1")
    conf = xhadconf.XhadConfig(GEN, hosts, hosts[0].host_id, "/dev/x", udp_port=50000, parameters=params)
    path = tmp_path / "corosync.conf"
    path.write_text(coroconf.render(conf, str(tmp_path), "xapi"))
    (tmp_path / "state").mkdir()
    result = runner.run(["corosync", "-t", "-c", str(path)], timeout=30,
                        env=dict(os.environ, PATH=os.environ.get("PATH", "") + ":" + SYSTEM_PATH))
    assert result.ok, result.stderr + result.stdout


@needs_corosync
def test_start_refused_while_a_foreign_corosync_answers_in_the_namespace(host, tmp_path):
    """A corosync started by hand (as corosync.service would) in a private network namespace."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a network namespace")
    ns = "smcs-foreign-%d" % os.getpid()
    assert runner.run(["ip", "netns", "add", ns], timeout=30).ok
    foreign = daemon.Paths(str(tmp_path / "foreign"))
    try:
        runner.run(["ip", "-n", ns, "link", "set", "lo", "up"], timeout=30)
        hosts = [xhadconf.Host(HOSTS[0], "127.0.0.1")]
        conf = xhadconf.XhadConfig(GEN, hosts, HOSTS[0], host.statefile)
        foreign.make()
        with open(foreign.corosync_conf, "w") as f:
            f.write(coroconf.render(conf, foreign.dir, "xapi"))
        started = runner.run(["ip", "netns", "exec", ns, sys.executable, "-c",
                              "from sm_clusterstack.corostack import daemon; "
                              "daemon.start_corosync(daemon.Paths(%r))" % foreign.dir], timeout=60)
        assert started.ok, started.stderr
        # "runs" is not "answers": wait until the foreign corosync serves its IPC, as a running service would
        deadline = time.monotonic() + 30
        while not runner.run(["ip", "netns", "exec", ns, "corosync-quorumtool", "-s"], timeout=10).stdout \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert host.code("ha_set_pool_state", "init", "-C", host.conf_path) == 0
        result = runner.run(["ip", "netns", "exec", ns, os.path.join(STACK, "ha_start_daemon")], timeout=60,
                            env=dict(os.environ, SM_CLUSTERSTACK_COROSYNC_DIR=host.dir,
                                     PATH=os.path.dirname(sys.executable) + ":" + os.environ["PATH"]))
        assert result.returncode == mtc.INVALID_ENVIRONMENT and "did not start" in result.stderr
    finally:
        daemon.stop_process(lambda: daemon.corosync_pid(foreign), 15)
        runner.run(["ip", "netns", "del", ns], timeout=30)
