"""``sm-clusterstack xe`` as a process, on the embedded pool and against a running ``serve``.

Drivers and stacks are the fixture doubles of helpers.shim (ocfs2 needs
corosync, melio needs melio, lvm nothing; stacks xhad and corosync take any
statefile SR, melio only melio SRs).  Each behaviour is xe's; the test says
which upstream function it follows (xapi-project/xen-api).
"""

import os
import subprocess
import sys

import pytest

from helpers.shim import Pool
from helpers.xe import SandboxedPool, prefix, run_xe, xe_server, without_progress
from sm_clusterstack import constraints, hostsandbox


@pytest.fixture
def pool(tmp_path):
    p = Pool(tmp_path, hosts=2, sandbox=False)
    p.sandbox_prefix = prefix()
    yield p
    # the embedded pool's host sandboxes (as root) outlive each xe command, as hosts do; remove them
    assert hostsandbox.SandboxPool.remove(os.path.join(p.tmp, "embedded")) == []


LAST = {}  # the last xe's stderr as printed, progress bar included


def xe(pool, *args, **kw):
    """xe on the test's embedded pool; stderr without the line naming the pool and the progress bar."""
    embedded = ["--embedded", os.path.join(pool.tmp, "embedded"), "--sm-dir", pool.sm_dir,
                "--cluster-stack-root", pool.root, "--hosts", "2", "--xapi-conf", os.devnull,
                "--sandbox-prefix", pool.sandbox_prefix]
    rc, out, err = run_xe(list(args) + embedded, **kw)
    named = "sm-clusterstack xe: embedded pool in %s (--embedded)" % os.path.join(pool.tmp, "embedded")
    if err.startswith(named):  # a usage error comes before any connection, and names no pool
        err = err.split("\n", 1)[1]
    LAST["err"] = err
    return rc, out, without_progress(err)


def pool_uuid(pool):
    return xe(pool, "pool-list", "--minimal")[1].strip()


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="host sandboxes (enable_ha needs them) need root")


@needs_root
def test_the_designs_errors_with_xapis_texts_resolved_refs_and_explanations(tmp_path):
    pool = SandboxedPool(tmp_path).start()
    try:
        rc, lvm, _ = xe_server(pool, "sr-create", "type=lvm", "name-label=hb", "shared=true", "physical-size=8GiB",
                               "device-config:device=/dev/b")
        assert rc == 0 and len(lvm.strip()) == 36
        rc, ocfs2, _ = xe_server(pool, "sr-create", "type=ocfs2", "name-label=o", "shared=true", "--no-progress")
        lvm, ocfs2 = lvm.strip(), ocfs2.strip()
        rc, _, err = xe_server(pool, "pool-ha-enable", "heartbeat-sr-uuids=" + lvm, "cluster-stack=foo")
        err = without_progress(err)
        assert rc == 1 and err.startswith("Error code: UNKNOWN_CLUSTER_STACK\nError parameters: foo\n")
        assert "Installed stacks: corosync, melio, xhad." in err  # the shim tells what is installed
        rc, _, err = xe_server(pool, "pool-ha-enable", "heartbeat-sr-uuids=" + lvm, "cluster-stack=xhad")
        err = without_progress(err)
        assert rc == 1 and err.startswith(  # cli_util.ml ref_convert: the ref as uuid (name-label)
            "Error code: CLUSTER_STACK_CONSTRAINT\nError parameters: %s (o), corosync\n" % ocfs2)
        assert "Next: enable HA with cluster-stack=corosync" in err
        rc, _, err = xe_server(pool, "pool-ha-enable", "heartbeat-sr-uuids=" + lvm)
        assert rc == 0 and err.startswith("\r[") and "(100% ETA" in err  # the progress bar of an Async enable_ha
        pool_uuid = xe_server(pool, "pool-list", "--minimal")[1].strip()
        assert xe_server(pool, "pool-param-get", "uuid=" + pool_uuid, "param-name=ha-cluster-stack") == (
            0, "corosync\n", "")
    finally:
        pool.stop()


