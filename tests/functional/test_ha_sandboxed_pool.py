"""enable_ha and disable_ha on a sandboxed pool, as xapi runs them (``ocaml/xapi/xapi_ha.ml``).

Each host is a host sandbox (its own network and mount namespaces); the
stacks are run as xapi runs them (PATH only, no ``-C``, the host's own
``/etc/xensource/xhad.conf``).  The real xhad (xenserver/xha, built by
``make xhad XHA_SRC=DIR`` into build/xha) is the reference stack; the fixture
stacks of helpers.shim record what ran, where and when.
"""

import os
import subprocess
import sys
import threading

import pytest

from helpers.shim import Pool, Server, SR_SIZE, failure, make_driver, wait_for
from sm_clusterstack import hostsandbox
from sm_clusterstack.stacks import liveset, xhadconf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
XHA_STACK_ROOT = os.path.join(ROOT, "build", "xha", "cluster-stack")
XHA_MISSING = "the real xhad is not built: make xhad XHA_SRC=DIR (a xenserver/xha source tree)"
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="host sandboxes need root"), pytest.mark.pool(hosts=3)]


def sandbox_exec(state, host_uuid, *argv):
    """``sm-clusterstack sandbox exec``: what an operator runs to reach a host as xapi does."""
    return subprocess.run([sys.executable, "-m", "sm_clusterstack.cli", "sandbox", "exec", "--state", state,
                           host_uuid, "--"] + list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=120, universal_newlines=True)


def expected_conf(x, host, generation, statefile, t):
    """What ``Xha_interface.DaemonConfiguration.to_xml_element`` writes for ``host`` of this pool.

    A port of xapi's writer: GenerationUUID, UDPport 694 (Xapi_globs.xha_udp_port), every host's
    HostID and IPaddress, the twelve parameters of ``Timeouts.derive t``, and the local host's
    HostID, HeartbeatInterface (management bridge), HeartbeatPhysicalInterface (its device), StateFile.
    """
    pif = [p for p in x.PIF.get_all_records().values() if p["host"] == host and p["management"]][0]
    members = [(r["uuid"], r["address"]) for _, r in sorted(x.host.get_all_records().items())]
    return {"GenerationUUID": generation, "UDPport": 694, "hosts": members,
            "parameters": xhadconf.derive_timeouts(t), "HostID": x.host.get_uuid(host),
            "HeartbeatInterface": pif["bridge"], "HeartbeatPhysicalInterface": pif["device"],
            "StateFile": statefile}


def actual_conf(conf):
    return {"GenerationUUID": conf.generation_uuid, "UDPport": conf.udp_port,
            "hosts": sorted((h.host_id, h.ip_address) for h in conf.hosts), "parameters": conf.parameters,
            "HostID": conf.local_host_id, "HeartbeatInterface": conf.heartbeat_interface,
            "HeartbeatPhysicalInterface": conf.heartbeat_physical_interface, "StateFile": conf.statefile}


def running_xhad(pid):
    """True when ``pid`` is a live (not zombie) xhad."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().split()
    except OSError:
        return False
    return fields[1] == "(xhad)" and fields[2] != "Z"


def netns_names():
    return subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, universal_newlines=True).stdout


def check_enabled_pool(server, x, t):
    """Every host's liveset Online (run in its sandbox), master flagged, xhad.conf as xapi writes it."""
    master = x.pool.get_master(x.pool.get_all()[0])
    confs = {}
    for host in x.host.get_all():
        uuid = x.host.get_uuid(host)
        path = os.path.join(server.state, "sandbox", "hosts",
                            "h" + x.host.get_other_config(host)["sandbox-netns"].rsplit("-h", 1)[1],
                            "etc", "xensource", "xhad.conf")
        confs[host] = xhadconf.load(path)
        result = sandbox_exec(server.state, uuid, "ha_query_liveset")
        assert result.returncode == 0, result.stderr
        seen = liveset.parse(result.stdout)
        assert seen.status.lower() == "online"
        assert seen.host(x.host.get_uuid(master)).master
        assert all(h.liveness for h in seen.hosts) and len(seen.hosts) == 3
    generation = confs[master].generation_uuid
    for host, conf in confs.items():
        expected = expected_conf(x, host, generation, conf.statefile, t)
        expected["hosts"] = sorted(expected["hosts"])
        assert actual_conf(conf) == expected


