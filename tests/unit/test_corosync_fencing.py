"""The fence chain (attempts, escalation, the kernel's reboot as default), the watchdog and the guard."""

import os
import select
import threading
import time
import tty

import pytest

from corostack_fakes import H, Rig
from sm_clusterstack import hostsandbox
from sm_clusterstack.corostack import daemon, fencing, guard, hostslot, statefile
from sm_clusterstack.corostack import log as log_mod
from sm_clusterstack.corostack.log import Log


@pytest.fixture
def log(tmp_path):
    return Log(str(tmp_path / "log" / "ha.log"), "test")


def chain(fake_runner, log, action, escalation, attempts=3, reboots=None):
    reboots = [] if reboots is None else reboots

    def reboot(grace, log):
        reboots.append(grace)
        return False
    return fencing.fence(action, escalation, attempts, "why", 2.0, 0.5, log, run=fake_runner, reboot=reboot)


def test_a_fence_action_that_succeeds_runs_once_with_the_reason_and_only_path(fake_runner, log):
    fake_runner.expect(["/bin/fence", "-x"], env_items={"SM_CLUSTERSTACK_FENCE_REASON": "why"})
    assert chain(fake_runner, log, ["/bin/fence", "-x"], []) is True
    assert sorted(fake_runner.calls[0][1]) == ["PATH", "SM_CLUSTERSTACK_FENCE_REASON"]


def test_a_failing_fence_action_is_retried_then_escalated(fake_runner, log):
    for _ in range(3):
        fake_runner.expect(["/bin/fence"], returncode=1)
    fake_runner.expect(["/bin/last-resort"])
    assert chain(fake_runner, log, ["/bin/fence"], ["/bin/last-resort"]) is True
    assert "escalating" in open(log.path).read()


def test_a_fence_action_that_hangs_counts_as_failed(fake_runner, log):
    fake_runner.expect(["/bin/fence"], timed_out=True, returncode=None)
    fake_runner.expect(["/bin/fence"], returncode=0)
    assert chain(fake_runner, log, ["/bin/fence"], [], attempts=2) is True


def test_the_default_of_both_is_the_kernels_reboot_and_a_reboot_that_returns_failed(fake_runner, log):
    reboots = []
    assert chain(fake_runner, log, [], [], attempts=2, reboots=reboots) is False
    assert reboots == [0.5, 0.5, 0.5]


def test_the_kernels_reboot_writes_b_to_sysrq_where_it_can_and_makes_no_system_call(tmp_path, log):
    sysrq, calls = tmp_path / "sysrq-trigger", []
    sysrq.write_text("")
    assert fencing.kernel_reboot(0.0, log, sysrq=str(sysrq), syscall=lambda ns: calls.append(ns) or "x") is False
    assert sysrq.read_text() == "b" and calls == []


def test_without_sysrq_the_kernels_reboot_is_the_reboot_system_call_in_this_pid_namespace_and_logged(tmp_path, log):
    pid_ns = tmp_path / "pid-ns"  # stands for /proc/self/ns/pid: its inode is the namespace's
    pid_ns.write_text("")
    calls = []
    assert fencing.kernel_reboot(0.0, log, sysrq=str(tmp_path / "none"), pid_ns_path=str(pid_ns),
                                 syscall=lambda ns: calls.append(ns) or "reboot(2): Operation not permitted") is False
    assert calls == [os.stat(str(pid_ns)).st_ino]
    text = open(log.path).read()
    assert "fencing by the reboot(2) system call in PID namespace %d" % calls[0] in text
    assert "the kernel's reboot failed: reboot(2): Operation not permitted" in text


