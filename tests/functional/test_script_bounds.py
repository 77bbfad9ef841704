"""Issue 22 item 4: a misbehaving script cannot exhaust or hang the shim.

A run reads at most ``runner.OUTPUT_CAPS`` of stdout and stderr (more is
an error naming the script, its host and the cap, and the run is killed),
returns when the script exits even if a descendant keeps its output open
(that descendant is killed, and named), and a kill ends the whole tree,
``setsid`` children included (a cgroup per run, ``proctree``).
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers.shim import SCRIPT_TIMEOUT, failure, write_script
from sm_clusterstack import proctree, runner
from sm_clusterstack.stacks import client

UID = os.getuid()
MB = 1000 * 1000
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the shim's pools and cgroups need root")


def running(*argv):
    """The machine's pids of the processes whose command line is ``argv``."""
    wanted = ("\0".join(argv) + "\0").encode()
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                if f.read() == wanted:
                    found.append(int(name))
        except OSError:
            pass
    return found


def gone(pid, timeout=5.0):
    """True once ``pid`` is no process (or a zombie) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


PEAK = """
import json, resource, sys
from sm_clusterstack.stacks import client
try:
    getattr(client.StackClient(sys.argv[1], host="host-a", owner_uid=%d), sys.argv[2])()
    error = ""
except client.ScriptError as e:
    error = str(e)