@pytest.mark.slow(30)
def test_real_xhad_enables_and_disables_ha_on_three_sandboxed_hosts(tmp_path):
    """The shim drives the real xhad through enable (parallel joins, propose) and disable, leaving nothing."""
    if not os.path.isfile(os.path.join(XHA_STACK_ROOT, "xhad", "xhad")):
        pytest.skip(XHA_MISSING)
    sm = str(tmp_path / "sm")
    make_driver(sm, str(tmp_path / "ctl"), "lvm", [])
    server = Server(str(tmp_path / "state"), sm, XHA_STACK_ROOT, hosts=3, sandbox=True).start()
    session = server.session()
    x = session.xenapi
    try:
        master = x.pool.get_master(x.pool.get_all()[0])
        sr = x.SR.create(master, {"device": "/dev/fixture"}, str(SR_SIZE), "hb", "", "lvm", "user", True, {})
        x.pool.enable_ha([sr], {"timeout": "10"})
        pool = x.pool.get_all()[0]
        assert x.pool.get_ha_enabled(pool) and x.pool.get_ha_cluster_stack(pool) == "xhad"
        check_enabled_pool(server, x, 10)
        prefix = x.host.get_other_config(master)["sandbox-netns"].rsplit("-h", 1)[0]
        x.pool.disable_ha()
        assert not x.pool.get_ha_enabled(pool)
        for host in x.host.get_all():
            result = sandbox_exec(server.state, x.host.get_uuid(host), "ha_query_liveset")
            assert result.returncode == 14  # DAEMON_IS_NOT_PRESENT: xhad is gone on every host
            box = hostsandbox.find(server.state, x.host.get_other_config(host)["sandbox-netns"])
            assert [pid for pid in box.pids() if running_xhad(pid)] == []
    finally:
        server.stop()
    assert prefix not in netns_names()
    with open("/proc/self/mountinfo") as f:
        assert server.state not in f.read()


def test_start_runs_on_every_host_in_parallel(pool):
    """``thread_iter_all_exns`` over ``Host.ha_join_liveset``: a stack whose start waits for all hosts joins."""
    open(os.path.join(pool.stack_ctl, "join_all"), "w").close()
    with open(os.path.join(pool.stack_ctl, "sleep_ha_start_daemon"), "w") as f:
        f.write("1")
    pool.x.pool.enable_ha([pool.create_sr("lvm")], {})
    starts = [c for c in pool.stack_calls() if c[1] == "ha_start_daemon"]
    assert len({c[-2] for c in starts}) == 3
    # the order of events: every host's start had begun (its call logged) before any start's 1 s sleep was
    # over (its daemon "open" event, written after the sleep)
    with open(os.path.join(pool.stack_ctl, "events")) as f:
        opened = [float(line.split()[0]) for line in f if line.split()[1:3] == ["open", "daemon"]]
    assert opened and max(float(c[-1][2:]) for c in starts) < min(opened)


def test_init_runs_on_the_master_only_and_the_master_proposes(pool):
    """``enable``: ``ha_set_pool_state init`` on the master; ``join_liveset``: the master proposes."""
    pool.x.pool.enable_ha([pool.create_sr("lvm")], {})
    master = "host=" + pool.x.host.get_uuid(pool.master())
    calls = pool.stack_calls()
    assert [c[-2] for c in calls if c[1] == "ha_set_pool_state"] == [master]
    assert [c[2] for c in calls if c[1] == "ha_set_pool_state"] == ["init"]
    assert [c[-2] for c in calls if c[1] == "ha_propose_master"] == [master]
    assert not any("-C" in c for c in calls)


def test_disable_ha_leaves_no_stack_process_on_any_host_and_says_what_it_stopped(pool):
    """Issue 18: a stack process ``ha_stop_daemon`` leaves (a fenced host's guard that lingers) is stopped.

    ``xapi_ha.ml`` ``disable_internal`` trusts the scripts; on a host
    sandbox the shim can see what is left, so nothing of the stack outlives
    HA.  A driver run in progress is spared (its process group is a run).
    """
    open(os.path.join(pool.stack_ctl, "linger"), "w").close()
    pool.x.pool.enable_ha([pool.create_sr("lvm")], {})
    boxes = [hostsandbox.find(pool.server.state, pool.x.host.get_other_config(h)["sandbox-netns"])
             for h in pool.x.host.get_all()]
    assert all(box.pids() for box in boxes)  # the lingering process of each host runs
    pool.x.pool.disable_ha()
    assert [box.pids() for box in boxes] == [[] for _ in boxes]
    with open(pool.server.state + ".log") as f:
        log = f.read()
    assert log.count("HA disabled: stopped 1 process(es) the stack left on host") == len(boxes)
    assert "sleep 600" in log


