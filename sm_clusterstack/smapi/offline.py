"""Attaching a VDI without xapi, as static-vdis does for the HA statefile and the metadata VDI.

xapi attaches those two VDIs through static-vdis (xen-api
``ocaml/xapi/static_vdis.ml`` ``permanent_vdi_attach``, ``python3/bin/static-vdis``):
``add`` stores what ``VDI.generate_config`` answered, the driver's
``vdi_generate_config`` string, which is an SMAPIv1 methodCall document;
``attach`` runs the driver with that document as its one argument, at boot
too, before xapi runs (``call_backend_attach``: the answer's ``params`` is
the path); ``detach`` sends it back with the command changed to
``vdi_detach_from_config`` (``call_backend_detach``).

So the document carries everything the attach needs (device_config,
sr_uuid, the VDI's location and uuid) and no session, and
``vdi_attach_from_config`` never reaches XenAPI: it does the storage half
of ``sr_attach`` (the device must hold this SR; mount it, or activate the
LV) but not the pool half, the cluster-stack exclusion check, which reads
the pool through XenAPI.  That check already passed for this SR on this
host: the config is made only while the SR is attached here (an
``sr_attach`` that passed it) and only for enable_ha, whose heartbeat SR
xapi checks against the chosen stack (``xha_statefile.ml``
``check_sr_can_host_statefile``); and at boot a cluster filesystem mounts
only under the stack it was formatted for, whose daemons must be running.

A driver's SR class lists ``OfflineAttach`` before ``srbase.StorageSR``; its
storage layer provides ``check_identity(sr_uuid)``, ``vdi_attach(sr_uuid,
vdi_uuid) -> path`` and ``vdi_attach_offline(sr_uuid, vdi_uuid) -> path``.
"""

from sm_clusterstack.smapi import call as smapi_call
from sm_clusterstack.smapi.driver import Failure

ATTACH_FROM_CONFIG = "vdi_attach_from_config"


def config_document(call: smapi_call.Call, sr_uuid: str, vdi_uuid: str) -> str:
    """The methodCall that attaches VDI ``vdi_uuid`` of SR ``sr_uuid`` later, without xapi."""
    return smapi_call.Call(ATTACH_FROM_CONFIG, call.host_ref, (), dict(call.device_config),
                           sr_uuid=sr_uuid, vdi_location=vdi_uuid, vdi_uuid=vdi_uuid).to_xml()


class OfflineAttach(object):
    """The three commands of a ``StorageSR`` whose storage can attach a VDI from its config alone."""

    def vdi_generate_config(self) -> str:
        """The config document of a VDI that is there, on an SR attached on this host."""
        sr_uuid, vdi_uuid = self.sr_uuid, self.vdi_uuid
        storage = self._storage()
        storage.check_identity(sr_uuid)
        storage.vdi_attach(sr_uuid, vdi_uuid)  # SRUnavailable / VDIMissing unless attachable now
        return config_document(self.call, sr_uuid, vdi_uuid)

    def vdi_attach_from_config(self) -> dict:
        """Attach the SR (storage half of sr_attach) and the VDI: ``{params, xenstore_data}``."""
        sr_uuid, vdi_uuid = self._config_vdi()
        path = self._storage().vdi_attach_offline(sr_uuid, vdi_uuid)
        return {"params": path, "xenstore_data": {}}

    def vdi_detach_from_config(self) -> None:
        """Nothing to release (a file, or an LV left active as by vdi_detach); the SR's PBD keeps the SR."""
        self._config_vdi()
        self._storage(need_device=False)  # the device_config is still checked

    def _config_vdi(self) -> tuple:
        """``(sr_uuid, vdi_uuid)`` of a config document, checked."""
        sr_uuid, vdi_uuid = self.sr_uuid, self.vdi_uuid
        named = self.call.vdi_uuid
        if named is not None and named != vdi_uuid:
            raise Failure("ArgumentInvalid", "vdi_uuid %r differs from vdi_location %r"
                          % (named, vdi_uuid))
        return sr_uuid, vdi_uuid
