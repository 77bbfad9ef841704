"""The kit's stack checks against real fixture stacks (sh scripts run in the kit's sandbox).

Each fault fixture must fail the check that names its fault and no other.
"""

import os
import shutil
import stat

import pytest

from sm_clusterstack import runner
from sm_clusterstack.kit import check, report
from sm_clusterstack.kit import result as res
from sm_clusterstack.kit import sandbox as sandbox_mod
from sm_clusterstack.kit import stack_live, stack_static

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "kit", "stacks")


def build(tmp_path, fault="base", name=None):
    """A copy of the base fixture stack with the fault's scripts laid over it, safe modes."""
    target = str(tmp_path / "root" / (name or fault))
    shutil.copytree(os.path.join(FIXTURES, "base"), target)
    if fault != "base":
        overlay = os.path.join(FIXTURES, fault)
        for entry in os.listdir(overlay):
            shutil.copy(os.path.join(overlay, entry), target)
    os.chmod(target, 0o755)
    for entry in os.listdir(target):
        executable = entry.startswith("ha_") and entry != "ha_supported_srs"
        os.chmod(os.path.join(target, entry), 0o755 if executable else 0o644)
    return target


def kit(tmp_path, path, timeout=5.0):
    options = check.Options(timeout=timeout, start_timeout=10.0, owner_uid=os.getuid(),
                            sandbox_parent=str(tmp_path))
    suite = check.check_stack(path, options)
    print(report.table([suite]))
    return suite


