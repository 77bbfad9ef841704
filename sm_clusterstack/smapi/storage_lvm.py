"""LVM storage with lvm2: one volume group per SR, raw VDIs as logical volumes.

The volume group is ``VG_XenStorage-<sr_uuid>`` (the upstream sm
convention) on ``device``; a VDI is the LV ``LV-<vdi_uuid>``, attached at
``/dev/<vg>/<lv>``.  ``pvs`` identifies the SR on a device, ``vgs`` gives
the sizes, ``lvs`` (and the active LVs under ``/dev/<vg>``) the VDIs.
"""

import os
import typing

from sm_clusterstack.smapi import storage_base
from sm_clusterstack.smapi.driver import Failure
from sm_clusterstack.smapi.storage_base import tool

VG_PREFIX = "VG_XenStorage-"
LV_PREFIX = "LV-"
DEV_ROOT = "/dev"


def vg_name(sr_uuid: str) -> str:
    """The volume group of an SR."""
    return VG_PREFIX + sr_uuid


def _fields(result) -> typing.List[typing.List[str]]:
    return [line.split() for line in result.stdout.splitlines() if line.strip()]


class LVMStorage(storage_base.Storage):
    """An LVM SR on ``device_config["device"]``."""

    def vg_of_device(self) -> str:
        """The volume group the device belongs to; "" when it is no PV or in none."""
        result = self.run(["pvs", "--noheadings", "-o", "vg_name", self.device],
                          timeout=storage_base.TOOL_TIMEOUT)
        if result.returncode == 127 or result.timed_out:
            storage_base.check(result)
        # pvs exits 5 when the device is not a physical volume
        rows = _fields(result) if result.ok else []
        return rows[0][0] if rows and rows[0] else ""

    def check_identity(self, sr_uuid: str) -> str:
        """The SR's VG name; SRUnavailable unless the device carries it."""
        found = self.vg_of_device()
        if found != vg_name(sr_uuid):
            held = "volume group %s" % found if found else "no volume group"
            raise Failure("SRUnavailable", "%s holds %s, not SR %s" % (self.device, held, sr_uuid))
        return found

    def create(self, sr_uuid: str, size: int) -> None:
        """Make the device a PV and the SR's VG on it; SRInUse if it is in a VG already."""
        found = self.vg_of_device()
        if found:
            raise Failure("SRInUse", "%s belongs to volume group %s" % (self.device, found))
        tool(self.run, ["pvcreate", "-ff", "-y", self.device])
        tool(self.run, ["vgcreate", vg_name(sr_uuid), self.device])

    def delete(self, sr_uuid: str) -> None:
        """Remove the VG and the PV label; SRNotEmpty while LVs remain."""
        vg = self.check_identity(sr_uuid)
        remaining = self.vdis(sr_uuid)
        if remaining:
            raise Failure("SRNotEmpty", "%d VDI(s) remain" % len(remaining))
        tool(self.run, ["vgremove", "-f", vg])
        tool(self.run, ["pvremove", "-ff", "-y", self.device])

    def attach(self, sr_uuid: str) -> None:
        """Check the device carries the SR's VG (a local VG needs nothing more)."""
        self.check_identity(sr_uuid)

    def detach(self, sr_uuid: str) -> None:
        """Nothing to release for a local VG."""

    def probe(self) -> str:
        """The SR whose VG is on the device, if any."""
        vg = self.vg_of_device()
        uuid = vg[len(VG_PREFIX):] if vg.startswith(VG_PREFIX) else ""
        return storage_base.probe_document([(uuid, self.device)] if uuid else [])

    def vdis(self, sr_uuid: str) -> typing.List[str]:
        """The uuids of the SR's LVs: those lvs lists and the active ones under /dev/<vg>."""
        vg = vg_name(sr_uuid)
        result = tool(self.run, ["lvs", "--noheadings", "-o", "lv_name", vg])
        names = {row[0] for row in _fields(result)}
        active = os.path.join(DEV_ROOT, vg)
        if os.path.isdir(active):
            names.update(os.listdir(active))
        return sorted(n[len(LV_PREFIX):] for n in names if n.startswith(LV_PREFIX))

    def sizes(self, sr_uuid: str) -> typing.Tuple[int, int]:
        """(VG size, VG size - VG free), in bytes, from vgs."""
        result = tool(self.run, ["vgs", "--noheadings", "--units", "b", "--nosuffix",
                                 "-o", "vg_size,vg_free", vg_name(sr_uuid)])
        rows = _fields(result)
        try:
            size, free = int(rows[0][0]), int(rows[0][1])
        except (IndexError, ValueError):
            raise Failure("ToolFailed", "vgs: unexpected output %r" % result.stdout)
        return size, size - free

    def lv_path(self, sr_uuid: str, vdi_uuid: str) -> str:
        """The device path of a VDI's LV."""
        return os.path.join(DEV_ROOT, vg_name(sr_uuid), LV_PREFIX + vdi_uuid)

    def vdi_create(self, sr_uuid: str, vdi_uuid: str, size: int) -> str:
        """An LV of ``size`` bytes (rounded up to an extent by LVM)."""
        if size <= 0:
            raise Failure("ArgumentInvalid", "an LV needs a positive size, not %d" % size)
        tool(self.run, ["lvcreate", "-n", LV_PREFIX + vdi_uuid, "-L", "%db" % size,
                        vg_name(sr_uuid)])
        return self.lv_path(sr_uuid, vdi_uuid)

    def vdi_delete(self, sr_uuid: str, vdi_uuid: str) -> None:
        """Remove the LV (VDIMissing when there is none)."""
        if vdi_uuid not in self.vdis(sr_uuid):
            raise Failure("VDIMissing", vdi_uuid)
        tool(self.run, ["lvremove", "-f", "%s/%s%s" % (vg_name(sr_uuid), LV_PREFIX, vdi_uuid)])

    def vdi_attach(self, sr_uuid: str, vdi_uuid: str) -> str:
        """The LV's path, ``/dev/<vg>/<lv>`` (VDIMissing when it is not active)."""
        path = self.lv_path(sr_uuid, vdi_uuid)
        if not os.path.exists(path):
            raise Failure("VDIMissing", vdi_uuid)
        return path

    def vdi_attach_offline(self, sr_uuid: str, vdi_uuid: str) -> str:
        """Check the device carries the SR's VG, activate the LV unless it is active; its path."""
        vg = self.check_identity(sr_uuid)
        if not os.path.exists(self.lv_path(sr_uuid, vdi_uuid)):
            if vdi_uuid not in self.vdis(sr_uuid):
                raise Failure("VDIMissing", vdi_uuid)
            tool(self.run, ["lvchange", "-ay", "%s/%s%s" % (vg, LV_PREFIX, vdi_uuid)])
        return self.vdi_attach(sr_uuid, vdi_uuid)

    def vdi_detach(self, sr_uuid: str, vdi_uuid: str) -> None:
        """Nothing to release: the LV stays active on this local VG."""
