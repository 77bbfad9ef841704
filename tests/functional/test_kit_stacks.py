"""The kit's stack checks against fixture stacks run on real host sandboxes.

The fixtures are POSIX sh stacks (``tests/fixtures/kit/stacks``): ``base``
conforms on one host and on several; each other directory replaces the
script(s) carrying one fault.  Each fault must fail the check naming it and
no other, and must never PASS; the base must pass every check.  Namespaces
are named s13-<pid>-<n>-... and are removed by the kit; the test checks none is left.
"""

import os
import shutil

import pytest

from sm_clusterstack.kit import result as res
from sm_clusterstack.kit import stack_live

from helpers.kit import FIXTURES, check_stack, sandbox_skip_reason

STACKS = os.path.join(FIXTURES, "stacks")

pytestmark = [pytest.mark.skipif(bool(sandbox_skip_reason()), reason=sandbox_skip_reason() or "-"),
              pytest.mark.slow(10)]


def build(tmp_path, fault="base", name=None):
    """A copy of the base fixture stack with the fault's scripts laid over it, safe modes."""
    target = str(tmp_path / "root" / (name or fault))
    shutil.copytree(os.path.join(STACKS, "base"), target)
    if fault != "base":
        overlay = os.path.join(STACKS, fault)
        for entry in os.listdir(overlay):
            shutil.copy(os.path.join(overlay, entry), target)
    os.chmod(target, 0o755)
    for entry in os.listdir(target):
        executable = entry.startswith("ha_") and entry != "ha_supported_srs"
        os.chmod(os.path.join(target, entry), 0o755 if executable else 0o644)
    return target


def kit(tmp_path, path, hosts=1, timeout=10.0):
    return check_stack(tmp_path, path, hosts=hosts, timeout=timeout)


@pytest.mark.parametrize("hosts", [1, 2])
def test_conforming_fixture_stack_passes_every_check_run_as_xapi_runs_it(tmp_path, hosts):
    """xha_scripts.ml call_script: env = [PATH=<xapi's PATH>:<stack dir>], no -C; the fixture prints both."""
    suite = kit(tmp_path, build(tmp_path), hosts=hosts)
    assert [r.check for r in suite.results][4:] == list(stack_live.IDS)
    assert [(r.check, r.result) for r in suite.results if r.result != res.PASS] == []
    captured = "".join(r.stderr for r in suite.results)
    envs = set(line.split("fixture-env: ", 1)[1].strip() for line in captured.splitlines() if "fixture-env: " in line)
    assert envs == {"PATH=%s:/usr/libexec/xapi/cluster-stack/base" % os.environ["PATH"]}
    calls = [line.split("fixture-call: ", 1)[1].split() for line in captured.splitlines() if "fixture-call: " in line]
    assert calls and not any("-C" in call for call in calls)
    assert ["ha_set_pool_state", "init"] in calls and ["ha_set_excluded"] in calls
    assert "h1 saw h2 excluded" in suite.get("stack.excluded-roundtrip").detail or hosts == 1


@pytest.mark.parametrize("fault,hosts,failing,says", [
    ("liveset-bad-uuid", 1, ["stack.liveset-schema"], "invalid uuid value 'not-a-uuid' within 'host'"),
    ("liveset-partial-warnings", 1, ["stack.liveset-schema"],
     "Missing entry 'heartbeat_approaching_timeout' within 'warning_on_local_host'"),
    # the same exit after ha_stop_daemon fails the stop too: one rule for a stopped daemon's query
    ("no-daemon-exit", 1, ["stack.no-daemon-exit", "stack.stop-daemon"], "exited 1 INVALID_PARAMETER, expected 14"),
    ("bad-argument-accepted", 1, ["stack.bad-argument"], "ha_set_pool_state not-a-state exited 0"),
    ("pool-state-invalid-refused", 1, ["stack.pool-state"], "ha_set_pool_state invalid exited 11"),
    ("start-fails", 1, ["stack.start-daemon"], "h1 ha_start_daemon exited 12 BOOTJOIN_TIMEOUT"),
    ("liveset-local-dead", 1, ["stack.liveset-localhost", "stack.pool-join"], "liveness is False"),
    ("join-alone", 2, ["stack.pool-join"], "h1's liveset does not list h2"),
    ("propose-master-false", 1, ["stack.propose-master"], "printed 'FALSE\\n'"),
    ("propose-master-everyone", 2, ["stack.propose-master"], "h2's ha_propose_master also printed TRUE"),
    ("init-while-running", 1, ["stack.pool-state-running"], "init exited 0 while the daemons run"),
    ("disarm-fails", 1, ["stack.disarm-fencing"], "exited 4 WATCHDOG_ERROR"),
    ("stop-leaves-child", 1, ["stack.stop-daemon"], "left running, 5s later: pid"),
    ("excluded-ignored", 2, ["stack.excluded-roundtrip"], "did not show h2 excluded"),
    ("boot-blocked-by-excluded", 1, ["stack.excluded-roundtrip"], "exited 18 BOOT_BLOCKED_BY_EXCLUDED"),
    ("disable-ignored", 2, ["stack.disable"], "h2's daemon still runs"),
    ("fences-on-stop", 1, ["stack.no-fence"], "h1 ran its fence action (touched /run/sm-clusterstack-kit-fenced)"),
    ("fences-on-clean-shutdown", 2, ["stack.excluded-roundtrip", "stack.no-fence"],
     "a clean shutdown fenced another host: h1's daemon was gone"),
])
def test_fault_fixture_fails_only_the_checks_naming_its_fault(tmp_path, fault, hosts, failing, says):
    suite = kit(tmp_path, build(tmp_path, fault), hosts=hosts)
    assert suite.failing() == failing
    assert says in suite.get(failing[0]).detail
    assert not any(r.result == res.ERROR for r in suite.results)


def test_a_stack_exiting_16_is_skipped_with_its_reason_never_passed(tmp_path):
    suite = kit(tmp_path, build(tmp_path, "invalid-environment"))
    live = suite.results[4:]
    assert {r.result for r in live} == {res.SKIP}
    assert "the engine is not installed here" in live[0].detail and "INVALID_ENVIRONMENT" in live[0].detail
    assert res.exit_code([suite]) == res.EXIT_OK


def test_a_hung_script_is_killed_and_fails_its_check_and_the_timeout_check(tmp_path):
    # the timeout every kit test gives each script (a shorter one would also catch a script slowed by load)
    suite = kit(tmp_path, build(tmp_path, "hanging-script"))
    assert suite.failing() == ["stack.propose-master", "stack.timeout"]
    assert "h1 ha_propose_master timed out after 10s" in suite.get("stack.propose-master").detail


def test_a_missing_script_fails_its_static_check_and_skips_the_checks_that_need_it(tmp_path):
    path = build(tmp_path)
    os.unlink(os.path.join(path, "ha_disarm_fencing"))
    suite = kit(tmp_path, path)
    assert suite.failing() == ["stack.script-missing"]
    assert "ha_disarm_fencing" in suite.get("stack.script-missing").detail
    assert suite.get("stack.disarm-fencing").result == res.SKIP
    assert "ha_disarm_fencing is missing" in suite.get("stack.disarm-fencing").detail


def test_unsafe_stack_runs_nothing(tmp_path):
    path = build(tmp_path)
    os.chmod(path, 0o777)
    suite = kit(tmp_path, path)
    assert suite.get("stack.unsafe").result == res.FAIL
    assert {r.result for r in suite.results[4:]} == {res.SKIP}
