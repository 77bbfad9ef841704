"""``sm-clusterstack kit`` as a process: targets, table, exit codes 0/1/2, JUnit file."""

import os
import shutil
import signal
import subprocess
import sys

import pytest
from lxml import etree

from helpers.kit import FIXTURES, assert_valid_junit, kit


def stack(tmp_path, fault="base", name=None):
    target = str(tmp_path / "root" / (name or fault))
    shutil.copytree(os.path.join(FIXTURES, "stacks", "base"), target)
    if fault != "base":
        for entry in os.listdir(os.path.join(FIXTURES, "stacks", fault)):
            shutil.copy(os.path.join(FIXTURES, "stacks", fault, entry), target)
    os.chmod(target, 0o755)
    for entry in os.listdir(target):
        os.chmod(os.path.join(target, entry), 0o755 if entry.startswith("ha_") else 0o644)
    os.chmod(os.path.join(target, "ha_supported_srs"), 0o644)
    return target


def driver(tmp_path, name):
    sm_dir = tmp_path / "sm"
    sm_dir.mkdir(exist_ok=True)
    for entry in (name, "kitfixture.py"):
        shutil.copy(os.path.join(FIXTURES, "drivers", entry), str(sm_dir / entry))
    os.chmod(str(sm_dir / name), 0o755)
    return str(sm_dir / name)


ONE_HOST = ("--hosts", "1", "--ha-timeout", "10")


@pytest.mark.slow(8)
def test_conforming_stack_exits_0_and_prints_the_table(tmp_path):
    result = kit(*ONE_HOST + ("stack", stack(tmp_path)))
    assert result.returncode == 0
    assert "stack.liveset-schema" in result.stdout and "FAIL" not in result.stdout
    assert result.stdout.splitlines()[-1] == "1 target, 19 checks: 19 passed, 0 warned, 0 failed, 0 skipped, 0 errors"


@pytest.mark.slow(8)
def test_each_row_is_printed_while_the_kit_still_runs(tmp_path):
    """The rows up to stack.pool-state are out while ha_start_daemon waits for a file only the test makes."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "sm_clusterstack.cli", "kit"] + list(ONE_HOST) + [
        "stack", stack(tmp_path, "waits-for-go")], stdout=subprocess.PIPE, universal_newlines=True, env=env)
    try:
        seen = []
        for line in proc.stdout:
            seen.append(line.split()[0] if line.strip() else "")
            if seen[-1] == "stack.pool-state":
                break
        assert proc.poll() is None and "stack.start-daemon" not in seen
        (tmp_path / "go").write_text("")
        rest = proc.stdout.read()
        assert proc.wait(timeout=300) == 0 and "stack.start-daemon             PASS" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow(8)
def test_failing_stack_exits_1(tmp_path):
    result = kit(*ONE_HOST + ("stack", stack(tmp_path, "liveset-missing-status")))
    assert result.returncode == 1
    assert [line.split()[0] for line in result.stdout.splitlines() if " FAIL " in line] == ["stack.liveset-schema"]


def test_junit_file_validates_and_names_the_failure(tmp_path):
    junit = str(tmp_path / "kit.xml")
    result = kit("--junit", junit, "--static", "driver", driver(tmp_path, "BadstackSR"))
    assert result.returncode == 1
    with open(junit, "rb") as f:
        document = etree.fromstring(f.read())
    assert_valid_junit(document)
    failed = [c.get("name") for c in document.iter("testcase") if c.find("failure") is not None]
    assert failed == ["driver.required-cluster-stack"]
    assert document.find("testsuite").get("name") == "driver.BadstackSR"


def test_several_targets_in_one_run_give_one_valid_junit_with_a_suite_each(tmp_path):
    junit = str(tmp_path / "kit.xml")
    result = kit("--junit", junit, "--static", "driver", driver(tmp_path, "GoodSR"), "stack", stack(tmp_path),
                 "driver", driver(tmp_path, "BadstackSR"))
    assert result.returncode == 1
    with open(junit, "rb") as f:
        document = etree.fromstring(f.read())
    assert_valid_junit(document)
    assert [s.get("name") for s in document.findall("testsuite")] == [
        "driver.GoodSR", "stack.base", "driver.BadstackSR"]
    stamps = [s.find("properties/property[@name='started']").get("value") for s in document.findall("testsuite")]
    assert stamps == sorted(stamps) and all(s[-6] in "+-" for s in stamps)


def test_each_row_is_printed_as_its_check_ends(tmp_path):
    """The rows come out one by one: a check's row is on stdout before the next check has run."""
    result = kit("--static", "driver", driver(tmp_path, "GoodSR"))
    lines = result.stdout.splitlines()
    assert lines[0].startswith("driver GoodSR") and lines[1].split() == ["CHECK", "RESULT", "DETAIL"]
    assert [line.split()[0] for line in lines[2:7]] == [
        "driver.executable", "driver.info", "driver.info-member", "driver.configuration",
        "driver.required-cluster-stack"]


def test_junit_is_written_when_the_kit_cannot_run(tmp_path):
    junit = str(tmp_path / "kit.xml")
    result = kit("--junit", junit, "stack", str(tmp_path / "absent"))
    assert result.returncode == 2
    with open(junit, "rb") as f:
        document = etree.fromstring(f.read())
    assert_valid_junit(document)
    errors = [c.find("error").get("message") for c in document.iter("testcase")]
    assert len(errors) == 1 and "absent: not a directory" in errors[0]


