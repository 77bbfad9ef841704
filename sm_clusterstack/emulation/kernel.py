"""What this machine's kernel and tools lack of the shipped storage: the gaps storage emulation fills.

Looked up, never assumed: ocfs2 is there when ``/proc/filesystems`` lists
it or the running kernel has its module (``/lib/modules/<release>``);
device-mapper when the kernel registered its control device
(``device-mapper`` in ``/proc/misc``; the node ``/dev/mapper/control`` may
exist without it, and LVM then fails to open it) or has its module
``dm-mod``; the Melio CLI when ``melioctl`` is on the
system's PATH.  Loop devices are never emulated: ``loop_devices`` says
whether ``/dev/loop-control`` is there, for the start-up line.
"""

import os
import typing

Gap = typing.NamedTuple("Gap", [("tools", typing.Tuple[str, ...]), ("why", str)])

SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.gz", ".ko.zst")


class Machine(object):
    """Where the kernel's facts are read (a test names files of its own)."""

    def __init__(self, filesystems: str = "/proc/filesystems", modules: str = "",
                 misc: str = "/proc/misc", loop_control: str = "/dev/loop-control",
                 path: typing.Sequence[str] = SYSTEM_PATH) -> None:
        self.filesystems = filesystems
        self.modules = modules or os.path.join("/lib/modules", os.uname().release)
        self.misc = misc
        self.loop_control = loop_control
        self.path = tuple(path)


def has_ocfs2(machine: Machine) -> bool:
    """True when the kernel serves ocfs2 now or can load its module."""
    return _listed(machine.filesystems, "ocfs2") or _module(machine, ("ocfs2",))


def has_device_mapper(machine: Machine) -> bool:
    """True when the kernel registered device-mapper's control device, or can load dm-mod."""
    return _listed(machine.misc, "device-mapper") or _module(machine, ("dm-mod", "dm_mod"))


def _listed(path: str, name: str) -> bool:
    """True when a line of ``path`` (``/proc/filesystems``, ``/proc/misc``) ends with the word ``name``."""
    try:
        with open(path) as f:
            return any(line.split()[-1:] == [name] for line in f)
    except OSError:
        return False


def _module(machine: Machine, names: typing.Tuple[str, ...]) -> bool:
    """True when a module file of one of ``names`` is under the running kernel's modules."""
    wanted = {n + s for n in names for s in MODULE_SUFFIXES}
    return any(wanted.intersection(files) for _dirpath, _dirs, files in os.walk(machine.modules))


def has_tool(machine: Machine, name: str) -> bool:
    """True when ``name`` is an executable on the system's PATH."""
    return any(os.access(os.path.join(d, name), os.X_OK) for d in machine.path)


def loop_devices(machine: Machine) -> bool:
    """True when the kernel has loop devices (``/dev/loop-control``)."""
    return os.path.exists(machine.loop_control)


def gaps(machine: typing.Optional[Machine] = None) -> typing.List[Gap]:
    """The tools to emulate on ``machine``, each with why (empty: the real tools serve everything)."""
    machine = machine or Machine()
    found = []
    if not has_ocfs2(machine):
        found.append(Gap(("mount", "umount"), "no ocfs2 in this kernel (%s, %s): mount -t ocfs2 is a bind mount"
                         % (machine.filesystems, machine.modules)))
    if not has_device_mapper(machine):
        found.append(Gap(("lvcreate", "lvremove"), "no device-mapper in this kernel (%s, %s): an active LV is "
                         "a sparse file" % (machine.misc, machine.modules)))
    if not has_tool(machine, "melioctl"):
        found.append(Gap(("melioctl",), "no Melio CLI (melioctl) on %s" % ":".join(machine.path)))
    return found
