"""``sm-clusterstack xe``: xe-style commands on the embedded pool and against `serve`.

Drivers and stacks are the fixture doubles of shim_helpers.
"""

import os
import subprocess
import sys

import pytest

from shim_helpers import Pool, SR_SIZE
from sm_clusterstack import hostsandbox


@pytest.fixture
def pool(tmp_path):
    p = Pool(tmp_path, hosts=2)
    yield p
    # the embedded pool's host sandboxes outlive each xe command, as hosts do; remove them
    assert hostsandbox.SandboxPool.remove(os.path.join(p.tmp, "embedded")) == []


def xe(pool, *args, server=None):
    argv = [sys.executable, "-m", "sm_clusterstack.cli", "xe"]
    if server:
        argv += ["--server", server, "--password-file", pool.server.password_file]
    else:
        argv += ["--state", os.path.join(pool.tmp, "embedded"), "--sm-dir", pool.sm_dir,
                 "--cluster-stack-root", pool.root, "--hosts", "2", "--xapi-conf", os.devnull]
    proc = subprocess.run(argv + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def test_embedded_pool_reproduces_the_designs_errors(pool):
    rc, out, _ = xe(pool, "sm-list", "type=ocfs2")
    assert rc == 0 and "required-cluster-stack ( RO): corosync" in out and "melio" not in out
    rc, lvm, _ = xe(pool, "sr-create", "type=lvm", "name-label=hb", "shared=true", "device-config:device=/dev/b",
                    "physical-size=%d" % SR_SIZE)
    assert rc == 0 and len(lvm.strip()) == 36
    rc, ocfs2, _ = xe(pool, "sr-create", "type=ocfs2", "name-label=o", "shared=true")
    assert rc == 0
    assert xe(pool, "pool-ha-enable", "heartbeat-sr-uuids=" + lvm.strip(), "cluster-stack=foo")[1:] == (
        "", "Error code: UNKNOWN_CLUSTER_STACK\nError parameters: foo\n")
    rc, _, err = xe(pool, "pool-ha-enable", "heartbeat-sr-uuids=" + lvm.strip(), "cluster-stack=xhad")
    assert rc == 1 and err.startswith("Error code: CLUSTER_STACK_CONSTRAINT\nError parameters: OpaqueRef:")
    assert err.endswith(", corosync\n")
    assert xe(pool, "sr-create", "type=melio", "shared=true") == (
        1, "", "Error code: INCOMPATIBLE_CLUSTER_STACK_ACTIVE\nError parameters: melio\n")
    assert xe(pool, "pool-ha-enable", "heartbeat-sr-uuids=" + lvm.strip())[0] == 0
    assert xe(pool, "pool-param-get", "param-name=ha-cluster-stack") == (0, "corosync\n", "")
    assert xe(pool, "pool-param-get", "param-name=ha-enabled") == (0, "true\n", "")


def test_statefile_sr_error_and_ha_disable(pool):
    xe(pool, "sr-create", "type=melio", "shared=true")
    rc, lvm, _ = xe(pool, "sr-create", "type=lvm", "shared=true", "physical-size=%d" % SR_SIZE)
    assert xe(pool, "pool-ha-enable", "heartbeat-sr-uuids=" + lvm.strip()) == (
        1, "", "Error code: INCOMPATIBLE_STATEFILE_SR\nError parameters: melio\n")
    assert xe(pool, "pool-ha-disable") == (1, "", "Error code: HA_NOT_ENABLED\nError parameters: \n")


def test_lists_filter_and_pbd_plug_unplug(pool):
    rc, sr, _ = xe(pool, "sr-create", "type=lvm", "name-label=one", "shared=true")
    rc, out, _ = xe(pool, "pbd-list", "sr-uuid=" + sr.strip(), "currently-attached=true")
    pbds = [line.split(": ")[1] for line in out.splitlines() if line.startswith("uuid")]
    assert rc == 0 and len(pbds) == 2
    assert xe(pool, "pbd-unplug", "uuid=" + pbds[0]) == (0, "", "")
    rc, out, _ = xe(pool, "pbd-list", "currently-attached=false")
    assert [line.split(": ")[1] for line in out.splitlines() if line.startswith("uuid")] == [pbds[0]]
    assert xe(pool, "pbd-plug", "uuid=" + pbds[0]) == (0, "", "")
    rc, out, _ = xe(pool, "host-list")
    assert rc == 0 and out.count("uuid ( RO)") == 2
    assert "name-label ( RW): one" in xe(pool, "sr-list")[1]


def test_host_param_set_other_config(pool):
    rc, out, _ = xe(pool, "host-list", "name-label=host2")
    uuid = out.splitlines()[0].split(": ")[1]
    assert xe(pool, "host-param-set", "uuid=" + uuid, "other-config:sm-test=h2") == (0, "", "")
    rc, out, _ = xe(pool, "host-list", "uuid=" + uuid)
    assert "sm-test: h2" in out and "address ( RO): 10.213.0.2" in out  # its sandbox's address


def test_usage_errors_exit_2(pool):
    assert xe(pool, "sr-create")[0] == 2
    assert xe(pool, "pbd-plug", "nonsense")[0] == 2
    assert xe(pool, "pool-param-get", "param-name=no-such")[0] == 2


def test_against_a_running_server(pool):
    pool.start()
    try:
        rc, out, _ = xe(pool, "sm-list", "type=melio", server=pool.server.url)
        assert rc == 0 and "required-cluster-stack ( RO): melio" in out
        rc, _, err = xe(pool, "pbd-plug", "uuid=nosuch", server=pool.server.url)
        assert (rc, err) == (1, "Error code: UUID_INVALID\nError parameters: PBD, nosuch\n")
    finally:
        pool.stop()


def test_embedded_client_goes_through_the_serve_holding_the_pool(pool):
    pool.server.state = os.path.join(pool.tmp, "embedded")  # serve the xe client's own state dir
    pool.server.extra = ["--socket", os.path.join(pool.tmp, "embedded", "xapi.sock")]
    os.makedirs(pool.server.state)
    pool.start()
    try:
        rc, sr, err = xe(pool, "sr-create", "type=lvm", "name-label=through-serve", "shared=true")
        assert rc == 0, err
        assert pool.x.SR.get_by_uuid(sr.strip())
        second = subprocess.run([sys.executable, "-m", "sm_clusterstack.cli", "serve", "--state",
                                 pool.server.state, "--port", "0", "--xapi-conf", os.devnull],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert second.returncode == 1 and b"is served by another shim (pid %d" % pool.server.proc.pid in second.stderr
    finally:
        pool.stop()
