"""The design's scenarios with the project's real drivers (OCFS2SR, LVMSR, MelioSR) under the shim.

Real tools on loop devices: mkfs.ocfs2, blkid, tunefs.ocfs2, pvcreate,
vgcreate, vgs.  This machine has no ocfs2 kernel module, no device-mapper
and no Melio CLI, so the server runs with ``--emulate-storage``: whatever
of ``mount -t ocfs2``/``umount``, ``lvcreate``/``lvremove`` and ``melioctl``
this kernel cannot serve is EMULATED (sm_clusterstack.emulation, its
commands first on the PATH the drivers get, its settings in the host
sandbox's own /etc/sm-clusterstack).  The host is a host sandbox, as HA
needs (a management PIF); the disks are big enough for xapi's statefile and
4 GB metadata VDI (sparse files).  The cluster stacks are the recording
fixture stacks of helpers.shim (corosync-ha's ha_supported_srs lists ocfs2, as
the shipped one).
"""

import os
import subprocess
import sys

import pytest

from helpers.drivers import loop_device, unmount_under
from helpers.shim import Server, failure, make_stack

DISK_MB = 4800  # > xha_statefile.ml minimum_sr_size (statefile + 4 GB redo_log)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def pool(tmp_path):
    stacks = str(tmp_path / "stacks")
    for name, supported in (("xhad", None), ("corosync-ha", ["ocfs2"]), ("melio", ["melio"])):
        make_stack(stacks, name, str(tmp_path / "stack.log"), str(tmp_path / "stack-ctl"), supported)
    env = dict(os.environ, PATH=":".join([os.path.dirname(sys.executable), os.environ["PATH"]]),
               SM_CLUSTERSTACK_SR_MOUNT=str(tmp_path / "sr-mount"))
    server = Server(str(tmp_path / "state"), os.path.join(ROOT, "drivers"), stacks, hosts=1, env=env, sandbox=True,
                    extra=["--emulate-storage"])
    with loop_device(tmp_path, DISK_MB) as ocfs2_dev, loop_device(tmp_path, DISK_MB) as lvm_dev:
        server.start()
        session = server.session()
        try:
            yield session.xenapi, ocfs2_dev, lvm_dev
        finally:
            _tear_down(session.xenapi)
            server.stop()
            unmount_under(tmp_path)
            _remove_vgs(lvm_dev)


def _tear_down(x):
    try:
        if x.pool.get_ha_enabled(x.pool.get_all()[0]):
            x.pool.disable_ha()
        for sr in x.SR.get_all():
            for pbd in x.SR.get_PBDs(sr):
                x.PBD.unplug(pbd)
            x.SR.destroy(sr)
    except Exception:  # best effort: the loop devices go anyway
        pass


