"""OCFS2 storage with ocfs2-tools: one filesystem per SR, labelled with the SR's uuid.

``mkfs.ocfs2`` formats the device for the pool's cluster stack (ocfs2-tools
call corosync's user-space stack ``pcmk``), ``tunefs.ocfs2 -Q`` reads the
label back (the SR's identity), ``blkid -p`` finds OCFS2 filesystems for
probe, ``mount -t ocfs2`` mounts the SR on ``<mount root>/<sr_uuid>`` and
raw VDIs are files there.
"""

import typing

from sm_clusterstack import CLUSTER_NAME_PATTERN, DEFAULT_CLUSTER_NAME
from sm_clusterstack.smapi import storage_base
from sm_clusterstack.smapi.driver import Failure
from sm_clusterstack.smapi.storage_base import tool

LABEL_PREFIX = "sr-"  # label "sr-<uuid>": 39 characters, OCFS2 allows 63
MKFS_TIMEOUT = 1800.0  # seconds: formatting a large shared LUN takes a while
# The cluster stack names of this project -> ocfs2-tools' names for them.
OCFS2_STACKS = {"corosync-ha": "pcmk"}


def label_of(sr_uuid: str) -> str:
    """The filesystem label of an SR."""
    return LABEL_PREFIX + sr_uuid


def uuid_of(label: str) -> str:
    """The SR uuid a label carries, or "" when it is not an SR's label."""
    return label[len(LABEL_PREFIX):] if label.startswith(LABEL_PREFIX) else ""


class OCFS2Storage(storage_base.MountedVolume, storage_base.Storage):
    """An OCFS2 SR on ``device_config["device"]``."""

    def __init__(self, device_config: typing.Dict[str, str], cluster_stack: str = "corosync-ha",
                 run: storage_base.Run = storage_base.runner.run) -> None:
        super(OCFS2Storage, self).__init__(device_config, run)
        if cluster_stack not in OCFS2_STACKS:
            raise Failure("ConfigInvalid", "OCFS2 cannot run on cluster stack %r" % cluster_stack)
        self.ocfs2_stack = OCFS2_STACKS[cluster_stack]
        self.cluster_name = storage_base.optional_name(
            device_config, "cluster_name", DEFAULT_CLUSTER_NAME, CLUSTER_NAME_PATTERN)
        self.node_slots = storage_base.optional_int(device_config, "node_slots", 16, 1, 255)

    def identity(self) -> str:
        """The SR uuid in the device's OCFS2 label; "" when it holds no SR's OCFS2."""
        result = self.run(["tunefs.ocfs2", "-Q", "%V\\n", self.device],
                          timeout=storage_base.TOOL_TIMEOUT)
        if result.returncode == 127 or result.timed_out:
            storage_base.check(result)  # raises ToolMissing / ToolFailed
        # tunefs.ocfs2 exits 1 when the device holds no OCFS2 filesystem
        return uuid_of(result.stdout.strip()) if result.ok else ""

    def check_identity(self, sr_uuid: str) -> None:
        """SRUnavailable unless the device holds this SR's filesystem."""
        found = self.identity()
        if found != sr_uuid:
            held = "SR %s" % found if found else "no SR's OCFS2 filesystem"
            raise Failure("SRUnavailable", "%s holds %s, not SR %s" % (self.device, held, sr_uuid))

    def create(self, sr_uuid: str, size: int) -> None:
        """Format the device (answering mkfs's overwrite question) and check the label."""
        # -F: no cluster-wide "is it mounted elsewhere" check (xapi serialises SR.create);
        # stdin "y": the confirmation mkfs.ocfs2 asks before overwriting a filesystem.
        tool(self.run, ["mkfs.ocfs2", "-q", "-F", "-M", "cluster", "-N", str(self.node_slots),
                        "-L", label_of(sr_uuid), "--cluster-stack=" + self.ocfs2_stack,
                        "--cluster-name=" + self.cluster_name, self.device],
             stdin="y\n", timeout=MKFS_TIMEOUT)
        self.check_identity(sr_uuid)

    def mount(self, point: str) -> None:
        """Mount the filesystem on ``point``."""
        tool(self.run, ["mount", "-t", "ocfs2", self.device, point])

    def unmount(self, point: str) -> None:
        """Unmount ``point``."""
        tool(self.run, ["umount", point])

    def erase(self) -> None:
        """Wipe the filesystem signature off the device."""
        tool(self.run, ["wipefs", "-a", self.device])

    def probe(self) -> str:
        """The SRs whose OCFS2 filesystem is on the device (none or one)."""
        result = self.run(["blkid", "-p", "-o", "export", self.device],
                          timeout=storage_base.TOOL_TIMEOUT)
        # blkid exits 2 when it finds no signature on the device
        if result.returncode == 2:
            return storage_base.probe_document([])
        storage_base.check(result)
        fields = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        uuid = uuid_of(fields.get("LABEL", "")) if fields.get("TYPE") == "ocfs2" else ""
        return storage_base.probe_document([(uuid, self.device)] if uuid else [])

    def sizes(self, sr_uuid: str) -> typing.Tuple[int, int]:
        """(device size, bytes allocated to VDIs); the SR must be attached."""
        return storage_base.device_size(self.device), self.used_bytes(sr_uuid)
