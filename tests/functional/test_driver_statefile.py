"""The HA statefile and metadata VDIs attached as static-vdis attaches them: at boot, without xapi.

xapi attaches both through static-vdis (xen-api ``ocaml/xapi/static_vdis.ml``
``permanent_vdi_attach``): ``add`` stores the string ``VDI.generate_config``
answers (the driver's ``vdi_generate_config``, ``ocaml/xapi/sm.ml``), and
``attach`` runs the driver with that string as its one argument and takes
the answer's ``params`` as the path (``python3/bin/static-vdis``
``call_backend_attach``), at boot too, before xapi runs; ``detach`` re-encodes
it with ``xmlrpc.client.dumps`` as ``vdi_detach_from_config``
(``call_backend_detach``).  Here the "boot" run gets an environment whose
XenAPI endpoint is a socket that does not exist: any XenAPI use would be a
PoolUnreachable fault.  The statefile is 266,240 bytes
(``ocaml/xapi/xha_statefile.ml`` ``minimum_statefile_size``), the metadata
VDI 3,988,783,104 (``ocaml/database/redo_log.ml`` ``minimum_vdi_size``).

Real mkfs.ocfs2, tunefs.ocfs2, blkid, debugfs.ocfs2, pvcreate, vgcreate,
pvs and lvs on loop devices.  Emulated (tests/functional/helpers/fakebin; no ocfs2
module, no device-mapper here): ``mount -t ocfs2`` and ``umount`` (a bind
mount stands for the filesystem), ``lvcreate`` and ``lvremove`` (a file at
``/dev/<vg>/<lv>`` stands for the active LV).
"""

import contextlib
import os
import shutil
import subprocess
import xmlrpc.client

import pytest

from helpers.drivers import DRIVERS, emulated_calls, environment, loop_device, new_uuid, run, \
    run_argv, unmount_under
from helpers.xapi_recorder import SESSION, one_host_pool
from sm_clusterstack.smapi import call as smapi_call
from sm_clusterstack.smapi import storage_base

