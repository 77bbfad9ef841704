"""Stack scripts run as real processes through the stack client: exit codes, timeouts, PATH, safety first."""

import os
import subprocess
import sys
import time

import pytest

from helpers.shim import write_script
from sm_clusterstack import runner, stacks
from sm_clusterstack.stacks import client

UID = os.getuid()
HANG = 300  # seconds the hung script's child would sleep


def test_script_exiting_14_is_daemon_is_not_present(tmp_path):
    stack = tmp_path / "xhad"
    write_script(stack, "ha_query_liveset", "echo 'no daemon here' >&2\nexit 14\n")
    with pytest.raises(client.DaemonAbsent) as info:
        client.StackClient(str(stack), owner_uid=UID).query_liveset()
    assert (info.value.returncode, info.value.mtc_name) == (14, "DAEMON_IS_NOT_PRESENT")
    assert "no daemon here" in info.value.stderr


def test_hanging_script_and_its_children_are_killed_at_timeout(tmp_path):
    stack = tmp_path / "slow"
    marker = tmp_path / "child.pid"
    write_script(stack, "ha_start_daemon", "sleep %d &\necho $! > %s\nwait\n" % (HANG, marker))
    started = time.monotonic()
    with pytest.raises(client.ScriptFailed) as info:
        client.StackClient(str(stack), timeout=0.5, owner_uid=UID).start_daemon()
    assert info.value.mtc_name == "TIMEOUT"
    assert time.monotonic() - started < HANG  # killed, not waited for
    child = int(marker.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and os.path.exists("/proc/%d" % child) \
            and "Z" not in open("/proc/%d/stat" % child).read().split()[2]:
        time.sleep(0.05)
    assert not os.path.exists("/proc/%d" % child) or "Z" in open("/proc/%d/stat" % child).read().split()[2]


def test_stack_dir_is_first_on_path(tmp_path):
    stack = tmp_path / "corosync"
    write_script(stack, "helper-tool", "echo from-stack\n")
    write_script(stack, "ha_propose_master", "helper-tool\necho TRUE\n")
    result = client.StackClient(str(stack), owner_uid=UID).call(client.HA_PROPOSE_MASTER)
    assert result.stdout.split() == ["from-stack", "TRUE"]


def test_world_writable_stack_directory_is_refused_before_anything_runs(tmp_path):
    stack = tmp_path / "open"
    ran = tmp_path / "ran"
    write_script(stack, "ha_start_daemon", "touch %s\n" % ran)
    stack.chmod(0o777)
    with pytest.raises(stacks.StackError) as info:
        client.StackClient(str(stack), owner_uid=UID).start_daemon()
    assert str(stack) in str(info.value)
    assert not ran.exists()


def test_runner_reports_missing_command_as_127():
    result = runner.run(["/nonexistent/tool", "x"], timeout=5)
    assert result.returncode == 127 and "/nonexistent/tool" in result.stderr


def test_runner_keeps_stderr_and_exit_status():
    result = runner.run([sys.executable, "-c", "import sys; sys.stderr.write('bad thing'); sys.exit(3)"],
                        timeout=30)
    assert (result.returncode, result.stderr, result.ok) == (3, "bad thing", False)
    assert "exited 3: bad thing" in result.describe()


def test_stack_list_lists_stacks_and_flags_unsafe_one(tmp_path):
    root = tmp_path / "root"
    for script in stacks.SCRIPTS:
        write_script(root / "xhad", script, "exit 0\n")
    (root / "xhad" / "ha_supported_srs").write_text("lvm nfs\n")
    write_script(root / "vendor", "ha_start_daemon", "exit 0\n")
    (root / "vendor").chmod(0o777)
    proc = subprocess.run([sys.executable, "-m", "sm_clusterstack.cli", "stack-list", "--root", str(root)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    blocks = {b.split()[0]: b for b in proc.stdout.split("\n\n")[1:]}
    assert "statefile SRs   : lvm nfs" in blocks["xhad"] and "safety          : ok" in blocks["xhad"]
    assert "scripts missing : none" in blocks["xhad"]
    assert "UNSAFE" in blocks["vendor"] and "world writable" in blocks["vendor"]
    assert "statefile SRs   : any" in blocks["vendor"]


def test_stack_list_bad_xapi_conf_is_a_clear_error(tmp_path):
    conf = tmp_path / "xapi.conf"
    conf.write_text("cluster-stack-root /x\n")
    proc = subprocess.run([sys.executable, "-m", "sm_clusterstack.cli", "stack-list", "--xapi-conf", str(conf)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert proc.returncode == 2
    assert "%s:1:" % conf in proc.stderr and "Traceback" not in proc.stderr
