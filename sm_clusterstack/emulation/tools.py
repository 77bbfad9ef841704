"""The emulated storage tools: each records its argv and emulates its effect; any failure is one line on stderr.

Run through the commands ``pool.write_commands`` makes (``main(name,
argv, settings)``).  Settings (``{"state": DIR, "log": FILE}``): the
first of ``settings`` that exists (a host's own
``/etc/sm-clusterstack/emulated-storage.json``, then the pool's), or
``$SM_FAKE_STATE`` and ``$SM_FAKE_LOG`` (a test running a driver by hand).
The state directory is one for all hosts, as one shared device:

- ``mount -t ocfs2 DEVICE POINT``: refused without an OCFS2 signature on
  DEVICE (the real ``blkid``), as the kernel refuses; else a bind mount of
  a directory standing for that filesystem (keyed by device and filesystem
  UUID: a reformat starts empty).  Any other mount, and ``umount``, are the
  real tools.
- ``lvcreate -n NAME -L <bytes>b VG`` (the VG checked with the real
  ``vgs``) makes ``/dev/VG/NAME`` a sparse file of that size;
  ``lvremove -f VG/LV`` removes it.
- ``melioctl volume create|info|mount|unmount|destroy --opt value ...``,
  as ``smapi.storage_melio`` expects the vendor's CLI.
"""

import json
import os
import subprocess
import sys
import typing

REAL_MOUNT = "/usr/bin/mount"
REAL_UMOUNT = "/usr/bin/umount"
TOOL_TIMEOUT = 60.0  # seconds for a real tool an emulator asks (blkid, vgs)
NAMES = ("mount", "umount", "lvcreate", "lvremove", "melioctl")


class Refused(Exception):
    """What the emulated tool says on stderr, and its exit status."""

    def __init__(self, message: str, code: int) -> None:
        super(Refused, self).__init__(message)
        self.code = code


def main(name: str, argv: typing.List[str], settings: typing.Sequence[str] = ()) -> int:
    """Run emulator ``name``; its exit status.  Never a traceback: any failure is one line naming the tool."""
    try:
        config = load_settings(name, settings)
        record(config, name, argv)
        return TOOLS[name](config, argv) or 0
    except Refused as e:
        sys.stderr.write("%s\n" % e)
        return e.code
    except Exception as e:  # the emulator's own failure: which tool, and why, in one line
        sys.stderr.write("%s (emulated): %s: %s\n" % (name, type(e).__name__, e))
        return 1


def load_settings(name: str, paths: typing.Sequence[str]) -> typing.Dict[str, str]:
    """The emulator's settings; Refused (exit 1) naming where they were looked for."""
    if "SM_FAKE_STATE" in os.environ and "SM_FAKE_LOG" in os.environ:
        return {"state": os.environ["SM_FAKE_STATE"], "log": os.environ["SM_FAKE_LOG"]}
    for path in paths:
        if os.path.exists(path):
            try:
                with open(path) as f:
                    found = json.load(f)
                return {"state": str(found["state"]), "log": str(found["log"])}
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise Refused("%s (emulated): unreadable settings %s: %s" % (name, path, e), 1)
    raise Refused("%s (emulated): no settings: none of %s exists (is storage emulation on? serve --emulate-storage)"
                  % (name, ", ".join(paths) or "$SM_FAKE_STATE/$SM_FAKE_LOG"), 1)


def record(config: typing.Dict[str, str], name: str, argv: typing.List[str]) -> None:
    """Append ``[name, *argv]`` to the log."""
    with open(config["log"], "a") as f:
        f.write(json.dumps([name] + list(argv)) + "\n")


def state_dir(config: typing.Dict[str, str], *parts: str) -> str:
    """A directory under the state dir, created."""
    path = os.path.join(config["state"], *parts)
    os.makedirs(path, exist_ok=True)
    return path


def device_key(device: str, extra: str = "") -> str:
    """A file name standing for ``device`` (and a filesystem identity)."""
    return device.strip("/").replace("/", "_") + ("-" + extra if extra else "")


def blkid_value(device: str, tag: str) -> str:
    """A tag (TYPE, UUID) of the signature on ``device``, by the real blkid."""
    result = subprocess.run(["blkid", "-p", "-o", "value", "-s", tag, device], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, timeout=TOOL_TIMEOUT)
    return result.stdout.decode("utf-8", "replace").strip()


def mount(config: typing.Dict[str, str], argv: typing.List[str]) -> int:
    if argv[:2] != ["-t", "ocfs2"] or len(argv) != 4:
        os.execv(REAL_MOUNT, ["mount"] + argv)
    device, point = argv[2], argv[3]
    if not os.path.exists(device):
        raise Refused("mount: %s: special device %s does not exist." % (point, device), 32)
    if blkid_value(device, "TYPE") != "ocfs2":
        raise Refused("mount: %s: wrong fs type, bad option, bad superblock on %s." % (point, device), 32)
    volume = state_dir(config, "ocfs2", device_key(device, blkid_value(device, "UUID")))
    os.execv(REAL_MOUNT, ["mount", "--bind", volume, point])
    return 0  # not reached