def test_a_host_is_declared_dead_only_once_it_answers_no_more_and_is_never_counted_live_after(tmp_path):
    """Issue 18: ``Host.declare_dead`` (``xapi_host.ml``: ``precheck_destroy_declare_dead`` raises HOST_IS_LIVE
    for the master or a host that answers) is the way out for a host whose fence failed: after it, the
    master's liveset (the fixture stack counts every host live) never marks the host live again.
    """
    from helpers.shim import pool_for_test
    import XenAPI
    with pool_for_test(tmp_path, hosts=3, start=False) as pool:
        pool.server.extra = ["--ha-monitor-interval", "0.2"]
        pool.start()
        x = pool.x
        open(os.path.join(pool.stack_ctl, "linger"), "w").close()  # each host keeps a process: it answers
        x.pool.enable_ha([pool.create_sr("lvm")], {})
        hosts = {x.host.get_name_label(h): h for h in x.host.get_all()}
        box = hostsandbox.find(pool.server.state, x.host.get_other_config(hosts["host3"])["sandbox-netns"])

        def declare(host):
            try:
                x.host.declare_dead(host)
            except XenAPI.Failure as e:
                return e.details
        assert declare(hosts["host3"]) == ["HOST_IS_LIVE", hosts["host3"]]
        assert declare(x.pool.get_master(x.pool.get_all()[0])) == ["HOST_IS_LIVE", hosts["host1"]]
        hostsandbox.stop_processes(box)  # the operator powers host3 off
        assert declare(hosts["host3"]) is None
        metrics = x.host.get_metrics(hosts["host3"])
        rounds = len(pool.stack_calls())
        wait_for(lambda: len([c for c in pool.stack_calls()[rounds:] if c[1] == "ha_query_liveset"]) >= 6)
        assert x.host_metrics.get_live(metrics) is False
        assert x.host_metrics.get_live(x.host.get_metrics(hosts["host2"])) is True


@pytest.mark.slow(15)
def test_a_kernel_fence_resets_only_its_host_which_boots_again_once_the_survivors_dropped_it(tmp_path):
    """Issue 18: a stack's kernel fence (sysrq ``b``) in a host sandbox resets that host, never the machine.

    The fixture stack of host3 writes ``b`` to a path that stands for the machine's sysrq-trigger (this
    machine's kernel has none; on one that has, ``serve`` covers the real one the same way), as corosync-ha's
    default fence does.  The shim's power switch stops every process of host3 (a lingering one included),
    posts HA_HOST_WAS_FENCED, and host3 boots again (``ha_start_daemon``, as xapi's ``on_server_restart``)
    only after the master's liveset dropped it: the order of events is checked, not their times.
    """
    from helpers.shim import pool_for_test
    machine = tmp_path / "machine-sysrq-trigger"
    machine.write_bytes(b"")
    with pool_for_test(tmp_path, hosts=3, start=False) as pool:
        pool.server.extra = ["--ha-monitor-interval", "0.2", "--sandbox-kernel-fence", str(machine)]
        pool.start()
        x = pool.x
        open(os.path.join(pool.stack_ctl, "linger"), "w").close()
        x.pool.enable_ha([pool.create_sr("lvm")], {})
        host3 = [h for h in x.host.get_all() if x.host.get_name_label(h) == "host3"][0]
        uuid = x.host.get_uuid(host3)
        box = hostsandbox.find(pool.server.state, x.host.get_other_config(host3)["sandbox-netns"])
        assert box.pids()
        with open(os.path.join(pool.stack_ctl, "kernel_fence-" + uuid), "w") as f:
            f.write(str(machine))
        wait_for(lambda: any(m["name"] == "HA_HOST_WAS_FENCED" for m in x.message.get_all_records().values()))
        assert machine.read_bytes() == b""  # the machine was never reached
        assert box.pids() == [] and box.kernel_fences() == []  # reset: nothing of host3 runs, its stand-in empty
        started = len([c for c in pool.stack_calls() if c[1] == "ha_start_daemon" and c[-2] == "host=" + uuid])
        rounds = len(pool.stack_calls())  # the survivors still count host3 live: it is not taken over (booted)
        wait_for(lambda: len([c for c in pool.stack_calls()[rounds:] if c[1] == "ha_query_liveset"]) >= 10)
        assert x.host_metrics.get_live(x.host.get_metrics(host3)) is True
        assert len([c for c in pool.stack_calls() if c[1] == "ha_start_daemon" and c[-2] == "host=" + uuid]) == started
        open(os.path.join(pool.stack_ctl, "dropped-" + uuid), "w").close()  # the survivors drop host3
        wait_for(lambda: len([c for c in pool.stack_calls()
                              if c[1] == "ha_start_daemon" and c[-2] == "host=" + uuid]) > started)
        with open(pool.server.state + ".log") as f:
            log = f.read()
        assert log.index("kernel fence through %s: reset" % machine) < log.index("HA_HOST_WAS_FENCED")


