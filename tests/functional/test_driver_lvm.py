"""LVMSR end to end: real pvcreate, vgcreate, pvs, vgs, lvs, vgremove and pvremove on a loop device.

Only ``lvcreate`` and ``lvremove`` are emulated (no device-mapper here):
tests/functional/helpers/fakebin records their argv and stands for the active LV
with a file at ``/dev/<vg>/<lv>``.  Each test that creates VDIs says so.
"""

import os
import shutil
import subprocess

import pytest

from helpers.drivers import emulated_calls, environment, loop_device, new_uuid, run
from helpers.xapi_recorder import SESSION

VDI_SIZE = 8 * 1024 * 1024


pytestmark = pytest.mark.xapi("lvm")  # the SR type of the conftest's recording xapi


@pytest.fixture
def device(tmp_path):
    with loop_device(tmp_path, 64) as path:
        try:
            yield path
        finally:  # whatever a failing test left: the emulated LVs, the VG, the PV label
            vg = subprocess.run(["pvs", "--noheadings", "-o", "vg_name", path],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode().strip()
            if vg:
                shutil.rmtree(os.path.join("/dev", vg), ignore_errors=True)
                subprocess.run(["vgremove", "-f", vg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run(["pvremove", "-ff", "-y", path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


class SR(object):
    """Calls on one LVM SR, members as xapi fills them."""

    def __init__(self, tmp_path, xapi, device):
        self.env = environment(tmp_path, emulators=True, xapi=xapi.path)
        self.device = device
        self.sr_uuid = new_uuid()
        self.sr_ref = xapi.sr_ref

    @property
    def vg(self):
        return "VG_XenStorage-" + self.sr_uuid

    def __call__(self, command, args=(), **members):
        members.setdefault("sr_uuid", self.sr_uuid)
        return run("LVMSR", command, self.env, args=list(args),
                   device_config={"device": self.device, "SRmaster": "true"},
                   session_ref=SESSION, sr_ref=self.sr_ref, **members)


def vgs(vg):
    proc = subprocess.run(["vgs", "--noheadings", "-o", "vg_name", vg], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL)
    return proc.stdout.decode().strip()


def test_create_makes_the_volume_group_named_after_the_sr(tmp_path, xapi, device):
    sr = SR(tmp_path, xapi, device)
    assert sr("sr_create", ["0"]).fault is None
    assert vgs(sr.vg) == sr.vg
    assert "<UUID>%s</UUID>" % sr.sr_uuid in sr("sr_probe").value


def test_create_refuses_a_device_already_in_a_volume_group(tmp_path, xapi, device):
    SR(tmp_path, xapi, device)("sr_create", ["0"])
    answer = SR(tmp_path, xapi, device)("sr_create", ["0"])
    assert answer.code == 16 and "VG_XenStorage-" in answer.reason  # SRInUse


def test_update_reports_the_sizes_vgs_gives(tmp_path, xapi, device):
    sr = SR(tmp_path, xapi, device)
    sr("sr_create", ["0"])
    assert sr("sr_update").fault is None
    size = subprocess.run(["vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_size", sr.vg],
                          stdout=subprocess.PIPE).stdout.decode().strip()
    assert xapi.recorder.records.srs[sr.sr_ref]["physical_size"] == size
    assert xapi.calls == ["SR.set_physical_size", "SR.set_physical_utilisation"]


def test_lifecycle_with_a_raw_vdi(tmp_path, xapi, device):
    """Emulated: ``lvcreate`` and ``lvremove``; the VG, PV and sizes are the real tools'."""
    sr = SR(tmp_path, xapi, device)
    assert sr("sr_create", ["0"]).fault is None
    assert sr("sr_attach").fault is None
    created = sr("vdi_create", [str(VDI_SIZE)], vdi_sm_config={"type": "raw"})
    assert created.fault is None, created.reason
    vdi = created.value["uuid"]
    lv = "LV-" + vdi
    assert emulated_calls(tmp_path, "lvcreate") == [["lvcreate", "-n", lv, "-L", "%db" % VDI_SIZE, sr.vg]]
    assert sr("vdi_attach", ["true"], vdi_location=vdi).value["params"] == "/dev/%s/%s" % (sr.vg, lv)
    assert sr("sr_scan").fault is None
    assert sr("sr_delete").code == 39  # SRNotEmpty
    assert sr("vdi_delete", vdi_location=vdi).fault is None
    assert emulated_calls(tmp_path, "lvremove") == [["lvremove", "-f", "%s/%s" % (sr.vg, lv)]]
    assert sr("vdi_attach", ["true"], vdi_location=vdi).code == 144  # VDIMissing
    assert sr("sr_detach").fault is None
    assert sr("sr_delete").fault is None
    assert vgs(sr.vg) == ""


def test_attach_refuses_a_device_without_the_srs_volume_group(tmp_path, xapi, device):
    answer = SR(tmp_path, xapi, device)("sr_attach")
    assert answer.code == 607 and "no volume group" in answer.reason


def test_non_raw_vdi_is_refused(tmp_path, xapi, device):
    sr = SR(tmp_path, xapi, device)
    sr("sr_create", ["0"])
    assert sr("vdi_create", [str(VDI_SIZE)], vdi_sm_config={"type": "vhd"}).code == 608
