"""The SR class the three drivers share: argument checks, the attach-time check, storage calls.

A driver subclasses ``StorageSR``, names its ``TYPE`` and returns its
storage layer from ``storage()`` (imported there, lazily).  The commands
here check the call's arguments, run the pool check where an SR is about
to be attached, and hand the storage work to the storage layer, whose
interface ``storage_base.Storage`` documents.  On start-up this module
costs no more than ``driver``: everything else is imported by a command.
"""

import abc
import re

from sm_clusterstack.digits import is_digits
from sm_clusterstack.smapi import driver
from sm_clusterstack.smapi.driver import Failure

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def check_uuid(value, member: str) -> str:
    """``value`` if it is a lower-case UUID (it names volumes and paths), else ArgumentInvalid."""
    if not isinstance(value, str) or not _UUID.match(value):
        raise Failure("ArgumentInvalid", "%s must be a UUID, not %r" % (member, value))
    return value


def size_argument(args: list, what: str) -> int:
    """The size in bytes xapi passes as the first argument, as a non-negative integer."""
    if not args or not is_digits(args[0], max_length=19):
        raise Failure("ArgumentInvalid", "%s: args[0] must be a size in bytes, got %r"
                      % (what, args[0] if args else None))
    return int(args[0])


class StorageSR(driver.SR, metaclass=abc.ABCMeta):
    """An SR whose storage work is done by a ``storage_base.Storage`` layer."""

    TYPE = ""

    @abc.abstractmethod
    def storage(self):
        """The driver's storage layer for this call's device_config."""

    def _storage(self, need_device: bool = True):
        """The storage layer; ``need_device``: the device must exist (not so to detach)."""
        storage = self.storage()
        if need_device:
            from sm_clusterstack.smapi import storage_base
            storage_base.check_exists(storage.given_device)
        return storage

    @property
    def sr_uuid(self) -> str:
        """The SR's uuid, checked."""
        return check_uuid(self.call.sr_uuid, "sr_uuid")

    @property
    def vdi_uuid(self) -> str:
        """The VDI's location (its uuid in these SRs), checked."""
        return check_uuid(self.call.vdi_location, "vdi_location")

    def check_pool(self) -> None:
        """Refuse (IncompatibleClusterStack) to attach where another cluster stack is active."""
        needs = list(self.driver_info.get("required_cluster_stack", ()))
        if not needs:
            return  # no constraint: nothing in the pool can refuse this SR
        from sm_clusterstack.smapi import pool
        pool.check_attach(self.call, self.TYPE, needs)

    def sr_create(self):
        """Make the SR's volume on the device, if the pool allows the SR."""
        size = size_argument(self.call.args, "sr_create")
        uuid = self.sr_uuid
        storage = self._storage()
        self.check_pool()
        storage.create(uuid, size)

    def sr_delete(self):
        """Destroy the SR's volume, if the pool allows it; refused (SRNotEmpty) while it holds VDIs.

        Looking for VDIs mounts the volume: the same attach-time check as sr_attach first.
        """
        uuid = self.sr_uuid
        storage = self._storage()
        self.check_pool()
        storage.delete(uuid)

    def sr_attach(self):
        """Make the SR usable on this host, if the pool allows it."""
        uuid = self.sr_uuid
        storage = self._storage()
        self.check_pool()
        storage.attach(uuid)

    def sr_detach(self):
        """Stop using the SR on this host (success when it was not attached)."""
        self._storage(need_device=False).detach(self.sr_uuid)

    def sr_probe(self) -> str:
        """An XML document listing the SRs found on the device (nothing is attached)."""
        return self._storage().probe()

    def sr_scan(self):
        """Check the SR's VDIs and report its sizes to xapi."""
        uuid = self.sr_uuid
        storage = self._storage()
        storage.vdis(uuid)
        self._report_sizes(storage, uuid)

    def sr_update(self):
        """Report the SR's physical size and utilisation, from the tools, to xapi."""
        uuid = self.sr_uuid
        self._report_sizes(self._storage(), uuid)

    def _report_sizes(self, storage, uuid: str) -> None:
        size, used = storage.sizes(uuid)
        from sm_clusterstack.smapi import pool
        pool.report_sizes(self.call, size, used)

    def vdi_create(self) -> dict:
        """A raw VDI of the asked size (args[0]): answers its uuid and location."""
        size = size_argument(self.call.args, "vdi_create")
        vdi_type = (self.call.vdi_sm_config or {}).get("type", "raw")
        if vdi_type != "raw":
            raise Failure("ArgumentInvalid", "only raw VDIs are supported, not %r" % vdi_type)
        import uuid as uuid_module
        vdi = str(uuid_module.uuid4())
        self._storage().vdi_create(self.sr_uuid, vdi, size)
        return {"uuid": vdi, "location": vdi}

    def vdi_delete(self):
        """Remove a VDI (VDIMissing when it is not there)."""
        self._storage().vdi_delete(self.sr_uuid, self.vdi_uuid)

    def vdi_attach(self) -> dict:
        """The local path of the VDI: ``{params, xenstore_data}``."""
        path = self._storage().vdi_attach(self.sr_uuid, self.vdi_uuid)
        return {"params": path, "xenstore_data": {}}

    def vdi_detach(self):
        """Release the VDI on this host."""
        self._storage(need_device=False).vdi_detach(self.sr_uuid, self.vdi_uuid)
