"""xapi's HA monitor (``ocaml/xapi/xapi_ha.ml`` ``Monitor``) on a store, with recorded script answers.

No process runs: ``onhost.run_result`` is replaced by a strict queue of
recorded answers per (host, script), so each round sees exactly the
liveset a stack would have printed, judged by the real stack client.
"""

import collections
import time

import pytest

from sm_clusterstack import runner
from sm_clusterstack.stacks import liveset
from sm_clusterstack.xapi.ha import lifecycle
from sm_clusterstack.xapi.ha import monitor as ha_monitor
from sm_clusterstack.xapi.hosts import onhost
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.db import records


def Answer(stdout="", returncode=0, timed_out=False):
    return runner.Result(["recorded"], None if timed_out else returncode, stdout, "", timed_out)


class Scripts(object):
    """A strict queue of recorded answers per (host, script); a surprise fails the test."""

    def __init__(self):
        self.queue = collections.defaultdict(list)
        self.ran = []
        self.timeouts = []

    def add(self, host, script, stdout="", returncode=0, timed_out=False):
        self.queue[(host, script)].append(Answer(stdout, returncode, timed_out))

    def __call__(self, ctx, host, stack, script, args=(), timeout=None):
        self.ran.append((host, script))
        self.timeouts.append(timeout)
        assert self.queue[(host, script)], "unexpected %s on %s" % (script, host)
        return self.queue[(host, script)].pop(0)


@pytest.fixture
def pool(ctx, monkeypatch):
    scripts = Scripts()
    monkeypatch.setattr(onhost, "run_result", scripts)
    with ctx.store.write() as conn:
        store_mod.update(conn, "pool", records.pool_row(conn)["ref"], ha_enabled=True, ha_cluster_stack="xhad",
                         ha_statefiles=["OpaqueRef:sf"])
        hosts = [(r["ref"], r["uuid"]) for r in conn.execute("SELECT ref, uuid FROM host ORDER BY rowid")]
    return ctx, scripts, hosts, ha_monitor.Runtime(ctx, interval=0.01)


def printed(hosts, live, master, statefile_access=None, warnings=None):
    """The liveset a stack prints: ``live``/``master`` are host indexes."""
    entries = [liveset.LivesetHost(uuid, liveness=i in live, master=i == master,
                                   statefile_access=(statefile_access or live).__contains__(i))
               for i, (_, uuid) in enumerate(hosts)]
    return liveset.Liveset("Online", hosts[0][1], entries, warnings=warnings).to_xml().decode()


def live_of(ctx, host):
    with ctx.store.read() as conn:
        return bool(conn.execute("SELECT live FROM host_metrics WHERE host = ?", (host,)).fetchone()[0])


def test_the_masters_liveset_sets_host_metrics_live_and_statefile_access(pool):
    ctx, scripts, hosts, runtime = pool
    (master, _), (slave, _) = hosts
    scripts.add(master, "ha_query_liveset", printed(hosts, live={0}, master=0))
    runtime.once(master)
    assert live_of(ctx, master) and not live_of(ctx, slave)
    with ctx.store.read() as conn:
        assert store_mod.loads(store_mod.row(conn, "host", slave)["ha_statefiles"]) == []
        assert store_mod.loads(store_mod.row(conn, "host", master)["ha_statefiles"]) == ["OpaqueRef:sf"]
    scripts.add(master, "ha_query_liveset", printed(hosts, live={0, 1}, master=0))
    runtime.once(master)
    assert live_of(ctx, slave)


def test_a_liveset_over_the_cap_is_an_error_naming_script_host_and_cap(pool):
    """Issue 22: the runner killed the query at its cap; the XenAPI error says where and why."""
    ctx, scripts, hosts, runtime = pool
    master, uuid = hosts[0]
    scripts.queue[(master, "ha_query_liveset")].append(
        runner.Result(["recorded"], None, "<ha_liveset_info", "", overflow="stdout", where=uuid))
    with pytest.raises(onhost.ScriptFailed) as info:
        onhost.stack_on(ctx, master, "xhad").query_liveset()
    assert info.value.code == "HA_CONFIGURATION_INVALID"
    assert list(info.value.params[:3]) == ["ha_query_liveset", "OUTPUT_OVER_CAP", uuid]
    assert "%d bytes on stdout (the cap)" % runner.OUTPUT_CAPS["stdout"] in info.value.params[3]