def test_a_second_enable_reuses_the_statefile_and_metadata_vdis(pool):
    """``Xha_statefile.find_or_create``: the VDIs of the last enable are released, then reused."""
    sr = pool.create_sr("lvm")
    x = pool.x
    x.pool.enable_ha([sr], {})
    first = set(x.SR.get_VDIs(sr))
    assert {x.VDI.get_type(v) for v in first} == {"ha_statefile", "redo_log"}
    assert x.VDI.get_virtual_size(x.pool.get_ha_statefiles(x.pool.get_all()[0])[0]) == "266240"
    x.pool.disable_ha()
    assert set(x.SR.get_VDIs(sr)) == first
    x.pool.enable_ha([sr], {})
    assert set(x.SR.get_VDIs(sr)) == first


def test_enable_ha_preconditions_give_xapis_codes(pool, tmp_path):
    x = pool.x
    sr = pool.create_sr("lvm")
    assert failure(x.pool.enable_ha, [sr], {"timeout": "9"}) == ["INVALID_VALUE", "timeout", "9"]
    assert failure(x.pool.enable_ha, [sr], {"timeout": "1x"}) == ["INVALID_VALUE", "timeout", "1x"]
    local = pool.create_sr("lvm", shared=False)
    assert failure(x.pool.enable_ha, [local], {}) == ["SR_HAS_NO_PBDS", local]
    small = x.SR.create(pool.master(), {"device": "/dev/fixture"}, "0", "small", "", "lvm", "user", True, {})
    assert failure(x.pool.enable_ha, [small], {}) == ["SR_SOURCE_SPACE_INSUFFICIENT", small]
    x.pool.enable_ha([sr], {})
    assert failure(x.pool.enable_ha, [sr], {}) == ["HA_IS_ENABLED"]
    assert not any(c[1] == "ha_start_daemon" and c[-2] == "x" for c in pool.stack_calls())


def test_an_sm_without_offline_attach_cannot_hold_the_statefile(tmp_path):
    """``check_sr_can_host_statefile``: neither VDI_GENERATE_CONFIG nor VDI_ATTACH_OFFLINE."""
    p = Pool(tmp_path, hosts=1)
    make_driver(p.sm_dir, os.path.join(p.tmp, "ctl"), "plain", [], offline_attach=False)
    p.start()
    try:
        sr = p.create_sr("plain")
        assert failure(p.x.pool.enable_ha, [sr], {}) == ["SR_OPERATION_NOT_SUPPORTED", sr]
        assert not p.stack_calls()
    finally:
        p.stop()


def test_a_host_without_a_management_pif_is_refused_before_anything_is_made(tmp_path):
    """``write_config_file``: "there is no management interface for heartbeating" (here: before any step)."""
    p = Pool(tmp_path, hosts=2, sandbox=False).start()
    try:
        sr = p.create_sr("lvm")
        details = failure(p.x.pool.enable_ha, [sr], {})
        assert details[0] == "INTERNAL_ERROR" and "no management interface" in details[1]
        assert not p.stack_calls() and p.x.SR.get_VDIs(sr) == []
    finally:
        p.stop()


def test_a_daemon_that_never_joins_fails_enable_and_stops_every_host(pool):
    """xapi_host.ml ``ha_join_liveset``: BOOTJOIN_TIMEOUT (12) is HA_FAILED_TO_FORM_LIVESET; the disable path runs."""
    slave = [h for h in pool.x.host.get_all() if h != pool.master()][0]
    pool.fail_script("ha_start_daemon", 12, pool.x.host.get_uuid(slave))
    assert failure(pool.x.pool.enable_ha, [pool.create_sr("lvm")], {}) == ["HA_FAILED_TO_FORM_LIVESET"]
    pool_ref = pool.x.pool.get_all()[0]
    assert not pool.x.pool.get_ha_enabled(pool_ref) and pool.x.pool.get_ha_cluster_stack(pool_ref) == "xhad"
    stopped = {c[-2] for c in pool.stack_calls() if c[1] == "ha_stop_daemon"}
    assert len(stopped) == 3