def test_reboot_2_is_restart_and_refused_in_the_machines_first_pid_namespace_where_the_machine_plays_hosts(tmp_path):
    """reboot(2): LINUX_REBOOT_CMD_RESTART as ``reboot -f`` (util-linux sys-utils/... systemd's reboot -f) makes it;
    in a child PID namespace the kernel kills that namespace's init instead (kernel/pid_namespace.c
    ``reboot_pid_ns``)."""
    mark, calls = tmp_path / "plays-hosts", []

    def call(command):
        calls.append(command)
        return "it returned"
    assert fencing.reboot_syscall(1234, str(mark), call) == "reboot(2): it returned"
    assert calls == [0x01234567]
    assert fencing.reboot_syscall(fencing.INITIAL_PID_NS, str(mark), call) == "reboot(2): it returned"
    assert len(calls) == 2  # a real host: its first PID namespace is the machine's, and the machine is the host
    mark.write_text("")
    assert fencing.reboot_syscall(fencing.INITIAL_PID_NS, str(mark), call).startswith("refused")
    assert fencing.reboot_syscall(1234, str(mark), call) == "reboot(2): it returned"  # a host sandbox's own
    assert len(calls) == 3


def test_the_machine_mark_is_the_one_host_sandboxes_make_and_no_pid_namespace_read_counts_as_the_first():
    assert fencing.MACHINE_MARK == hostsandbox.MACHINE_MARK
    assert fencing.pid_namespace("/nonexistent/ns/pid") == fencing.INITIAL_PID_NS  # the safe answer


def test_the_kernel_fence_note_says_reboot_2_where_there_is_no_sysrq(tmp_path):
    pid_ns = tmp_path / "pid-ns"
    pid_ns.write_text("")
    sysrq = tmp_path / "sysrq-trigger"
    assert "ends every process of this host" in fencing.kernel_fence_note(str(sysrq), str(pid_ns))
    assert fencing.kernel_fence_note(str(sysrq), "/nonexistent") == (
        "no %s: the kernel fence is the reboot(2) system call" % sysrq)
    sysrq.write_text("")
    assert fencing.kernel_fence_note(str(sysrq), str(pid_ns)) == ""


def test_the_watchdog_is_written_on_every_pet_and_closed_with_the_magic_character(tmp_path, log):
    master, slave = os.openpty()  # a character device that is no watchdog: no settable timeout, still written
    tty.setraw(slave)
    try:
        dog = fencing.Watchdog(os.ttyname(slave), 5, log)
        dog.pet()
        dog.pet()
        dog.stand_down()
        written = b""
        while len(written) < 3 and select.select([master], [], [], 5)[0]:  # a pty may hand it over in pieces
            written += os.read(master, 16)
        assert written == b"\0\0V" and dog.problem == ""
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("setting,problem", [
    ("", "set to none"), ("/nonexistent/watchdog", "No such file"), ("FILE", "is not a character device")])
def test_no_watchdog_is_never_silent(tmp_path, log, setting, problem):
    if setting == "FILE":
        setting = str(tmp_path / "stand-in")  # what a host sandbox lays over /dev/watchdog
        open(setting, "w").close()
    dog = fencing.Watchdog(setting, 5, log)
    dog.pet()
    assert dog.fd is None and problem in dog.problem and fencing.watchdog_problem(setting) == dog.problem
    assert "no kernel watchdog: " + dog.problem in open(log.path).read()
    if setting.endswith("stand-in"):
        assert os.path.getsize(setting) == 0  # never written: it is no watchdog


def guard_rig(tmp_path, log):
    rig = Rig(tmp_path)
    rig.timing.guard = 0.3
    return rig, guard.Guard(rig.paths, rig.conf, rig.monitor.settings, rig.timing, log)


def run_watch(g, script):
    """Feed the guard ``script`` (letters, pauses, None = the monitor's end closes); True when it ended."""
    read_end, write_end = os.pipe()
    thread = threading.Thread(target=guard.watch, args=(g, read_end))
    thread.start()
    for chunk in script:
        if chunk is None:
            os.close(write_end)
            write_end = None
        elif isinstance(chunk, float):
            time.sleep(chunk)
        else:
            os.write(write_end, chunk.encode())
    thread.join(10)
    os.close(read_end)
    if write_end is not None:
        os.close(write_end)
    return not thread.is_alive()