def test_a_host_shut_down_cleanly_is_never_marked_live(pool):
    ctx, scripts, hosts, runtime = pool
    (master, _), (slave, _) = hosts
    runtime.down.add(slave)
    scripts.add(master, "ha_query_liveset", printed(hosts, live={0, 1}, master=0))
    runtime.once(master)
    assert not live_of(ctx, slave)


def test_a_slave_that_sees_no_master_proposes_and_the_one_answered_true_becomes_master(pool):
    ctx, scripts, hosts, runtime = pool
    (master, _), (slave, _) = hosts
    scripts.add(slave, "ha_query_liveset", printed(hosts, live={1}, master=None))
    scripts.add(slave, "ha_propose_master", "TRUE\n")
    runtime.once(slave)
    with ctx.store.read() as conn:
        assert records.master(conn) == slave
        names = [r["name"] for r in conn.execute("SELECT name FROM message")]
    assert names == ["HA_POOL_MASTER_CHANGED"]


def test_a_slave_answered_false_leaves_the_master_alone(pool):
    ctx, scripts, hosts, runtime = pool
    (master, _), (slave, _) = hosts
    scripts.add(slave, "ha_query_liveset", printed(hosts, live={1}, master=None))
    scripts.add(slave, "ha_propose_master", "FALSE\n")
    runtime.once(slave)
    with ctx.store.read() as conn:
        assert records.master(conn) == master


def test_a_slave_that_sees_the_master_live_and_flagged_does_nothing(pool):
    ctx, scripts, hosts, runtime = pool
    slave = hosts[1][0]
    scripts.add(slave, "ha_query_liveset", printed(hosts, live={0, 1}, master=0))
    runtime.once(slave)
    assert scripts.ran == [(slave, "ha_query_liveset")]


def test_a_warning_that_turns_on_becomes_one_message(pool):
    ctx, scripts, hosts, runtime = pool
    master = hosts[0][0]
    on = dict.fromkeys(liveset.WARNINGS, False)
    on["statefile_lost"] = True
    for _ in range(2):
        scripts.add(master, "ha_query_liveset", printed(hosts, live={0, 1}, master=0, warnings=on))
        runtime.once(master)
    with ctx.store.read() as conn:
        assert [r["name"] for r in conn.execute("SELECT name FROM message")] == ["HA_STATEFILE_LOST"]


@pytest.mark.parametrize("answer, code", [("", 14), ("<ha_liveset_info><status>Online", 0), ("garbage", 0)])
def test_exit_14_or_a_liveset_that_does_not_parse_stops_the_monitor(pool, answer, code):
    """``query_liveset_on_all_hosts``: "deactivating HA failover thread" on any query failure."""
    ctx, scripts, hosts, runtime = pool
    master = hosts[0][0]
    scripts.add(master, "ha_query_liveset", answer, returncode=code)
    with pytest.raises(ha_monitor._Stop) as info:
        runtime.once(master)
    assert info.value.daemon_gone is (code == 14)