@needs_root
def test_statefile_sr_error_says_which_stack_and_why(tmp_path):
    pool = SandboxedPool(tmp_path).start()
    try:
        xe_server(pool, "sr-create", "type=melio", "name-label=mel", "shared=true")
        rc, lvm, _ = xe_server(pool, "sr-create", "type=lvm", "name-label=l", "shared=true", "physical-size=8GiB")
        rc, _, err = xe_server(pool, "pool-ha-enable", "heartbeat-sr-uuids=" + lvm.strip())
        lines = without_progress(err).splitlines()
        assert rc == 1 and lines[:2] == ["The specified SR is incompatible with the selected HA cluster stack.",
                                         "SR type: melio"]
        assert lines[2].startswith("Why: enable_ha chose cluster stack melio because SR ")
        assert "and SR %s (l, type lvm) is not one." % lvm.strip() in lines[2]
        rc, _, err = xe_server(pool, "pool-ha-disable")
        assert (rc, without_progress(err)) == (
            1, "The operation could not be performed because HA is not enabled on the Pool\n")
    finally:
        pool.stop()


def test_a_plug_refused_names_the_sr_in_the_way(pool):
    rc, ocfs2, _ = xe(pool, "sr-create", "type=ocfs2", "name-label=o", "shared=true")
    ocfs2 = ocfs2.strip()
    rc, _, err = xe(pool, "sr-create", "type=melio", "name-label=m", "shared=true")
    lines = err.splitlines()
    assert rc == 1 and lines[-4:-2] == [  # cli_util.ml get_server_error: the datamodel's text, then name: value
        "This operation cannot be performed, because it is incompatible with the currently active HA cluster "
        "stack.", "cluster_stack: melio"]
    assert lines[-2].startswith("Why: SR %s (o, type ocfs2) is attached and needs corosync" % ocfs2)
    assert "xe pbd-list sr-uuid=%s params=uuid --minimal" % ocfs2 in lines[-1]
    assert xe(pool, "sm-list", "type=ocfs2", "params=type,required-cluster-stack") == (
        0, "type ( RO)                      : ocfs2\n    required-cluster-stack ( RO): corosync\n\n\n", "")


def test_usage_errors_exit_1_as_xe(pool):
    """xapi_cli.ml exception_handler: every error exits 1; param_error adds the hint."""
    assert xe(pool, "sr-create", "type=lvm") == (
        1, "", "Required parameter not found: name-label\nFor usage run: 'xe help'\n")
    assert xe(pool, "no-such-command") == (1, "", "Unknown command: no-such-command\nFor usage run: 'xe help'\n")
    assert xe(pool, "pool-param-get", "uuid=" + pool_uuid(pool), "param-name=no-such") == (
        1, "", "Error code: Missing parameter\nError parameters: no-such\n")  # Records.CLI_failed_to_find_param
    for listed in ("pbd-list", "host-list"):  # no PBD, two hosts: refused alike (xe checks only with records)
        rc, _, err = xe(pool, listed, "no-such-field=x")
        assert rc == 1 and err.endswith("message: Failure: Unknown field 'no-such-field'\n")  # get_field_type
    rc, out, err = xe(pool, "host-list", "params=no-such-field")  # xe printed a blank record per host
    assert rc == 1 and out == "" and err.endswith("message: Failure: Unknown field 'no-such-field'\n")
    rc, _, err = xe(pool, "pool-ha-enable", "ha-config:timout=30")
    assert rc == 1 and err.startswith("Error: ha-config:timout is not a key enable_ha reads (known: timeout, ")
    rc, _, err = xe(pool, "pool-ha-enable")  # heartbeat-sr-uuids is optional, as in xe: the server decides
    assert rc == 1 and "Required parameter" not in err


def test_params_minimal_and_map_filters(pool):
    rc, sr, _ = xe(pool, "sr-create", "type=lvm", "name-label=one", "shared=true", "device-config:device=/dev/x")
    sr = sr.strip()
    rc, pbds, _ = xe(pool, "pbd-list", "sr-uuid=" + sr, "params=uuid", "--minimal")
    pbds = pbds.strip().split(",")
    assert rc == 0 and len(pbds) == 2
    assert xe(pool, "pbd-list", "device-config:device=/dev/x", "--minimal")[1].strip().split(",") == pbds
    assert xe(pool, "pbd-list", "device-config:device=/dev/other", "--minimal") == (0, "\n", "")
    rc, out, _ = xe(pool, "sr-list", "params=uuid,name-label")
    assert out == "uuid ( RO)          : %s\n    name-label ( RW): one\n\n\n" % sr
    assert xe(pool, "pbd-unplug", "uuid=" + pbds[0]) == (0, "", "")
    assert xe(pool, "pbd-list", "currently-attached=false", "--minimal") == (0, pbds[0] + "\n", "")
    assert xe(pool, "pbd-plug", "uuid=" + pbds[0]) == (0, "", "")
    assert "Total time: " in LAST["err"]
    assert xe(pool, "pbd-param-get", "uuid=" + pbds[0], "param-name=device-config", "param-key=device") == (
        0, "/dev/x\n", "")