print(json.dumps({"error": error, "kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""" % UID


@pytest.mark.parametrize("script,call,stream", [
    ("ha_start_daemon", "start_daemon", "stderr"),
    ("ha_query_liveset", "query_liveset", "stdout"),
])
def test_100_mb_of_output_is_an_error_naming_script_host_and_cap_and_the_process_stays_small(
        tmp_path, script, call, stream):
    """Before: all of it was read, then judged (857 MB kept for 100 MB on stderr)."""
    stack = tmp_path / "flood"
    write_script(stack, script, "head -c %d /dev/zero >&%d\n" % (100 * MB, 1 if stream == "stdout" else 2))
    proc = subprocess.run([sys.executable, "-c", PEAK, str(stack), call], stdout=subprocess.PIPE, timeout=120,
                          universal_newlines=True)
    found = json.loads(proc.stdout)
    assert found["kb"] < 100 * 1024, found["kb"]
    cap = "%d bytes on %s (the cap)" % (runner.OUTPUT_CAPS[stream], stream)
    assert script in found["error"] and "on host-a" in found["error"] and cap in found["error"]


def test_a_setsid_child_holding_the_output_does_not_hold_the_run_and_is_killed(tmp_path):
    """Before: the run waited for the child's EOF, the whole timeout (enable_ha hung an hour)."""
    stack = tmp_path / "holds"
    marker = tmp_path / "child"
    write_script(stack, "ha_propose_master", "setsid sleep 600 &\necho $! > %s\necho TRUE\n" % marker)
    started = time.monotonic()
    assert client.StackClient(str(stack), owner_uid=UID, timeout=30).propose_master() is True
    assert time.monotonic() - started < 30  # returned before the run's timeout: it never waited for the child
    assert gone(int(marker.read_text()))


def test_the_runner_names_the_descendant_it_ended():
    result = runner.run(["sh", "-c", "sleep 600 & echo done"], timeout=30)
    assert (result.returncode, result.stdout) == (0, "done\n")
    assert [command for _, command in result.ended] == ["sleep 600"]
    assert gone(result.ended[0][0])


def test_a_timeout_kills_a_setsid_child_that_let_go_of_the_output(tmp_path):
    """Before: only the script's process group was killed; the setsid child survived."""
    marker = tmp_path / "child"
    result = runner.run(["sh", "-c", "setsid sleep 600 </dev/null >/dev/null 2>&1 &\necho $! > %s\nsleep 600"
                         % marker], timeout=1)
    assert result.timed_out and result.returncode is None
    assert gone(int(marker.read_text()))


def test_a_daemon_a_script_started_properly_is_left_running(tmp_path):
    """A script's daemon (``ha_start_daemon``'s) that let go of the output outlives a run that exited."""
    marker = tmp_path / "daemon"
    result = runner.run(["sh", "-c", "setsid sleep 600 </dev/null >/dev/null 2>&1 &\necho $! > %s" % marker],
                        timeout=30)
    pid = int(marker.read_text())
    try:
        assert result.ok and result.ended == [] and not gone(pid, timeout=0.5)
    finally:
        os.kill(pid, 9)


def test_the_machine_says_how_it_kills_a_tree():
    assert "cgroup" in proctree.mechanism()


@pytest.mark.pool(hosts=2)
def test_the_shim_stays_small_under_100_mb_of_stderr_and_the_error_names_the_host(pool):
    """Done-when: a 100 MB script output leaves the shim's RSS under 100 MB."""
    with open(os.path.join(pool.stack_ctl, "flood_ha_start_daemon"), "w") as f:
        f.write(str(100 * MB))
    found = failure(pool.x.pool.enable_ha, [pool.create_sr("lvm")], {})
    hosts = {pool.x.host.get_uuid(h) for h in pool.x.host.get_all()}
    assert found[:3] == ["HA_CONFIGURATION_INVALID", "ha_start_daemon", "OUTPUT_OVER_CAP"] and found[3] in hosts
    assert "%d bytes on stderr (the cap)" % runner.OUTPUT_CAPS["stderr"] in found[4]
    with open("/proc/%d/status" % pool.server.proc.pid) as f:
        peak = [int(line.split()[1]) for line in f if line.startswith("VmHWM:")][0]
    assert peak < 100 * 1024, peak


@pytest.mark.pool(hosts=2)
def test_enable_ha_is_not_held_by_a_start_script_whose_child_keeps_its_output(pool):
    """Before: the script exited 0 and the run waited for the child until the safety net."""
    open(os.path.join(pool.stack_ctl, "detach_ha_start_daemon"), "w").close()
    started = time.monotonic()
    pool.x.pool.enable_ha([pool.create_sr("lvm")], {})
    assert time.monotonic() - started < SCRIPT_TIMEOUT  # done before the safety net: it never waited for the child
    with open(os.path.join(pool.stack_ctl, "held")) as f:
        held = f.read().split()  # each child's `sleep` argument: its pid is its host's (a PID namespace's)
    assert len(held) == 2 and all(gone(pid) for tag in held for pid in running("sleep", tag))
    with open(pool.server.log.name) as f:
        assert "kept its output open: killed" in f.read()


def test_a_run_in_progress_is_known_by_its_tree_a_setsid_child_too(tmp_path):
    """What disable_ha's sweep of a sandbox spares (sandboxes.end_stack_processes): a driver run in progress,
    found by its cgroup even before its process group is recorded (before: a plug racing a disable was killed)."""
    import threading
    marker = tmp_path / "child"
    done = []
    thread = threading.Thread(target=lambda: done.append(runner.run(
        ["sh", "-c", "setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $! > %s; sleep 1" % marker], timeout=30)))
    thread.start()
    deadline = time.monotonic() + 10
    while not (marker.exists() and marker.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.01)
    child = int(marker.read_text())
    try:
        assert proctree.in_a_run(child) and not proctree.in_a_run(os.getpid())
        thread.join(30)
        assert done[0].ok and not proctree.in_a_run(child)  # the run ended: its daemon is no run of ours
    finally:
        os.kill(child, 9)


def test_a_sibling_run_between_its_fork_and_exec_is_no_holder_of_this_runs_output():
    """A run's command forked in another thread holds every descriptor of the shim until its exec closes them:
    the holder search of a run that ended took it for a child keeping the output open and killed it (enable_ha
    failed with ha_propose_master KILLED_BY_SIGNAL_9).  A process the command left behind still is one."""
    read_end, write_end = os.pipe()
    inode = os.fstat(read_end).st_ino
    forked = os.fork()  # stands for a sibling run's child before its exec: it holds both ends, as we do
    if forked == 0:
        time.sleep(30)
        os._exit(0)
    left = subprocess.Popen(["sleep", "30"], pass_fds=(write_end,))  # our child past its exec: passed over too
    grandchild = subprocess.Popen(["sh", "-c", "sleep 30 & echo $!"], pass_fds=(write_end,), stdout=subprocess.PIPE)
    try:
        orphan = int(grandchild.stdout.readline())
        holders = proctree.pipe_holders([inode])
        assert forked not in holders and left.pid not in holders  # our children: runs of their own
        assert orphan in holders  # the grandchild of a command, as a setsid child of a script is
    finally:
        for pid in (forked, orphan):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(forked, 0)
        for proc in (left, grandchild):
            proc.kill()
            proc.wait()
        os.close(read_end)
        os.close(write_end)