def umount(config: typing.Dict[str, str], argv: typing.List[str]) -> int:
    os.execv(REAL_UMOUNT, ["umount"] + argv)
    return 0  # not reached


def lvcreate(config: typing.Dict[str, str], argv: typing.List[str]) -> int:
    if len(argv) != 5 or argv[0] != "-n" or argv[2] != "-L" or not argv[3].endswith("b") \
            or not argv[3][:-1].isdigit():
        raise Refused("lvcreate (emulated): unsupported arguments %r" % argv, 3)
    name, size, vg = argv[1], int(argv[3][:-1]), argv[4]
    if subprocess.call(["vgs", vg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=TOOL_TIMEOUT) != 0:
        raise Refused('  Volume group "%s" not found' % vg, 5)
    os.makedirs(os.path.join("/dev", vg), exist_ok=True)
    path = os.path.join("/dev", vg, name)
    if os.path.exists(path):
        raise Refused('  Logical Volume "%s" already exists in volume group "%s"' % (name, vg), 5)
    with open(path, "wb") as f:
        f.truncate(size)
    print('  Logical volume "%s" created.' % name)
    return 0


def lvremove(config: typing.Dict[str, str], argv: typing.List[str]) -> int:
    if len(argv) != 2 or argv[0] != "-f" or argv[1].count("/") != 1:
        raise Refused("lvremove (emulated): unsupported arguments %r" % argv, 3)
    vg, lv = argv[1].split("/")
    path = os.path.join("/dev", vg, lv)
    if not os.path.exists(path):
        raise Refused('  Failed to find logical volume "%s/%s"' % (vg, lv), 5)
    os.unlink(path)
    if not os.listdir(os.path.join("/dev", vg)):
        os.rmdir(os.path.join("/dev", vg))
    print('  Logical volume "%s" successfully removed.' % lv)
    return 0


def melioctl(config: typing.Dict[str, str], argv: typing.List[str]) -> int:
    if argv[:1] != ["volume"] or len(argv) < 2 or len(argv) % 2:
        raise Refused("melioctl (emulated): usage: melioctl volume ACTION --opt value ...", 64)
    action, options = argv[1], dict(zip(argv[2::2], argv[3::2]))
    if action not in MELIO_ACTIONS:
        raise Refused("melioctl: unknown action %s" % action, 64)
    return MELIO_ACTIONS[action](Melio(config, options.get("--device", "")), options)


class Melio(object):
    """One device's emulated Melio volume: its label file and the directory standing for the volume."""

    def __init__(self, config: typing.Dict[str, str], device: str) -> None:
        self.device = device
        self.meta = os.path.join(state_dir(config, "melio"), device_key(device) + ".json")
        self.volume = os.path.join(state_dir(config, "melio"), device_key(device))

    def load(self) -> typing.Dict[str, str]:
        if not os.path.exists(self.meta):
            raise Refused("melioctl: no Melio volume on %s" % self.device, 2)
        with open(self.meta) as f:
            return json.load(f)


def _melio_create(volume: Melio, options: typing.Dict[str, str]) -> int:
    if not os.path.exists(volume.device):
        raise Refused("melioctl: %s: no such device" % volume.device, 1)
    with open(volume.meta, "w") as f:
        json.dump({"label": options.get("--label", "")}, f)
    os.makedirs(volume.volume, exist_ok=True)
    return 0


def _melio_info(volume: Melio, options: typing.Dict[str, str]) -> int:
    facts = volume.load()
    with open(volume.device, "rb") as f:
        size = f.seek(0, 2)
    used = sum(os.stat(os.path.join(volume.volume, n)).st_blocks * 512 for n in os.listdir(volume.volume))
    print("label=%s\nsize=%d\nused=%d" % (facts["label"], size, used))
    return 0


def _melio_mount(volume: Melio, options: typing.Dict[str, str]) -> int:
    volume.load()
    return subprocess.call([REAL_MOUNT, "--bind", volume.volume, options["--mountpoint"]], timeout=TOOL_TIMEOUT)


def _melio_unmount(volume: Melio, options: typing.Dict[str, str]) -> int:
    return subprocess.call([REAL_UMOUNT, options["--mountpoint"]], timeout=TOOL_TIMEOUT)


def _melio_destroy(volume: Melio, options: typing.Dict[str, str]) -> int:
    volume.load()
    os.unlink(volume.meta)
    for name in os.listdir(volume.volume):
        os.unlink(os.path.join(volume.volume, name))
    os.rmdir(volume.volume)
    return 0


MELIO_ACTIONS = {"create": _melio_create, "info": _melio_info, "mount": _melio_mount,
                 "unmount": _melio_unmount, "destroy": _melio_destroy}
TOOLS = {"mount": mount, "umount": umount, "lvcreate": lvcreate, "lvremove": lvremove, "melioctl": melioctl}