def wait(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def messages(ctx):
    with ctx.store.read() as conn:
        return [r["name"] for r in conn.execute("SELECT name FROM message ORDER BY timestamp")]


def test_a_monitor_survives_an_unexpected_error_and_a_gone_daemon_is_said_once_and_retried(pool, monkeypatch):
    """Issue 22: exit 14 on a host without a sandbox stops the monitoring, said once, and the query is retried."""
    ctx, scripts, hosts, runtime = pool
    master = hosts[0][0]
    calls = []

    def once(host):
        calls.append(host)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        raise ha_monitor._Stop("gone", daemon_gone=True)
    monkeypatch.setattr(runtime, "once", once)
    runtime.start_host(master)
    wait(lambda: len(calls) >= 4)
    assert runtime.running() == [master] and runtime.states()[master].startswith("stopped since")
    assert messages(ctx) == ["HA_HOST_DAEMON_STOPPED"]
    runtime.stop_all()
    assert runtime.running() == [] and runtime.states() == {}


@pytest.mark.parametrize("answer, code, hung", [
    ("", 134, False), ("\xff\xfe not UTF-8 <ha_liveset_info", 0, False), ("", 2, False), ("", None, True)])
def test_a_monitor_stopped_by_a_bad_liveset_is_a_message_and_a_state_then_resumes_when_the_stack_answers(
        pool, answer, code, hung):
    """Issue 22 item 5: before, the monitor thread ended silently and every host stayed live, unmonitored.

    ``hung``: the query did not answer within the monitor's bound (one interval, at least 10 s) and was killed.
    """
    ctx, scripts, hosts, runtime = pool
    master = hosts[0][0]
    scripts.add(master, "ha_query_liveset", answer, returncode=code, timed_out=hung)
    scripts.add(master, "ha_query_liveset", answer, returncode=code, timed_out=hung)
    scripts.add(master, "ha_query_liveset", printed(hosts, live={0}, master=0))
    for _ in range(50):
        scripts.add(master, "ha_query_liveset", printed(hosts, live={0}, master=0))
    runtime.start_host(master)
    wait(lambda: "HA_MONITOR_STOPPED" in messages(ctx))
    assert runtime.states()[master].startswith("stopped since")  # within the round that failed
    wait(lambda: "HA_MONITOR_RESUMED" in messages(ctx))
    assert runtime.states() == {master: ""} and messages(ctx) == ["HA_MONITOR_STOPPED", "HA_MONITOR_RESUMED"]
    assert not live_of(ctx, hosts[1][0])  # monitored again: the liveset counts again
    runtime.stop_all()
    assert set(scripts.timeouts) == {runtime.query_timeout}


def test_bad_output_of_ha_propose_master_is_reported_at_once_naming_the_host(pool, caplog):
    """Issue 22 finding 6: it was reported after ~70 s without the host's name."""
    ctx, scripts, hosts, runtime = pool
    (master, _), (slave, slave_uuid) = hosts
    scripts.add(slave, "ha_query_liveset", printed(hosts, live={1}, master=None))
    scripts.add(slave, "ha_propose_master", "garbage\n")
    began = time.monotonic()
    runtime.once(slave)
    assert time.monotonic() - began < 5
    said = [r.getMessage() for r in caplog.records if "ha_propose_master" in r.getMessage()]
    assert said and slave_uuid in said[0] and "garbage" in said[0]
    with ctx.store.read() as conn:
        assert records.master(conn) == master


def test_a_monitors_query_is_bounded_by_one_interval_and_at_least_10_s(ctx):
    assert ha_monitor.Runtime(ctx, interval=20.0).query_timeout == 20.0
    assert ha_monitor.Runtime(ctx, interval=0.5).query_timeout == 10.0


def test_a_stopped_monitor_retries_on_a_doubling_back_off_up_to_its_cap(pool):
    ctx, scripts, hosts, runtime = pool
    why = ha_monitor._Stop("bad")
    delays = [runtime._stopped(hosts[0][0], why) for _ in range(7)]
    assert delays == [0.01, 0.02, 0.04, 0.08, 0.16, 0.16, 0.16]
    assert messages(ctx) == ["HA_MONITOR_STOPPED"]


def test_restart_makes_every_host_not_live_until_it_rejoins(pool, monkeypatch):
    """``on_server_restart``: start retried (here 12, then 15: already running), the master proposes."""
    ctx, scripts, hosts, runtime = pool
    monkeypatch.setattr(lifecycle, "_reattach", lambda ctx, host: None)
    started = []
    monkeypatch.setattr(runtime, "start_host", lambda host, epoch=None: started.append(host))
    for host, _ in hosts:
        scripts.add(host, "ha_start_daemon", returncode=12)
        scripts.add(host, "ha_start_daemon", returncode=15)
    scripts.add(hosts[0][0], "ha_propose_master", "TRUE\n")
    lifecycle.restart(ctx, runtime, retry=0.01)
    assert not any(live_of(ctx, h) for h, _ in hosts)
    for _ in range(200):
        if len(started) == 2:
            break
        time.sleep(0.01)
    assert sorted(started) == sorted(h for h, _ in hosts)
