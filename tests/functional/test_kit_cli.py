"""``sm-clusterstack kit`` as a process: targets, table, exit codes 0/1/2, JUnit file."""

import os
import shutil
import sys

from lxml import etree

from sm_clusterstack import runner

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "..", "fixtures", "kit")
JUNIT_XSD = os.path.join(FIXTURES, "junit.xsd")


def kit(*args):
    result = runner.run([sys.executable, "-m", "sm_clusterstack.cli", "kit"] + list(args), timeout=300)
    print(result.stdout, result.stderr)
    return result


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


def test_conforming_stack_exits_0_and_prints_the_table(tmp_path):
    result = kit("stack", stack(tmp_path))
    assert result.returncode == 0
    assert "stack.liveset-schema" in result.stdout and "FAIL" not in result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 target, 17 checks: 17 passed, 0 failed")


def test_host_network_runs_stack_scripts_outside_a_namespace(tmp_path):
    result = kit("--host-network", "stack", stack(tmp_path))
    assert result.returncode == 0
    assert "ha_start_daemon exits 0 (in the host's network namespace)" in result.stdout


def test_failing_stack_exits_1(tmp_path):
    result = kit("stack", stack(tmp_path, "liveset-missing-status"))
    assert result.returncode == 1
    assert [line.split()[0] for line in result.stdout.splitlines() if " FAIL " in line] == ["stack.liveset-schema"]


def test_junit_file_validates_and_names_the_failure(tmp_path):
    junit = str(tmp_path / "kit.xml")
    result = kit("--junit", junit, "--static", "driver", driver(tmp_path, "BadstackSR"))
    assert result.returncode == 1
    with open(junit, "rb") as f:
        document = etree.fromstring(f.read())
    with open(JUNIT_XSD, "rb") as f:
        schema = etree.XMLSchema(etree.fromstring(f.read()))
    assert schema.validate(document), schema.error_log
    failed = [c.get("name") for c in document.iter("testcase") if c.find("failure") is not None]
    assert failed == ["driver.required-cluster-stack"]
    assert document.find("testsuite").get("name") == "driver.BadstackSR"


def test_no_target_checks_every_driver_and_stack(tmp_path):
    stack(tmp_path, name="vendorstack")
    driver(tmp_path, "GoodSR")
    driver(tmp_path, "NoclusterstackSR")
    result = kit("--static", "--root", str(tmp_path / "root"), "--sm-dir", str(tmp_path / "sm"))
    assert result.returncode == 1
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
    unwritable = str(tmp_path / "no" / "such" / "dir" / "kit.xml")
    assert kit("--static", "--junit", unwritable, "stack", stack(tmp_path, name="other")).returncode == 2


def test_usage_error_says_why_without_traceback(tmp_path):
    result = kit("stack")
    assert result.returncode == 2
    assert "expected 'stack DIR', 'driver EXE' or nothing" in result.stderr
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
    assert len(result.stdout.splitlines()) == 26
    assert result.stdout.splitlines()[0].startswith("stack.name ")