@pytest.fixture
def fires(monkeypatch):
    reasons = []
    monkeypatch.setattr(fencing, "fence", lambda a, e, n, reason, *rest, **kw: reasons.append(reason) or True)
    monkeypatch.setattr(daemon, "corosync_pid", lambda paths: None)
    return reasons


def test_the_guard_fires_when_the_armed_monitor_dies(tmp_path, log, fires):
    rig, g = guard_rig(tmp_path, log)
    daemon.set_fencing(rig.paths, "armed")
    assert run_watch(g, [guard.ARM + guard.PET, None])
    assert fires == ["the monitor is gone"] and daemon.fencing_mode(rig.paths) == "fenced"
    with statefile.opened(rig.conf.statefile) as fd:
        assert hostslot.read_all(fd, rig.conf)[H[0]].state == "fenced"


def test_the_guard_fires_when_the_armed_monitor_stops_petting(tmp_path, log, fires):
    rig, g = guard_rig(tmp_path, log)
    daemon.set_fencing(rig.paths, "armed")
    assert run_watch(g, [guard.ARM, 0.1, guard.PET, 0.1, guard.PET])
    assert fires and "no life" in fires[0]


def test_the_guard_stands_down_on_disarm_or_when_the_monitor_stops_unarmed(tmp_path, log, fires):
    rig, g = guard_rig(tmp_path, log)
    assert run_watch(g, [guard.ARM + guard.PET + guard.DISARM])
    (tmp_path / "b").mkdir()
    rig2, g2 = guard_rig(tmp_path / "b", log)
    assert run_watch(g2, [guard.PET, None])  # never armed: the monitor's end is no reason to fence
    assert fires == []


def test_the_guard_leaves_a_fencing_monitor_to_its_chain_and_stops_petting_the_watchdog(tmp_path, log, fires):
    """Issue 18: a second chain would only repeat the monitor's attempts; the watchdog is what backs a failing
    chain up.  The guard still fires if the fencing monitor goes silent past Timing.guard."""
    rig, g = guard_rig(tmp_path, log)
    rig.timing.guard = 0.9 * rig.timing.heartbeat_timeout  # the stack's own, past guard_check
    g.membership = lambda: set()  # the host is cut: its partition is gone
    daemon.set_fencing(rig.paths, "fencing")
    pets = []
    g.handle((guard.ARM + guard.FENCING).encode())
    g.watchdog = type("Dog", (), {"pet": lambda self: pets.append(1), "stand_down": lambda self: None})()
    now = g.clock()
    g.clock = lambda: now + rig.timing.guard_check + 0.01  # past guard_check, within guard
    g.last_turn = now + rig.timing.guard_check
    assert g.turn() is None and pets == []
    g.clock = lambda: now + rig.timing.guard + 0.01
    g.last_turn = now + rig.timing.guard
    assert "no life" in g.turn()


def test_the_guard_does_not_fence_a_host_the_monitor_fenced(tmp_path, log, fires):
    rig, g = guard_rig(tmp_path, log)
    daemon.set_fencing(rig.paths, "armed")
    assert run_watch(g, [guard.ARM + guard.PET + guard.FENCED, None])
    assert fires == []


def test_identical_log_lines_are_counted_not_written_within_the_window(tmp_path, monkeypatch):
    now = [100.0]
    monkeypatch.setattr(log_mod.time, "monotonic", lambda: now[0])
    out = Log(str(tmp_path / "ha.log"), "guard")
    for _ in range(70):  # a second of a fence retried every poll
        out.warning("fencing (attempt 1 of 3): lost")
        out.warning("fence action failed 3 times: escalating")
        now[0] += 1.0 / 70
    now[0] += log_mod.REPEAT_WINDOW
    out.warning("fencing (attempt 1 of 3): lost")
    lines = open(out.path).read().splitlines()
    assert len(lines) == 3 and lines[-1].endswith("fencing (attempt 1 of 3): lost (and 69 times more in the last 60 s)")
