"""What the storage layers share: device_config checks, the tool call, mounts, file VDIs.

A storage layer (``storage_ocfs2``, ``storage_lvm``, ``storage_melio``)
implements the ``Storage`` interface below with the real tools, always
through ``tool()``, which runs ``runner.run`` (argv list, timeout, stderr
captured) and turns a missing or failing tool into an SM fault whose
reason carries the tool's stderr.  Layers take the runner as an argument
so unit tests can hand them a strict fake.
"""

import os
import re
import stat
import typing

from sm_clusterstack import runner
from sm_clusterstack.digits import is_digits
from sm_clusterstack.smapi.driver import Failure

FILE_DEVICES_ENV = "SM_CLUSTERSTACK_FILE_DEVICES"  # a directory whose regular files may stand for devices
MOUNT_ROOT_ENV = "SM_CLUSTERSTACK_SR_MOUNT"
DEFAULT_MOUNT_ROOT = "/run/sr-mount"
TOOL_TIMEOUT = 120.0  # seconds; mkfs of a large device passes its own
PROC_MOUNTS = "/proc/self/mounts"

Run = typing.Callable[..., runner.Result]


class Storage(object):
    """The storage work of one SR type; every method may raise ``driver.Failure``.

    ``create(sr_uuid, size)``, ``delete(sr_uuid)``, ``attach(sr_uuid)``,
    ``detach(sr_uuid)``: the SR's volume.  ``probe() -> str``: the probe
    document of what the device holds.  ``vdis(sr_uuid) -> [uuid]``,
    ``sizes(sr_uuid) -> (physical_size, physical_utilisation)``.
    ``vdi_create(sr_uuid, vdi_uuid, size)``, ``vdi_delete``,
    ``vdi_attach -> path``, ``vdi_detach``: raw VDIs.  Where the storage can
    attach a VDI at boot from device_config alone (``smapi.offline``),
    ``check_identity(sr_uuid)`` and ``vdi_attach_offline(sr_uuid, vdi_uuid) -> path``.
    """

    def __init__(self, device_config: typing.Dict[str, str], run: Run = runner.run) -> None:
        self.device_config = device_config
        self.run = run
        self.given_device = device_path(device_config)
        self._device = None

    @property
    def device(self) -> str:
        """The device every tool is given: ``device`` resolved once (``resolve_device``), then never again."""
        if self._device is None:
            self._device = resolve_device(self.given_device)
        return self._device


def config_value(device_config: typing.Dict[str, str], key: str) -> str:
    """The value of a required device_config key (ConfigMissing names the key)."""
    value = device_config.get(key, "")
    if not value:
        raise Failure("ConfigMissing", key)
    return value


def device_path(device_config: typing.Dict[str, str], key: str = "device") -> str:
    """The ``device`` key: an absolute, normalised path (``check_exists`` says if it is there)."""
    path = config_value(device_config, key)
    if not path.startswith("/") or "\0" in path or os.path.normpath(path) != path \
            or ".." in path.split("/"):
        raise Failure("ConfigInvalid", "%s: %r is not an absolute, normalised path" % (key, path))
    return path


def resolve_device(path: str, key: str = "device") -> str:
    """The real path of the block device ``path`` names; ConfigInvalid naming ``key`` for anything else.

    Links are resolved here, once, and the tools get the result, so a link
    changed later cannot redirect them.  A regular file is accepted only
    inside $SM_CLUSTERSTACK_FILE_DEVICES (unset on a real host; tests and
    the emulated Melio CLI use files): never ``/etc/shadow``, ``/``,
    ``/proc/self/mem``, ``/dev/null``.
    """
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError as e:
        raise Failure("ConfigInvalid", "%s: %s: %s" % (key, path, e.strerror or e))
    if stat.S_ISBLK(st.st_mode):
        return real
    allowed = os.environ.get(FILE_DEVICES_ENV, "")
    if allowed and stat.S_ISREG(st.st_mode) and \
            os.path.commonpath([real, os.path.realpath(allowed)]) == os.path.realpath(allowed):
        return real
    shown = path if real == path else "%s (%s)" % (path, real)
    raise Failure("ConfigInvalid", "%s: %s is not a block device" % (key, shown))


