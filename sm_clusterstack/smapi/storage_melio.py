"""Melio storage through the vendor's command-line tool; raw VDIs are files on the mounted volume.

The vendor CLI's name and every argument vector it is given live in
``CLI`` and ``ARGV`` below and nowhere else, so a different CLI release
is a change to this table.  The CLI is not shipped with this project: when
it is absent every command answers ToolMissing, naming it.

Expected CLI behaviour: exit 0 on success, a message on stderr otherwise;
``volume info`` prints ``key=value`` lines including ``label``, ``size``
and ``used`` (bytes) and exits 2 when the device holds no Melio volume.
"""

import typing

from sm_clusterstack.smapi import storage_base
from sm_clusterstack.smapi.driver import Failure
from sm_clusterstack.smapi.storage_base import tool

CLI = "melioctl"
ARGV = {
    "format": ("volume", "create", "--device", "{device}", "--label", "{label}"),
    "info": ("volume", "info", "--device", "{device}"),
    "mount": ("volume", "mount", "--device", "{device}", "--mountpoint", "{mount_point}"),
    "unmount": ("volume", "unmount", "--mountpoint", "{mount_point}"),
    "destroy": ("volume", "destroy", "--device", "{device}"),
}
INFO_NO_VOLUME = 2  # exit status of "volume info" on a device without a Melio volume
LABEL_PREFIX = "sr-"


def argv(action: str, **values: str) -> typing.List[str]:
    """The CLI's argv for ``action`` with its placeholders filled."""
    return [CLI] + [part.format(**values) for part in ARGV[action]]


class MelioStorage(storage_base.MountedVolume, storage_base.Storage):
    """A Melio SR on ``device_config["device"]``."""

    def info(self) -> typing.Dict[str, str]:
        """The volume's ``key=value`` facts; {} when the device holds no Melio volume."""
        result = self.run(argv("info", device=self.device), timeout=storage_base.TOOL_TIMEOUT)
        if result.returncode == INFO_NO_VOLUME:
            return {}
        storage_base.check(result)
        return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)

    def check_identity(self, sr_uuid: str) -> typing.Dict[str, str]:
        """The volume's facts; SRUnavailable unless it is this SR's volume."""
        facts = self.info()
        if facts.get("label") != LABEL_PREFIX + sr_uuid:
            raise Failure("SRUnavailable", "%s holds %s, not SR %s" % (
                self.device, facts.get("label") or "no Melio volume", sr_uuid))
        return facts

    def create(self, sr_uuid: str, size: int) -> None:
        """Create the SR's Melio volume on the device."""
        tool(self.run, argv("format", device=self.device, label=LABEL_PREFIX + sr_uuid))
        self.check_identity(sr_uuid)

    def mount(self, point: str) -> None:
        """Have the CLI mount the volume on ``point``."""
        tool(self.run, argv("mount", device=self.device, mount_point=point))

    def unmount(self, point: str) -> None:
        """Have the CLI unmount ``point``."""
        tool(self.run, argv("unmount", mount_point=point))

    def erase(self) -> None:
        """Destroy the Melio volume on the device."""
        tool(self.run, argv("destroy", device=self.device))

    def probe(self) -> str:
        """The SR whose Melio volume is on the device, if any."""
        label = self.info().get("label", "")
        uuid = label[len(LABEL_PREFIX):] if label.startswith(LABEL_PREFIX) else ""
        return storage_base.probe_document([(uuid, self.device)] if uuid else [])

    def sizes(self, sr_uuid: str) -> typing.Tuple[int, int]:
        """(size, used) as the CLI reports them."""
        facts = self.check_identity(sr_uuid)
        try:
            return int(facts["size"]), int(facts["used"])
        except (KeyError, ValueError):
            raise Failure("ToolFailed", "%s volume info: no integer size/used in %r" % (CLI, facts))
