"""corosync-ha's scripts given bad input on a sandboxed host: one line on stderr, xhad's code, nothing started.

The host is a host sandbox (corosync_pool) and the scripts run as xapi
runs them: PATH only, no ``-C``, the host's own /etc/xensource/xhad.conf
and /etc/sm-clusterstack/corosync-ha.conf.
"""

import os
import re

import pytest

from helpers import corosync_pool
from helpers.corosync_pool import CorosyncPool, ok
from sm_clusterstack import stacks
from sm_clusterstack.corostack import hostslot, statefile
from sm_clusterstack.stacks import mtc

pytestmark = [pytest.mark.skipif(corosync_pool.skip_reason() is not None, reason=str(corosync_pool.skip_reason())),
              pytest.mark.slow(1)]


@pytest.fixture(scope="module")
def one(tmp_path_factory):
    pool = CorosyncPool(tmp_path_factory.mktemp("one"), 1)
    yield pool
    pool.teardown()


@pytest.fixture
def host(one):
    """The host with its good settings, xhad.conf and a fresh statefile, nothing running."""
    h = one.hosts[0]
    ok(h.run("ha_stop_daemon"))
    h.write_settings()
    one.write_conf(h)
    with open(one.statefile, "wb") as f:
        f.truncate(statefile.SIZE)
    ok(h.run("ha_set_pool_state", "init"))
    yield h
    h.write_settings()
    ok(h.run("ha_stop_daemon"))