def test_param_list_get_set_and_master_as_uuid(pool):
    rc, hosts, _ = xe(pool, "host-list", "params=uuid", "--minimal")
    master = xe(pool, "pool-param-get", "uuid=" + pool_uuid(pool), "param-name=master")[1].strip()
    assert master in hosts.strip().split(",")  # records.ml pool_record: master prints as a uuid
    host2 = [h for h in hosts.strip().split(",") if h != master][0]
    assert xe(pool, "host-param-set", "uuid=" + host2, "other-config:note=second host",
              "name-label=second") == (0, "", "")
    rc, out, _ = xe(pool, "host-param-list", "uuid=" + host2)
    assert "note: second host" in out and "name-label ( RW): second" in out
    assert xe(pool, "host-param-get", "uuid=" + host2, "param-name=other-config", "param-key=note") == (
        0, "second host\n", "")
    assert xe(pool, "host-param-remove", "uuid=" + host2, "param-name=other-config", "param-key=note") == (0, "", "")
    rc, _, err = xe(pool, "host-param-remove", "uuid=" + host2, "param-name=other-config", "param-key=note")
    assert rc == 1 and err.endswith("message: Failure: Key note is not in map\n")  # p_remove
    rc, _, err = xe(pool, "host-param-set", "uuid=" + host2, "hostname=x")
    assert rc == 1 and err.endswith("message: Failure: Field 'hostname' is read-only.\n")  # p_set
    expected = constraints.max_host_failures_to_tolerate("xhad", 2)  # the shim's answer, printed as xe does
    assert xe(pool, "pool-ha-compute-max-host-failures-to-tolerate") == (0, "%d\n" % expected, "")


def test_no_implicit_pool(tmp_path):
    """newcli.ml: without a server xe talks to the local xapi; we never create a pool unasked."""
    home = str(tmp_path / "home")
    os.makedirs(home)
    rc, out, err = run_xe(["sm-list"], home=home)
    if os.path.exists("/var/lib/xcp/xapi"):
        pytest.skip("a local xapi runs here")
    assert rc == 1 and err.startswith("Unable to contact server.")
    assert os.listdir(home) == []  # no ~/.local/share/... pool
    state = str(tmp_path / "state")
    try:
        rc, out, err = run_xe(["pool-list", "--minimal", "--sandbox-prefix", prefix()],
                              env={"SM_CLUSTERSTACK_STATE": state}, home=home)
    finally:
        assert hostsandbox.SandboxPool.remove(state) == []
    assert (rc, err) == (0, "sm-clusterstack xe: embedded pool in %s (SM_CLUSTERSTACK_STATE), new: 1 host(s)\n" % state)


def test_against_a_running_server_with_xe_options(pool, tmp_path):
    pool.start()
    try:
        rc, out, _ = xe_server(pool, "sm-list", "type=melio", "params=required-cluster-stack", "--minimal")
        assert (rc, out) == (0, "melio\n")
        assert xe_server(pool, "pbd-plug", "uuid=nosuch") == (
            1, "", "The uuid you supplied was invalid.\ntype: PBD\nuuid: nosuch\n")
        assert run_xe(["-s", pool.server.url, "-u", "root", "-pw", "wrong", "host-list"]) == (
            1, "", "Authentication failed\nFor usage run: 'xe help'\n")
        pwf = tmp_path / "pwf"
        pwf.write_text("root\n%s\n" % pool.server.password)
        assert run_xe(["host-list", "--minimal", "-pwf", str(pwf), "-s", pool.server.url])[0] == 0
        (tmp_path / ".xe").write_text("server=%s\npasswordfile=%s\nminimal=true\n" % (pool.server.url, pwf))
        rc, out, _ = run_xe(["host-list"], home=str(tmp_path))  # ~/.xe: options, and minimal=true for each command
        assert rc == 0 and len(out.strip().split(",")) == 2
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