def _remove_vgs(device):
    out = subprocess.run(["pvs", "--noheadings", "-o", "vg_name", device], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout.decode().split()
    for vg in out:
        subprocess.run(["vgremove", "-f", vg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def create(x, sr_type, device, **config):
    master = x.pool.get_master(x.pool.get_all()[0])
    return x.SR.create(master, dict(config, device=device), str(DISK_MB << 20), sr_type, "", sr_type, "user",
                       True, {})


def test_ocfs2_sr_makes_ha_choose_corosync_ha_with_statefile_on_it(pool):
    x, ocfs2_dev, lvm_dev = pool
    ocfs2 = create(x, "ocfs2", ocfs2_dev, node_slots="4")
    lvm = create(x, "lvm", lvm_dev)
    assert failure(x.pool.enable_ha, [lvm], {}) == ["INCOMPATIBLE_STATEFILE_SR", "ocfs2"]
    assert failure(x.pool.enable_ha, [lvm], {}, "xhad") == ["CLUSTER_STACK_CONSTRAINT", ocfs2, "corosync-ha"]
    assert failure(x.pool.enable_ha, [ocfs2], {}, "foo") == ["UNKNOWN_CLUSTER_STACK", "foo"]
    assert failure(create, x, "melio", "/dev/null") == ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "melio"]
    x.pool.enable_ha([ocfs2], {})
    pool_ref = x.pool.get_all()[0]
    assert x.pool.get_ha_cluster_stack(pool_ref) == "corosync-ha"
    [statefile] = x.pool.get_ha_statefiles(pool_ref)
    assert x.VDI.get_SR(statefile) == ocfs2
    x.pool.disable_ha()
    assert statefile in x.VDI.get_all_records()  # released, kept for the next enable


def test_ha_on_xhad_then_creating_ocfs2_sr_is_refused(pool):
    x, ocfs2_dev, lvm_dev = pool
    lvm = create(x, "lvm", lvm_dev)
    x.pool.enable_ha([lvm], {})
    assert x.pool.get_ha_cluster_stack(x.pool.get_all()[0]) == "xhad"
    assert failure(create, x, "ocfs2", ocfs2_dev) == ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "corosync-ha"]
    assert [r["type"] for r in x.SR.get_all_records().values()] == ["lvm"]


def vg_numbers(device, vg, fields):
    """``fields`` of ``vg`` in bytes, as the machine's vgs reads them from ``device`` alone.

    --devices: not every block device the machine has, as other tests' loop
    devices come and go and their VGs are written meanwhile (under their
    own sandboxes' LVM locks, which this vgs does not take).
    """
    out = subprocess.run(["vgs", "--devices", device, "--noheadings", "--units", "b", "--nosuffix", "-o", fields, vg],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [int(v) for v in out.stdout.split()]


def test_sr_update_records_sizes_the_real_lvm_tools_report(pool):
    """LVMSR's sr_update reads vgs on the loop device and reports back through SR.set_physical_*."""
    x, _ocfs2_dev, lvm_dev = pool
    lvm = create(x, "lvm", lvm_dev)
    x.SR.set_physical_size(lvm, "1")
    x.SR.update(lvm)
    vg = "VG_XenStorage-" + x.SR.get_uuid(lvm)
    size, free = vg_numbers(lvm_dev, vg, "vg_size,vg_free")
    assert int(x.SR.get_physical_size(lvm)) == size > 250 * 2 ** 20
    assert int(x.SR.get_physical_utilisation(lvm)) == size - free


def test_sr_update_of_unplugged_sr_is_sr_no_pbds(pool):
    x, _ocfs2_dev, lvm_dev = pool
    lvm = create(x, "lvm", lvm_dev)
    for pbd in x.SR.get_PBDs(lvm):
        x.PBD.unplug(pbd)
    assert failure(x.SR.update, lvm) == ["SR_HAS_NO_PBDS", lvm]


def test_negative_physical_size_is_refused(pool):
    x, _ocfs2_dev, lvm_dev = pool
    lvm = create(x, "lvm", lvm_dev)
    assert failure(x.SR.set_physical_size, lvm, "-5") == ["INVALID_VALUE", "physical_size", "-5"]


def test_created_sr_has_the_size_its_driver_reports_without_a_scan(pool):
    """message_forwarding.ml PBD.plug: the master's plug runs the initial SR update (Xapi_sr.update, the
    driver's sr_update), so SR.create without physical-size leaves no SR of size 0 for enable_ha to refuse."""
    x, _ocfs2_dev, lvm_dev = pool
    master = x.pool.get_master(x.pool.get_all()[0])
    lvm = x.SR.create(master, {"device": lvm_dev}, "0", "lvm", "", "lvm", "user", True, {})
    vg = "VG_XenStorage-" + x.SR.get_uuid(lvm)
    assert int(x.SR.get_physical_size(lvm)) == vg_numbers(lvm_dev, vg, "vg_size")[0] > 4000 * 2 ** 20
    x.pool.enable_ha([lvm], {})