def check_exists(path: str, key: str = "device") -> str:
    """``path`` if it exists, else ConfigInvalid naming ``key``."""
    if not os.path.exists(path):
        raise Failure("ConfigInvalid", "%s: %s does not exist" % (key, path))
    return path


def optional_int(device_config: typing.Dict[str, str], key: str, default: int,
                 low: int, high: int) -> int:
    """An optional integer key within [low, high] (ConfigInvalid names the key)."""
    value = device_config.get(key, "")
    if value == "":
        return default
    if not is_digits(value) or not low <= int(value) <= high:
        raise Failure("ConfigInvalid", "%s: %r is not an integer in %d..%d" % (key, value, low, high))
    return int(value)


def optional_name(device_config: typing.Dict[str, str], key: str, default: str,
                  pattern: str) -> str:
    """An optional key whose value must match ``pattern`` (ConfigInvalid names the key)."""
    value = device_config.get(key, "") or default
    if not re.match(pattern + r"\Z", value):
        raise Failure("ConfigInvalid", "%s: %r must match %s" % (key, value, pattern))
    return value


def tool(run: Run, argv: typing.List[str], stdin: typing.Optional[str] = None,
         timeout: float = TOOL_TIMEOUT) -> runner.Result:
    """Run a storage tool; ToolMissing or ToolFailed (with its stderr) unless it exits 0."""
    return check(run(argv, timeout=timeout, stdin=stdin))


def check(result: runner.Result) -> runner.Result:
    """``result`` if its tool exited 0, else ToolMissing or ToolFailed: the tool and its stderr, in one line."""
    argv = result.argv
    if result.returncode == 127:
        said = one_line(result.stderr) or "not found"
        raise Failure("ToolMissing", said if said.startswith(argv[0]) else "%s: %s" % (argv[0], said))
    if not result.ok:
        how = "timed out" if result.timed_out else "exited %s" % result.returncode
        raise Failure("ToolFailed", "%s %s; stderr: %s" % (argv[0], how, one_line(result.stderr)))
    return result


ONE_LINE_MAX = 500  # characters of a tool's stderr kept in a fault's reason


def one_line(stderr: str) -> str:
    """A tool's stderr as one line: a Python traceback's last line (the error), else its lines joined by " / "."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        lines = lines[-1:]
    text = " / ".join(lines)
    return text if len(text) <= ONE_LINE_MAX else text[:ONE_LINE_MAX - 3] + "..."


def mount_root() -> str:
    """Where SRs are mounted: $SM_CLUSTERSTACK_SR_MOUNT, else /run/sr-mount."""
    return os.environ.get(MOUNT_ROOT_ENV) or DEFAULT_MOUNT_ROOT


def is_mounted(path: str, mounts_file: str = PROC_MOUNTS) -> bool:
    """True when ``path`` is a mount point in the kernel's mount table."""
    wanted = path.replace("\\", "\\134").replace(" ", "\\040")
    with open(mounts_file) as f:
        return any(line.split()[1:2] == [wanted] for line in f)


