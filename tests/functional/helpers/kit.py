"""Shared by the kit's functional tests: the real JUnit schemas, the kit as a process."""

import os
import sys

import pytest
from lxml import etree

from sm_clusterstack import runner
from sm_clusterstack.kit import check, report

from helpers import REPO, sandbox_prefix

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "kit")
JUNIT_SCHEMAS = ("jenkins-junit-10.xsd", "ant-JUnit.xsd")


def thirdparty_dir():
    """``shared/thirdparty`` above the clone, or $SM_CLUSTERSTACK_THIRDPARTY; None when absent."""
    found = os.environ.get("SM_CLUSTERSTACK_THIRDPARTY")
    if found:
        return found if os.path.isdir(found) else None
    here = HERE
    while os.path.dirname(here) != here:
        here = os.path.dirname(here)
        if os.path.isdir(os.path.join(here, "shared", "thirdparty")):
            return os.path.join(here, "shared", "thirdparty")
    return None


def assert_valid_junit(document):
    """``document`` is valid against the Jenkins xunit and the Ant JUnit schemas (skip when they are absent)."""
    folder = thirdparty_dir()
    paths = [os.path.join(folder or "", "junit", name) for name in JUNIT_SCHEMAS]
    if folder is None or not all(os.path.isfile(p) for p in paths):
        pytest.skip("the JUnit schemas are not here: no shared/thirdparty/junit above the clone "
                    "and no $SM_CLUSTERSTACK_THIRDPARTY")
    for path in paths:
        with open(path, "rb") as f:
            schema = etree.XMLSchema(etree.fromstring(f.read()))
        assert schema.validate(document), (os.path.basename(path), schema.error_log)


def kit(*args, timeout=600):
    """``sm-clusterstack kit ARGS`` as a process."""
    result = runner.run([sys.executable, "-m", "sm_clusterstack.cli", "kit"] + list(args), timeout=timeout)
    print(result.stdout, result.stderr)
    return result


def sandbox_skip_reason():
    """Why the kit's host sandboxes cannot be made here ("" when they can)."""
    if os.geteuid() != 0:
        return "the kit's host sandboxes need root (network and mount namespaces)"
    for tool in ("ip", "nsenter", "unshare", "mount"):
        if not any(os.access(os.path.join(d, tool), os.X_OK)
                   for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/sbin", "/usr/bin"]):
            return "the kit's host sandboxes need %s (iproute2, util-linux)" % tool
    return ""


def check_stack(tmp_path, path, hosts=1, timeout=10.0, **extra):
    """The kit's stack suite of ``path`` on ``hosts`` sandboxed hosts (namespaces s13-<pid>-<n>-..., all removed)."""
    mine = sandbox_prefix("s13")
    options = check.Options(timeout=timeout, start_timeout=60.0, owner_uid=os.getuid(), sandbox_parent=str(tmp_path),
                            hosts=hosts, ha_timeout=10, sandbox_prefix=mine, **extra)
    suite = check.check_stack(path, options)
    print(report.table([suite]))
    left = [line.split()[0] for line in runner.run(["ip", "netns", "list"], timeout=10).stdout.splitlines() if line]
    assert [name for name in left if name.startswith(mine + "-")] == [], "the kit left namespaces behind"
    return suite
