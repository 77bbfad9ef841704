"""sr_get_driver_info of the three drivers, run as processes and read as xapi reads them."""

import os
import subprocess
import sys

import pytest

from helpers.drivers import DRIVERS, environment, run
from sm_clusterstack.smapi import call as smapi_call
from sm_clusterstack.smapi import driverinfo

EXPECTED = {"OCFS2SR": ("ocfs2", ["corosync-ha"]), "MelioSR": ("melio", ["melio"]), "LVMSR": ("lvm", [])}
STRINGS = ("name", "description", "vendor", "copyright", "driver_version", "required_api_version")


@pytest.mark.parametrize("driver", sorted(EXPECTED))
def test_driver_info_parses_under_xapis_rules(driver, tmp_path):
    answer = run(driver, "sr_get_driver_info", environment(tmp_path))
    assert answer.returncode == 0 and answer.fault is None, answer.stdout
    info = answer.value
    # what Sm_exec.parse_sr_get_driver_info demands, member by member
    for member in STRINGS:
        assert isinstance(info[member], str)
    assert all(isinstance(c, str) for c in info["capabilities"])
    assert all(isinstance(e["key"], str) and isinstance(e["description"], str)
               for e in info["configuration"])
    assert [f for f in driverinfo.findings(info)] == []


@pytest.mark.parametrize("driver", sorted(EXPECTED))
def test_driver_info_declares_its_required_cluster_stack(driver, tmp_path):
    info = run(driver, "sr_get_driver_info", environment(tmp_path)).value
    assert info["required_cluster_stack"] == EXPECTED[driver][1]


@pytest.mark.parametrize("driver", sorted(EXPECTED))
def test_driver_info_documents_device(driver, tmp_path):
    info = run(driver, "sr_get_driver_info", environment(tmp_path)).value
    assert "device" in [entry["key"] for entry in info["configuration"]]


@pytest.mark.parametrize("driver", sorted(EXPECTED))
def test_driver_info_imports_no_lxml_sqlite3_or_xenapi(driver, tmp_path):
    document = smapi_call.Call("sr_get_driver_info").to_xml()
    proc = subprocess.run([sys.executable, "-X", "importtime", os.path.join(DRIVERS, driver), document],
                          env=environment(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    imported = {line.split("|")[-1].strip() for line in proc.stderr.decode().splitlines()
                if line.startswith("import time:")}
    assert "sm_clusterstack.smapi.driver" in imported  # the check sees the driver's imports
    forbidden = ("lxml", "sqlite3", "_sqlite3", "XenAPI", "typing", "xmlrpc")
    heavy = {m for m in imported if m.split(".")[0] in forbidden}
    assert heavy == set()


def test_driver_logs_each_call_to_stderr_without_syslog(tmp_path):
    if os.path.exists("/dev/log"):
        pytest.skip("/dev/log exists: the drivers log to syslog here")
    answer = run("LVMSR", "sr_get_driver_info", environment(tmp_path))
    assert "SM: LVMSR: sr_get_driver_info: ok" in answer.stderr