def probe_document(found: typing.Iterable[typing.Tuple[str, str]]) -> str:
    """The sr_probe answer: ``<SRlist><SR><UUID/><Devlist/></SR>...</SRlist>``."""
    entries = "".join("<SR><UUID>%s</UUID><Devlist>%s</Devlist></SR>" % (_escape(uuid), _escape(dev))
                      for uuid, dev in found)
    return '<?xml version="1.0" ?><SRlist>%s</SRlist>' % entries


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def device_size(path: str) -> int:
    """The size in bytes of a block device or file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


class MountedVolume(object):
    """An SR that is a volume mounted on ``<mount root>/<sr_uuid>``, raw VDIs as files ``<uuid>.raw`` there.

    The subclass provides ``check_identity(sr_uuid)``, ``mount(point)``,
    ``unmount(point)`` and ``erase()`` (OCFS2, Melio).
    """

    SUFFIX = ".raw"

    def mount_point(self, sr_uuid: str) -> str:
        """The SR's mount point."""
        return os.path.join(mount_root(), sr_uuid)

    def mounted_point(self, sr_uuid: str) -> str:
        """The mount point, or SRUnavailable when the SR is not attached here."""
        path = self.mount_point(sr_uuid)
        if not is_mounted(path):
            raise Failure("SRUnavailable", "SR %s is not attached on this host" % sr_uuid)
        return path

    def vdi_path(self, sr_uuid: str, vdi_uuid: str) -> str:
        """The file of a VDI."""
        return os.path.join(self.mounted_point(sr_uuid), vdi_uuid + self.SUFFIX)

    def vdis(self, sr_uuid: str) -> typing.List[str]:
        """The uuids of the SR's VDIs."""
        names = os.listdir(self.mounted_point(sr_uuid))
        return sorted(n[:-len(self.SUFFIX)] for n in names if n.endswith(self.SUFFIX))

    def used_bytes(self, sr_uuid: str) -> int:
        """Bytes allocated to the SR's VDI files."""
        point = self.mounted_point(sr_uuid)
        return sum(os.stat(os.path.join(point, v + self.SUFFIX)).st_blocks * 512
                   for v in self.vdis(sr_uuid))

    def attach(self, sr_uuid: str) -> None:
        """Mount the SR's volume on its mount point (nothing to do when mounted)."""
        self.check_identity(sr_uuid)
        point = self.mount_point(sr_uuid)
        if is_mounted(point):
            return
        os.makedirs(point, mode=0o755, exist_ok=True)
        try:
            self.mount(point)
        except Failure:
            os.rmdir(point)
            raise

    def detach(self, sr_uuid: str) -> None:
        """Unmount the SR and remove its mount point (nothing to do when not mounted)."""
        point = self.mount_point(sr_uuid)
        if is_mounted(point):
            self.unmount(point)
        if os.path.isdir(point):
            os.rmdir(point)

    def delete(self, sr_uuid: str) -> None:
        """Erase the SR's volume (``self.erase()``); SRNotEmpty while VDIs remain."""
        was_attached = is_mounted(self.mount_point(sr_uuid))
        self.attach(sr_uuid)
        remaining = self.vdis(sr_uuid)
        if remaining:
            if not was_attached:
                self.detach(sr_uuid)
            raise Failure("SRNotEmpty", "%d VDI(s) remain" % len(remaining))
        self.detach(sr_uuid)
        self.erase()

    def vdi_create(self, sr_uuid: str, vdi_uuid: str, size: int) -> str:
        """A sparse raw file of ``size`` bytes."""
        path = self.vdi_path(sr_uuid, vdi_uuid)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)
        return path

    def vdi_attach(self, sr_uuid: str, vdi_uuid: str) -> str:
        """The VDI's path (VDIMissing when there is no such file)."""
        path = self.vdi_path(sr_uuid, vdi_uuid)
        if not os.path.isfile(path):
            raise Failure("VDIMissing", vdi_uuid)
        return path

    def vdi_attach_offline(self, sr_uuid: str, vdi_uuid: str) -> str:
        """Attach the SR as ``attach`` does (check, mount), then the VDI's path; a failure unmounts what it mounted."""
        was_attached = is_mounted(self.mount_point(sr_uuid))
        self.attach(sr_uuid)
        try:
            return self.vdi_attach(sr_uuid, vdi_uuid)
        except Failure:
            if not was_attached:
                self.detach(sr_uuid)
            raise

    def vdi_detach(self, sr_uuid: str, vdi_uuid: str) -> None:
        """Nothing to release for a file; the SR must still be attached."""
        self.mounted_point(sr_uuid)

    def vdi_delete(self, sr_uuid: str, vdi_uuid: str) -> None:
        """Remove the VDI's file (VDIMissing when there is none)."""
        os.unlink(self.vdi_attach(sr_uuid, vdi_uuid))