def leftovers(tmp_path):
    """Processes still carrying the marker of a sandbox under tmp_path."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/environ" % entry, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        mark = ("%s=%s" % (sandbox_mod.MARKER, tmp_path)).encode()
        if any(item.startswith(mark) for item in env):
            found.append(int(entry))
    return found


def test_conforming_fixture_stack_passes_every_check(tmp_path):
    suite = kit(tmp_path, build(tmp_path))
    assert [r.check for r in suite.results] == list(stack_static.CHECKS) + list(stack_live.IDS)
    assert {r.result for r in suite.results} == {res.PASS}
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("fault,failing", [
    ("liveset-bad-uuid", ["stack.liveset-schema"]),
    ("liveset-missing-status", ["stack.liveset-schema"]),
    ("no-daemon-exit", ["stack.no-daemon-exit"]),
    ("bad-argument-accepted", ["stack.bad-argument"]),
    ("pool-state-invalid-refused", ["stack.pool-state"]),
    ("start-fails", ["stack.start-daemon"]),
    ("liveset-local-dead", ["stack.liveset-localhost"]),
    ("propose-master-garbage", ["stack.propose-master"]),
    ("excluded-ignored", ["stack.excluded-roundtrip"]),
    ("init-while-running", ["stack.pool-state-running"]),
    ("disarm-fails", ["stack.disarm-fencing"]),
    ("propose-master-false", ["stack.propose-master"]),
    ("stop-leaves-child", ["stack.stop-daemon"]),
    ("fences-on-stop", ["stack.no-fence"]),
])
def test_fault_fixture_fails_only_the_check_naming_its_fault(tmp_path, fault, failing):
    suite = kit(tmp_path, build(tmp_path, fault))
    assert suite.failing() == failing
    assert leftovers(tmp_path) == []


def test_liveset_faults_are_explained(tmp_path):
    bad_uuid = kit(tmp_path, build(tmp_path, "liveset-bad-uuid")).get("stack.liveset-schema").detail
    no_status = kit(tmp_path, build(tmp_path, "liveset-missing-status")).get("stack.liveset-schema").detail
    assert "invalid uuid value" in bad_uuid and "not-a-uuid" in bad_uuid
    assert "status" in no_status


def test_propose_master_false_in_the_one_host_pool_is_explained(tmp_path):
    detail = kit(tmp_path, build(tmp_path, "propose-master-false")).get("stack.propose-master").detail
    assert "printed FALSE" in detail and "quorate" in detail


def test_stop_leaving_a_child_names_the_process_left(tmp_path):
    suite = kit(tmp_path, build(tmp_path, "stop-leaves-child"))
    detail = suite.get("stack.stop-daemon").detail
    assert "left running" in detail and "sleep 100000" in detail
    assert suite.get("stack.no-fence").result == res.PASS
    assert leftovers(tmp_path) == []


def test_fencing_on_stop_is_reported_and_stop_itself_passes(tmp_path):
    suite = kit(tmp_path, build(tmp_path, "fences-on-stop"))
    assert "SM_CLUSTERSTACK_FENCE_ACTION" in suite.get("stack.no-fence").detail
    assert suite.get("stack.stop-daemon").result == res.PASS


def test_fencing_on_the_kits_final_stop_is_reported(tmp_path):
    """The stop the kit runs itself, after a stack.start-daemon FAIL, is watched for fencing too."""
    path = build(tmp_path, "fences-on-stop", name="start-then-fence")
    with open(os.path.join(path, "ha_start_daemon"), "a") as f:
        f.write("exit 2\n")  # starts the daemon, then claims SYSTEM_ERROR
    suite = kit(tmp_path, path)
    assert suite.failing() == ["stack.start-daemon", "stack.no-fence"]
    assert suite.get("stack.stop-daemon").result == res.SKIP
    assert leftovers(tmp_path) == []


def test_missing_script_fails_script_missing_and_skips_its_check(tmp_path):
    path = build(tmp_path)
    os.unlink(os.path.join(path, "ha_disarm_fencing"))
    suite = kit(tmp_path, path)
    assert suite.failing() == ["stack.script-missing"]
    assert "ha_disarm_fencing" in suite.get("stack.script-missing").detail
    assert suite.get("stack.disarm-fencing").result == res.SKIP


def test_world_writable_stack_fails_unsafe_and_runs_nothing(tmp_path):
    path = build(tmp_path)
    os.chmod(path, 0o777)
    suite = kit(tmp_path, path)
    assert suite.failing() == ["stack.unsafe"]
    assert "world writable" in suite.get("stack.unsafe").detail
    assert all(suite.get(c).result == res.SKIP for c in stack_live.IDS)


def test_hanging_script_is_killed_and_fails_its_check_and_timeout(tmp_path):
    suite = kit(tmp_path, build(tmp_path, "hanging-script"), timeout=2.0)
    assert suite.failing() == ["stack.propose-master", "stack.timeout"]
    assert "timed out" in suite.get("stack.propose-master").detail
    assert "ha_propose_master" in suite.get("stack.timeout").detail
    assert suite.get("stack.stop-daemon").result == res.PASS
    assert leftovers(tmp_path) == []


def test_daemon_left_running_by_a_broken_stop_is_killed(tmp_path):
    path = build(tmp_path)
    with open(os.path.join(path, "ha_stop_daemon"), "w") as f:
        f.write("#!/bin/sh\nexit 0\n")  # claims success, stops nothing
    suite = kit(tmp_path, path)
    assert suite.get("stack.stop-daemon").result == res.FAIL
    assert leftovers(tmp_path) == []


def test_engine_absent_skips_behaviour_checks_with_the_reason(tmp_path):
    path = build(tmp_path, name="absent")
    for script in os.listdir(path):
        if script.startswith("ha_") and script != "ha_supported_srs":
            with open(os.path.join(path, script), "w") as f:
                f.write("#!/bin/sh\necho 'corosync is not installed' >&2\nexit 16\n")
    suite = kit(tmp_path, path)
    assert suite.failing() == []
    details = [suite.get(check_id).detail for check_id in stack_live.IDS]
    assert [suite.get(check_id).result for check_id in stack_live.IDS] == [res.SKIP] * len(details)
    assert "corosync is not installed" in details[0]  # the first says why, the others point to it
    assert all(d.startswith("engine absent") for d in details)
    assert res.exit_code([suite]) == res.EXIT_OK


def test_sandbox_holds_config_statefile_and_is_removed(tmp_path):
    box = sandbox_mod.StackSandbox(str(tmp_path))
    assert os.path.getsize(box.statefile) == sandbox_mod.STATEFILE_SIZE
    assert stat.S_IMODE(os.stat(box.path).st_mode) == 0o700
    assert box.env[sandbox_mod.COROSYNC_DIR].startswith(box.path)
    box.cleanup()
    assert not os.path.exists(box.path)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and ip netns")
def test_sandbox_namespace_has_only_loopback_and_is_removed(tmp_path):
    box = sandbox_mod.StackSandbox(str(tmp_path))
    try:
        assert box.isolate()
        links = runner.run(box.exec_prefix() + ["ip", "-o", "link", "show"], timeout=10)
        assert [line.split(":")[1].strip() for line in links.stdout.splitlines()] == ["lo"]
        assert box.netns in runner.run(["ip", "netns", "list"], timeout=10).stdout
    finally:
        box.cleanup()
    assert box.netns == ""
    assert "smcs-kit-%d-" % os.getpid() not in runner.run(["ip", "netns", "list"], timeout=10).stdout


def test_stack_scripts_run_in_the_sandbox_namespace(tmp_path):
    suite = kit(tmp_path, build(tmp_path))
    if os.geteuid() == 0 and shutil.which("ip"):
        assert "in network namespace smcs-kit-" in suite.get("stack.start-daemon").detail