def test_a_concurrent_disable_gets_ha_enable_in_progress(pool):
    """One HA operation at a time, as xapi's pool current_operations."""
    with open(os.path.join(pool.stack_ctl, "sleep_ha_start_daemon"), "w") as f:
        f.write("2")
    sr = pool.create_sr("lvm")
    worker = threading.Thread(target=pool.server.session().xenapi.pool.enable_ha, args=([sr], {}))
    worker.start()
    wait_for(lambda: any(c[1] == "ha_start_daemon" for c in pool.stack_calls()))
    assert failure(pool.x.pool.disable_ha) == ["HA_ENABLE_IN_PROGRESS"]
    assert failure(pool.x.pool.enable_ha, [sr], {}) == ["HA_ENABLE_IN_PROGRESS"]
    worker.join(60)
    assert pool.x.pool.get_ha_enabled(pool.x.pool.get_all()[0])


def test_a_disable_cut_by_a_crash_is_finished_at_restart(pool):
    """The disable journal: a SIGKILL mid-disable; the next start stops every daemon and turns HA off."""
    x = pool.x
    x.pool.enable_ha([pool.create_sr("lvm")], {})
    pool.fail_script("ha_query_liveset", 3)  # no statefile access seen: the disarm-all, stop-all path
    with open(os.path.join(pool.stack_ctl, "sleep_ha_stop_daemon"), "w") as f:
        f.write("30")
    threading.Thread(target=lambda: failure_or_none(pool.server.session().xenapi.pool.disable_ha),
                     daemon=True).start()
    wait_for(lambda: any(c[1] == "ha_stop_daemon" for c in pool.stack_calls()), timeout=60)
    pool.server.kill()
    os.unlink(os.path.join(pool.stack_ctl, "sleep_ha_stop_daemon"))
    before = len(pool.stack_calls())
    pool.server.start()
    pool.session = pool.server.session()
    x = pool.x = pool.session.xenapi
    assert not x.pool.get_ha_enabled(x.pool.get_all()[0])
    after = pool.stack_calls()[before:]
    every = {"host=" + x.host.get_uuid(h) for h in x.host.get_all()}
    assert {c[-2] for c in after if c[1] == "ha_stop_daemon"} == every


def failure_or_none(fn, *args):
    try:
        fn(*args)
    except Exception:
        return None


def test_sandboxes_are_removed_when_the_server_stops(tmp_path):
    p = Pool(tmp_path, hosts=2).start()
    prefix = p.x.host.get_other_config(p.master())["sandbox-netns"].rsplit("-h", 1)[0]
    assert prefix in netns_names()
    p.stop()
    assert prefix not in netns_names()


def test_each_hosts_health_check_asks_the_shim_for_that_host(tmp_path):
    """xhad runs /opt/xensource/libexec/xapi-health-check (daemon/xapi_mon.c): 0 healthy, else unhealthy.

    ``Host.ha_xapi_healthcheck`` answers for the host whose socket it came on; xapi's FIST point
    ``fail_healthcheck`` (here the host's /var/lib/xcp/fist_fail_healthcheck) makes it unhealthy.
    """
    p = Pool(tmp_path, hosts=2).start()
    try:
        hosts = sorted(p.x.host.get_all())
        checks = [sandbox_exec(p.server.state, p.x.host.get_uuid(h), "/opt/xensource/libexec/xapi-health-check")
                  for h in hosts]
        assert [c.returncode for c in checks] == [0, 0], [c.stderr for c in checks]
        number = p.x.host.get_other_config(hosts[1])["sandbox-netns"].rsplit("-h", 1)[1]
        open(os.path.join(p.server.state, "sandbox", "hosts", "h" + number, "var", "lib", "xcp",
                          "fist_fail_healthcheck"), "w").close()
        checks = [sandbox_exec(p.server.state, p.x.host.get_uuid(h), "/opt/xensource/libexec/xapi-health-check")
                  for h in hosts]
        assert [c.returncode for c in checks] == [0, 1]
    finally:
        p.stop()


def test_enable_ha_with_a_host_down_is_host_offline(pool):
    """xapi_ha.ml ``enable``: "Fail if any host is offline" (host_metrics.live false): HOST_OFFLINE [host]."""
    slave = [h for h in pool.x.host.get_all() if h != pool.master()][0]
    pool.x.host.disable(slave)  # xapi_host.ml: a host is disabled before its shutdown
    pool.x.host.shutdown(slave)
    assert pool.x.host_metrics.get_live(pool.x.host.get_metrics(slave)) is False
    assert failure(pool.x.pool.enable_ha, [pool.create_sr("lvm")], {}) == ["HOST_OFFLINE", slave]
    assert pool.stack_calls() == []
    pool.x.host.reboot(slave)
    assert pool.x.host_metrics.get_live(pool.x.host.get_metrics(slave)) is True