def refused(host, script, code, *args, says=""):
    """``script`` exits ``code`` with one line on stderr (saying ``says``) and leaves nothing running."""
    result = host.run(script, *args)
    assert result.returncode == code, (result.returncode, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    assert says in result.stderr
    assert host.box.pids() == []


def xhad_conf(host):
    return host.box.path("/etc/xensource/xhad.conf")


def test_the_stack_is_complete_and_keeps_its_statefile_on_ocfs2():
    found = stacks.describe(corosync_pool.STACK_ROOT, "corosync-ha", os.stat(corosync_pool.REPO).st_uid)
    assert (found.missing, found.problems, found.supported_srs) == ([], [], ["ocfs2"])


@pytest.mark.parametrize("script,args", [("ha_set_pool_state", ["bogus"]), ("ha_set_pool_state", []),
                                         ("ha_query_liveset", ["extra"]), ("ha_start_daemon", ["-C"])])
def test_bad_arguments_are_invalid_parameter(host, script, args):
    refused(host, script, mtc.INVALID_PARAMETER, *args)


def test_a_missing_xhad_conf_is_can_not_read_config_file(host):
    os.unlink(xhad_conf(host))
    refused(host, "ha_start_daemon", mtc.CAN_NOT_READ_CONFIG_FILE, says="/etc/xensource/xhad.conf")


@pytest.mark.parametrize("pattern,new", [
    (r"</xhad-config>", ""),  # not XML
    (r"<StateFile>[^<]*</StateFile>", ""),  # partial
    (r"<local-config>.*</local-config>", ""),
    (r"<GenerationUUID>[^<]*</GenerationUUID>", "<GenerationUUID>nope</GenerationUUID>"),
    (r"<UDPport>[^<]*</UDPport>", "<UDPport>99999</UDPport>"),
])
def test_a_malformed_or_partial_xhad_conf_is_invalid_config_file(host, pattern, new):
    with open(xhad_conf(host)) as f:
        text, count = re.subn(pattern, new, f.read(), count=1, flags=re.S)
    assert count == 1
    with open(xhad_conf(host), "w") as f:
        f.write(text)
    refused(host, "ha_start_daemon", mtc.INVALID_CONFIG_FILE)


def test_unknown_xhad_conf_parameters_are_ignored(host):
    with open(xhad_conf(host)) as f:
        text = f.read()
    with open(xhad_conf(host), "w") as f:
        f.write(text.replace("<parameters>", "<parameters><SomethingNew>7</SomethingNew>"))
    ok(host.run("ha_start_daemon"))


@pytest.mark.parametrize("size", [0, 4096, statefile.SIZE - 4096])
def test_a_statefile_of_the_wrong_size_is_invalid_state_file(host, size):
    with open(host.pool.statefile, "r+b") as f:
        f.truncate(size)
    refused(host, "ha_start_daemon", mtc.INVALID_STATE_FILE, says="at least 266240")


def test_a_corrupt_statefile_is_invalid_state_file(host):
    with open(host.pool.statefile, "r+b") as f:
        f.write(b"garbage")
    refused(host, "ha_start_daemon", mtc.INVALID_STATE_FILE)


def test_a_format_1_statefile_is_refused_at_start_and_init_rewrites_it(host):
    """As xhad's sf_readglobal (MTC_ERROR_SF_VERSION_MISMATCH, exit 9) and writestatefile setinit."""
    with open(host.pool.statefile, "r+b") as f:
        f.write(b'SMCS-STATEFILE 1 12 0123\n{"a": 1}')
    refused(host, "ha_start_daemon", mtc.INVALID_STATE_FILE, says="format 1")
    ok(host.run("ha_set_pool_state", "init"))
    assert statefile.read(host.pool.statefile).pool_state == "init"


def test_an_unreadable_statefile_is_can_not_access_statefile(host):
    os.unlink(host.pool.statefile)
    refused(host, "ha_start_daemon", mtc.CAN_NOT_ACCESS_STATEFILE)
    refused(host, "ha_set_pool_state", mtc.CAN_NOT_ACCESS_STATEFILE, "init")  # never created by the stack
    assert not os.path.exists(host.pool.statefile)


def test_a_blank_statefile_is_invalid_pool_state_and_another_generation_a_mismatch(host):
    with open(host.pool.statefile, "r+b") as f:
        f.write(b"\0" * statefile.BLOCK)
    refused(host, "ha_start_daemon", mtc.INVALID_POOL_STATE)
    statefile.initialise(host.pool.statefile, statefile.PoolState("00000000-0000-4000-8000-000000000000"))
    refused(host, "ha_start_daemon", mtc.GENERATION_UUID_MISMATCH)


def test_pool_state_invalid_refuses_start(host):
    ok(host.run("ha_set_pool_state", "invalid"))
    refused(host, "ha_start_daemon", mtc.INVALID_POOL_STATE)


@pytest.mark.parametrize("line,says", [
    ("fence-action = \"/bin/true 'open\"", "corosync-ha.conf:2: fence-action: cannot split"),
    ("fence-attempts = many", "corosync-ha.conf:2: fence-attempts"),
    ("runtime-dir = relative", "corosync-ha.conf:2: runtime-dir"),
    ("fencing = off", "corosync-ha.conf:2: unknown setting 'fencing'"),
])
def test_bad_settings_are_invalid_environment_naming_file_and_line(host, line, says):
    with open(host.box.path("/etc/sm-clusterstack/corosync-ha.conf"), "w") as f:
        f.write("# bad\n%s\n" % line)
    refused(host, "ha_start_daemon", mtc.INVALID_ENVIRONMENT, says=says)
    refused(host, "ha_query_liveset", mtc.INVALID_ENVIRONMENT, says=says)


def test_a_second_start_or_init_while_running_is_daemon_is_present(host):
    ok(host.run("ha_start_daemon"))
    assert host.run("ha_start_daemon").returncode == mtc.DAEMON_IS_PRESENT
    assert host.run("ha_set_pool_state", "init").returncode == mtc.DAEMON_IS_PRESENT
    ok(host.run("ha_set_pool_state", "active"))  # through the daemon's statefile, as xhad does


def test_a_second_corosync_in_the_namespace_is_invalid_environment(host):
    """A corosync started by hand in the host's namespace, as corosync.service would."""
    conf = host.box.path("/run/foreign-corosync.conf")
    ok(host.run("ha_start_daemon"))
    with open(host.box.path("/run/sm-clusterstack/corosync-ha/corosync.conf")) as f:
        text = f.read()
    ok(host.run("ha_stop_daemon"))
    with open(conf, "w") as f:
        f.write(text.replace("/run/sm-clusterstack/corosync-ha/state", "/run"))
    env = {"PATH": corosync_pool.XAPI_PATH}
    ok(host.box.run(["corosync", "-c", "/run/foreign-corosync.conf"], 30, env=env))
    corosync_pool.wait_for(lambda: host.box.run(["corosync-quorumtool", "-s"], 10, env=env).stdout, 30)
    result = host.run("ha_start_daemon")
    assert result.returncode == mtc.INVALID_ENVIRONMENT and "did not start" in result.stderr
    pids = host.box.pids()
    assert len(pids) == 1  # the foreign corosync only
    os.kill(pids[0], 9)


def test_slots_of_a_running_host_move_in_the_statefile(host):
    ok(host.run("ha_start_daemon"))
    conf = corosync_pool.xhadconf.load(xhad_conf(host))
    seqs = []
    for _ in range(2):
        with statefile.opened(host.pool.statefile) as fd:
            seqs.append(hostslot.read_all(fd, conf)[host.host_id].seq)
        corosync_pool.time.sleep(0.6)
    assert seqs[1] > seqs[0]