STATEFILE_SIZE = 4096 + 64 * 4096
REDO_LOG_SIZE = (4000000000 // (4 << 20) - 2) * (4 << 20)


class SR(object):
    """Calls on one SR of a driver, members as xapi fills them."""

    def __init__(self, tmp_path, xapi, driver, device):
        self.tmp_path = tmp_path
        self.env = environment(tmp_path, emulators=True, xapi=xapi.path)
        self.driver = driver
        self.device = device
        self.sr_uuid = new_uuid()
        self.sr_ref = xapi.sr_ref

    def __call__(self, command, args=(), **members):
        members.setdefault("sr_uuid", self.sr_uuid)
        return run(self.driver, command, self.env, args=list(args),
                   device_config={"device": self.device, "SRmaster": "true"},
                   session_ref=SESSION, sr_ref=self.sr_ref, **members)

    def statefile(self, size=STATEFILE_SIZE, vdi_type="ha_statefile"):
        """A raw VDI as xha_statefile.ml ``create`` asks for it; its location."""
        created = self("vdi_create", [str(size)], vdi_sm_config={"type": "raw"}, vdi_type=vdi_type)
        assert created.fault is None, created.reason
        return created.value["location"]

    def generate_config(self, vdi):
        """What VDI.generate_config passes on: the driver's string (members as Sm_exec.make_call)."""
        return self("vdi_generate_config", vdi_ref="OpaqueRef:%s" % new_uuid(), vdi_location=vdi,
                    vdi_uuid=vdi, vdi_on_boot="persist", vdi_allow_caching="false")

    def boot_env(self):
        """The environment of a run at boot: no xapi behind the endpoint."""
        return dict(self.env, SM_CLUSTERSTACK_XAPI=str(self.tmp_path / "no-xapi.sock"))

    def attach_at_boot(self, config):
        """static-vdis ``call_backend_attach``: the driver with the stored config as its argument."""
        return run_argv(self.driver, [config], self.boot_env())

    def detach_at_boot(self, config):
        """static-vdis ``call_backend_detach``: the config re-encoded as vdi_detach_from_config."""
        params = xmlrpc.client.loads(config)[0][0]
        params["command"] = "vdi_detach_from_config"
        return run_argv(self.driver, [xmlrpc.client.dumps((params,), params["command"])], self.boot_env())


def mounted(point):
    return storage_base.is_mounted(str(point))


@contextlib.contextmanager
def created_sr(tmp_path, driver, sr_type, size_mb, cleanup):
    """An SR made by ``driver`` (sr_create) on a loop device, in a recording pool; ``cleanup(sr)`` after."""
    with one_host_pool(tmp_path, sr_type) as xapi:
        with loop_device(tmp_path, size_mb) as device:
            sr = SR(tmp_path, xapi, driver, device)
            try:
                assert sr("sr_create", ["0"]).fault is None
                yield sr
            finally:
                cleanup(sr)


# ---- OCFS2 -------------------------------------------------------------------

@pytest.fixture
def ocfs2(tmp_path):
    with created_sr(tmp_path, "OCFS2SR", "ocfs2", 128, lambda sr: unmount_under(tmp_path)) as sr:
        yield sr


def test_ocfs2_statefile_config_attaches_it_at_boot_without_xapi(tmp_path, ocfs2):
    """Emulated: ``mount -t ocfs2`` and ``umount``; the config round trip is static-vdis'."""
    assert ocfs2("sr_attach").fault is None
    vdi = ocfs2.statefile()
    generated = ocfs2.generate_config(vdi)
    assert generated.fault is None, generated.reason
    config = generated.value
    call = smapi_call.parse(config)
    assert (call.command, call.sr_uuid, call.vdi_location, call.session_ref) == \
        ("vdi_attach_from_config", ocfs2.sr_uuid, vdi, None)
    assert ocfs2("sr_detach").fault is None  # the host reboots: nothing is mounted
    point = tmp_path / "sr-mount" / ocfs2.sr_uuid
    attached = ocfs2.attach_at_boot(config)
    assert attached.fault is None, attached.reason
    assert attached.value == {"params": str(point / (vdi + ".raw")), "xenstore_data": {}}
    assert os.path.getsize(attached.value["params"]) == STATEFILE_SIZE
    assert emulated_calls(tmp_path, "mount")[-1] == ["mount", "-t", "ocfs2", ocfs2.device, str(point)]
    assert ocfs2.attach_at_boot(config).value == attached.value  # static-vdis attach again: idempotent
    assert len(emulated_calls(tmp_path, "mount")) == 2
    assert ocfs2.detach_at_boot(config).fault is None
    assert mounted(point)  # the SR stays: its PBD, plugged once xapi runs, owns it


def test_ocfs2_redo_log_vdi_is_a_sparse_file_on_a_filesystem_with_sparse_files(tmp_path, ocfs2):
    """Emulated: ``mount -t ocfs2`` (a bind mount of a host directory); the feature is mkfs.ocfs2's."""
    stats = subprocess.run(["debugfs.ocfs2", "-R", "stats", ocfs2.device], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE).stdout.decode()
    incompat = [line for line in stats.splitlines() if "Feature Incompat" in line]
    assert incompat and "sparse" in incompat[0].split()
    assert ocfs2("sr_attach").fault is None
    vdi = ocfs2.statefile(REDO_LOG_SIZE, "redo_log")  # 4 GB on a 128 MiB SR
    path = ocfs2.attach_at_boot(ocfs2.generate_config(vdi).value).value["params"]
    assert os.path.getsize(path) == REDO_LOG_SIZE and os.stat(path).st_blocks * 512 < 1 << 20


def test_ocfs2_config_for_a_device_holding_another_sr_mounts_nothing(tmp_path, ocfs2):
    assert ocfs2("sr_attach").fault is None
    config = ocfs2.generate_config(ocfs2.statefile()).value
    assert ocfs2("sr_detach").fault is None
    assert run("OCFS2SR", "sr_create", ocfs2.env, args=["0"], device_config={"device": ocfs2.device},
               session_ref=SESSION, sr_ref=ocfs2.sr_ref, sr_uuid=new_uuid()).fault is None
    answer = ocfs2.attach_at_boot(config)
    assert answer.code == 607 and "holds SR" in answer.reason
    assert len(emulated_calls(tmp_path, "mount")) == 1  # only the first sr_attach's


def test_ocfs2_config_of_a_deleted_vdi_is_vdi_missing_and_unmounts_again(tmp_path, ocfs2):
    """Emulated: ``mount -t ocfs2`` and ``umount``."""
    assert ocfs2("sr_attach").fault is None
    vdi = ocfs2.statefile()
    config = ocfs2.generate_config(vdi).value
    assert ocfs2("vdi_delete", vdi_location=vdi).fault is None
    assert ocfs2("sr_detach").fault is None
    assert ocfs2.attach_at_boot(config).code == 144
    assert not mounted(tmp_path / "sr-mount" / ocfs2.sr_uuid)
    assert len(emulated_calls(tmp_path, "umount")) == 2  # sr_detach's and the failed attach's


def test_ocfs2_generate_config_needs_the_sr_attached_here(ocfs2):
    assert ocfs2.generate_config(new_uuid()).code == 607


# ---- LVM ---------------------------------------------------------------------

def remove_volume_group(sr):
    """What an LVM SR leaves: the emulated LVs, the VG, the PV label."""
    vg = "VG_XenStorage-" + sr.sr_uuid
    shutil.rmtree(os.path.join("/dev", vg), ignore_errors=True)
    for argv in (["vgremove", "-f", vg], ["pvremove", "-ff", "-y", sr.device]):
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def lvm(tmp_path):
    with created_sr(tmp_path, "LVMSR", "lvm", 64, remove_volume_group) as sr:
        yield sr


def test_lvm_statefile_config_attaches_the_active_lv_at_boot_without_xapi(lvm):
    """Emulated: ``lvcreate``; the VG is found on the device by the real ``pvs``."""
    vdi = lvm.statefile()
    config = lvm.generate_config(vdi).value
    attached = lvm.attach_at_boot(config)
    assert attached.fault is None, attached.reason
    assert attached.value == {"params": "/dev/VG_XenStorage-%s/LV-%s" % (lvm.sr_uuid, vdi),
                              "xenstore_data": {}}
    assert lvm.detach_at_boot(config).fault is None


def test_lvm_config_of_a_removed_lv_is_vdi_missing(lvm):
    """Emulated: ``lvcreate`` and ``lvremove``; the real ``lvs`` finds no such LV."""
    vdi = lvm.statefile()
    config = lvm.generate_config(vdi).value
    assert lvm("vdi_delete", vdi_location=vdi).fault is None
    assert lvm.attach_at_boot(config).code == 144


def test_lvm_config_for_a_device_without_the_vg_is_sr_unavailable(tmp_path, lvm):
    """Emulated: ``lvcreate``."""
    config = lvm.generate_config(lvm.statefile()).value
    with loop_device(tmp_path, 16) as other:
        answer = lvm.attach_at_boot(config.replace(lvm.device, other))
    assert answer.code == 607 and "no volume group" in answer.reason


# ---- every driver --------------------------------------------------------------

BAD_CONFIGS = [
    ("not a call", "config", 600),
    ("truncated", '<methodCall><methodName>vdi_attach_from_config</methodName><params>', 600),
    ("entity", '<!DOCTYPE m [<!ENTITY e "x">]><methodCall><methodName>&e;</methodName></methodCall>', 600),
    ("no vdi", smapi_call.Call("vdi_attach_from_config", "OpaqueRef:h", (), {"device": "/dev/null"},
                               sr_uuid="3f2b0c1e-5d4a-4b6e-9c8d-7e6f5a4b3c2d").to_xml(), 600),
    ("path as vdi", smapi_call.Call("vdi_attach_from_config", "OpaqueRef:h", (), {"device": "/dev/null"},
                                    sr_uuid="3f2b0c1e-5d4a-4b6e-9c8d-7e6f5a4b3c2d",
                                    vdi_location="../../etc/shadow").to_xml(), 608),
    ("no device", smapi_call.Call("vdi_attach_from_config", "OpaqueRef:h", (), {},
                                  sr_uuid="3f2b0c1e-5d4a-4b6e-9c8d-7e6f5a4b3c2d",
                                  vdi_location="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d").to_xml(), 601),
    ("relative device", smapi_call.Call("vdi_attach_from_config", "OpaqueRef:h", (), {"device": "dev/x"},
                                        sr_uuid="3f2b0c1e-5d4a-4b6e-9c8d-7e6f5a4b3c2d",
                                        vdi_location="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d").to_xml(), 602),
]


@pytest.mark.parametrize("driver", ["OCFS2SR", "LVMSR"])
@pytest.mark.parametrize("name, config, code", BAD_CONFIGS, ids=[b[0] for b in BAD_CONFIGS])
def test_bad_config_is_a_fault_never_a_traceback(tmp_path, driver, name, config, code):
    answer = run_argv(driver, [config], environment(tmp_path))
    assert (answer.returncode, answer.code) == (0, code), answer.stdout
    assert "Traceback" not in answer.stdout + answer.stderr


@pytest.mark.parametrize("driver", sorted(name for name in os.listdir(DRIVERS) if name.endswith("SR")))
def test_a_driver_declares_vdi_generate_config_exactly_when_it_answers_it(tmp_path, driver):
    """xha_statefile.ml ``check_sr_can_host_statefile`` trusts the SM features alone."""
    env = environment(tmp_path)
    declared = "VDI_GENERATE_CONFIG" in run(driver, "sr_get_driver_info", env).value["capabilities"]
    for command in ("vdi_generate_config", "vdi_attach_from_config", "vdi_detach_from_config"):
        answer = run(driver, command, env, device_config={"device": str(tmp_path / "absent")},
                     sr_uuid=new_uuid(), vdi_location=new_uuid())
        assert (answer.code != 38) == declared, (command, answer.reason)
    assert declared == (driver != "MelioSR")