def test_no_target_checks_every_driver_and_stack(tmp_path):
    stack(tmp_path, name="vendorstack")
    driver(tmp_path, "GoodSR")
    driver(tmp_path, "NoclusterstackSR")
    result = kit("--static", "--root", str(tmp_path / "root"), "--sm-dir", str(tmp_path / "sm"))
    assert result.returncode == 0  # NoclusterstackSR's missing member is a warning
    assert "driver.required-cluster-stack  WARN" in result.stdout
    headers = [line.split()[:2] for line in result.stdout.splitlines() if line.startswith(("driver ", "stack "))]
    assert headers == [["driver", "GoodSR"], ["driver", "NoclusterstackSR"], ["stack", "vendorstack"]]


def test_kit_cannot_run_exits_2(tmp_path):
    empty = str(tmp_path / "empty")
    os.mkdir(empty)
    assert kit("stack", str(tmp_path / "absent")).returncode == 2
    assert kit("driver", empty).returncode == 2
    assert kit("stacks", empty).returncode == 2
    assert kit("--root", empty, "--sm-dir", empty).returncode == 2
    assert kit("--device-config", "novalue", "stack", stack(tmp_path)).returncode == 2
    assert kit("--timeout", "0", "stack", stack(tmp_path, name="zero")).returncode == 2
    assert kit("--hosts", "5", "stack", stack(tmp_path, name="five")).returncode == 2
    assert kit("--ha-timeout", "9", "stack", stack(tmp_path, name="nine")).returncode == 2
    assert kit("--host-path", "relative=/tmp", "stack", stack(tmp_path, name="rel")).returncode == 2
    assert kit("--host-path", "/opt/x=/no/such/file", "stack", stack(tmp_path, name="nofile")).returncode == 2
    assert kit("--error-table", str(tmp_path / "absent.xml"), "stack", stack(tmp_path, name="table")).returncode == 2
    unwritable = str(tmp_path / "no" / "such" / "dir" / "kit.xml")
    assert kit("--static", "--junit", unwritable, "stack", stack(tmp_path, name="other")).returncode == 2


def test_usage_error_says_why_without_traceback(tmp_path):
    result = kit("stack")
    assert result.returncode == 2
    assert "expected pairs of 'stack DIR' or 'driver EXE', or nothing" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_target_reads_root_and_sm_dir_from_xapi_conf(tmp_path):
    stack(tmp_path, name="vendorstack")
    driver(tmp_path, "GoodSR")
    conf = tmp_path / "xapi.conf"
    conf.write_text("cluster-stack-root = %s\nsm-dir = %s\n" % (tmp_path / "root", tmp_path / "sm"))
    result = kit("--static", "--xapi-conf", str(conf))
    assert result.returncode == 0
    assert "driver GoodSR" in result.stdout and "stack vendorstack" in result.stdout


def test_list_names_every_check(tmp_path):
    result = kit("--list")
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 28
    assert result.stdout.splitlines()[0].startswith("stack.name ")


@pytest.mark.slow(8)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_kit_leaves_no_host_sandbox(tmp_path, signum):
    """Issue 21: a kit stopped while its stack's hosts run removes their namespaces and mounts, and says so."""
    from sm_clusterstack import hostsandbox
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "sm_clusterstack.cli", "kit"] + list(ONE_HOST) + [
        "stack", stack(tmp_path, "waits-for-go")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, env=env)
    [state] = [str(p) for p in tmp_path.glob("sm-clusterstack-kit-stack-*")] or [""]
    try:
        for line in proc.stdout:
            if line.split()[:1] == ["stack.pool-state"]:
                break
        [state] = [str(p) for p in tmp_path.glob("sm-clusterstack-kit-stack-*")]
        prefix = hostsandbox.default_prefix(state)
        assert os.path.exists("/run/netns/%s-h1" % prefix)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode != 0
        assert not [n for n in os.listdir("/run/netns") if n.startswith(prefix + "-")]
        assert not os.path.exists(os.path.join(state, "sandbox", "made.json"))
        assert "interrupted" in err and "Traceback" not in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if state:
            hostsandbox.SandboxPool.remove(state)


@pytest.mark.parametrize("where,says", [
    ("missing-dir/kit.xml", "no such directory"),
    ("a-directory", "is a directory"),
])
def test_a_bad_junit_path_is_refused_before_any_check_runs(tmp_path, where, says):
    (tmp_path / "a-directory").mkdir()
    result = kit("--junit", str(tmp_path / where), "--static", "driver", driver(tmp_path, "GoodSR"))
    assert result.returncode == 2
    assert "--junit %s: %s" % (tmp_path / where, says) in result.stderr and "Traceback" not in result.stderr
    assert "driver.executable" not in result.stdout  # no check ran
    assert not os.path.exists(str(tmp_path / "missing-dir"))


def test_a_driver_without_device_config_checks_is_not_passed_by_the_kit(tmp_path):
    """The issue's case as a vendor meets it: without a pool (--static) its device_config cases are never
    reached (it fails at its session first): bad-input is SKIP saying so, never PASS."""
    sm_dir = tmp_path / "sm"
    sm_dir.mkdir()
    for entry in ("NocheckSR", "SRCommand.py", "SR.py", "util.py", "xs_errors.py", "XE_SR_ERRORCODES.xml"):
        shutil.copy(os.path.join(FIXTURES, "stocksm", entry), str(sm_dir / entry))
    result = kit("--static", "driver", str(sm_dir / "NocheckSR"))
    row = [line for line in result.stdout.splitlines() if line.split()[:1] == ["driver.bad-input"]][0]
    assert row.split()[1] == "SKIP" and "could not reach device_config" in row