@needs_root
def test_host_commands_an_ha_operator_uses(tmp_path):
    """cli_frontend.ml host-disable/-enable/-shutdown/-reboot (Host_selectors: cli_operations.ml do_host_op),
    host-emergency-ha-disable (fail_without_force, Host.emergency_ha_disable), message-list and
    pool-ha-compute-hypothetical-max-host-failures-to-tolerate; xapi_host.ml: a host is disabled before its
    shutdown or reboot (assert_host_disabled: HOST_NOT_DISABLED), and enabled again after its reboot."""
    pool = SandboxedPool(tmp_path).start()
    try:
        x = pool.x
        hb = pool.create_sr("lvm", "hb")
        host2 = [h for h, r in x.host.get_all_records().items() if r["name_label"] == "host2"][0]
        [pbd2] = [p for p in x.SR.get_PBDs(hb) if x.PBD.get_host(p) == host2]
        x.PBD.unplug(pbd2)  # issue 21: SR_HAS_NO_PBDS named no host
        rc, _, err = xe_server(pool, "pool-ha-enable", "heartbeat-sr-uuids=" + x.SR.get_uuid(hb), "--no-progress")
        assert rc == 1 and "not plugged on host2 (plugged on host1)" in err and x.PBD.get_uuid(pbd2) in err
        x.PBD.plug(pbd2)
        x.pool.enable_ha([hb], {})
        rc, _, err = xe_server(pool, "host-shutdown")
        assert rc == 1 and "Multiple matching hosts found. --multiple required" in err
        rc, _, err = xe_server(pool, "host-shutdown", "host=host2")
        assert rc == 1 and err.startswith("This operation cannot be performed because the host is not disabled.")
        assert xe_server(pool, "host-disable", "host=host2")[0] == 0 and x.host.get_enabled(host2) is False
        assert xe_server(pool, "host-reboot", "host=host2")[0] == 0 and x.host.get_enabled(host2) is True
        assert xe_server(pool, "host-disable", "name-label=host2", "auto-enable=false")[0] == 0
        assert xe_server(pool, "host-shutdown", "host=host2")[0] == 0
        rc, _, err = xe_server(pool, "host-enable", "uuid=" + x.host.get_uuid(host2))
        assert rc == 1 and err.startswith("You attempted an operation which involves a host which could not be")
        assert xe_server(pool, "pool-ha-compute-hypothetical-max-host-failures-to-tolerate") == (0, "1\n", "")
        rc, _, err = xe_server(pool, "pool-ha-compute-hypothetical-max-host-failures-to-tolerate", "vm-uuid=v")
        assert rc == 1 and "an equal number of vm-uuid and restart-priority arguments" in err
        rc, out, _ = xe_server(pool, "message-list", "params=name,class", "class=Pool")
        assert rc == 0 and all(line.split(":")[0].strip() in ("name ( RO)", "class ( RO)", "")
                               for line in out.splitlines())
        rc, _, err = xe_server(pool, "host-emergency-ha-disable")
        assert rc == 1 and "This operation must be forced (use --force)." in err
        before = len(pool.stack_calls())
        assert xe_server(pool, "host-emergency-ha-disable", "--force")[0] == 0
        master_uuid = x.host.get_uuid(pool.master())
        assert [c[1] for c in pool.stack_calls()[before:] if "host=" + master_uuid in c] == [
            "ha_disarm_fencing", "ha_stop_daemon", "ha_set_excluded"]
        rc, _, err = xe_server(pool, "host-emergency-ha-disable", "--force")
        assert rc == 1 and err.startswith("The operation could not be performed because HA is not enabled")
        assert xe_server(pool, "host-emergency-ha-disable", "--force", "--soft")[0] == 0
        x.pool.disable_ha()  # the pool back into one state; enabled again, every host is armed again
        x.host.reboot(host2)  # shut down above; disabled with auto-enable=false, it stays disabled
        assert x.host.get_enabled(host2) is False
        x.pool.enable_ha([hb], {})
        assert xe_server(pool, "host-emergency-ha-disable", "--force")[0] == 0
    finally:
        pool.stop()
