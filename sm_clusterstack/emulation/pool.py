"""A pool's storage emulation: its emulator commands, its settings on each host, and what it says.

``prepare(state_dir)`` looks at the kernel (``kernel.gaps``) and writes,
under ``STATE/emulated-storage``: ``bin/<tool>`` for each gap only (a
small script that runs ``tools.main`` on this interpreter), the shared
state directory ``volumes/``, the log of every emulated call
``calls.jsonl`` and the pool's ``settings.json``.  A sandboxed host gets
its own copy of the settings in its ``/etc/sm-clusterstack`` (``HOST_SETTINGS``),
the first place its emulators look.
"""

import json
import os
import sys
import typing

from sm_clusterstack import atomicfile
from sm_clusterstack.emulation import kernel

DIRECTORY = "emulated-storage"
HOST_SETTINGS = "/etc/sm-clusterstack/emulated-storage.json"
OTHER_CONFIG_KEY = "sm-clusterstack-storage-emulation"  # pool.other_config: what is emulated (ha status)
COMMAND = """#!%(python)s
# sm-clusterstack storage emulation (serve --emulate-storage): %(name)s, for a kernel that cannot serve it
import sys
sys.path.insert(0, %(path)r)
from sm_clusterstack.emulation import tools
sys.exit(tools.main(%(name)r, sys.argv[1:], %(settings)r))
"""


class Emulation(object):
    """A pool's emulated tools (``gaps``), where their commands are (``bin``) and their settings."""

    def __init__(self, base: str, gaps: typing.List[kernel.Gap], loop_devices: bool) -> None:
        self.base = base
        self.gaps = list(gaps)
        self.loop_devices = loop_devices
        self.bin = os.path.join(base, "bin")
        self.settings_path = os.path.join(base, "settings.json")
        self.settings = {"state": os.path.join(base, "volumes"), "log": os.path.join(base, "calls.jsonl")}

    @property
    def tools(self) -> typing.List[str]:
        """The emulated tools' names."""
        return [tool for gap in self.gaps for tool in gap.tools]

    def describe(self) -> str:
        """One line: what is emulated and why, what stays real, where the emulated calls are logged."""
        return "%s; emulated calls in %s" % (_describe(self.gaps, self.loop_devices), self.settings["log"])

    def path_for_drivers(self, path: str) -> str:
        """``path`` with the emulator commands first."""
        return self.bin + os.pathsep + path if path else self.bin


def summary(machine: typing.Optional[kernel.Machine] = None) -> str:
    """What ``--emulate-storage`` emulates on this machine and why, in one line (before any pool exists)."""
    machine = machine or kernel.Machine()
    return _describe(kernel.gaps(machine), kernel.loop_devices(machine))


def _describe(gaps: typing.List[kernel.Gap], loop_devices: bool) -> str:
    emulated = "; ".join("%s (%s)" % ("/".join(g.tools), g.why) for g in gaps) or "nothing: this " \
        "kernel and its tools serve all the shipped storage"
    loops = "loop devices present" if loop_devices else "NO loop devices (/dev/loop-control): give SRs " \
        "block devices of your own"
    return ("storage EMULATED for trying a pool, never for production: %s; everything else is the real tools "
            "(mkfs.ocfs2, tunefs.ocfs2, blkid, pvcreate, vgcreate, vgs, lvs); %s" % (emulated, loops))


def prepare(state_dir: str, machine: typing.Optional[kernel.Machine] = None) -> Emulation:
    """Write the pool's emulator commands (the gaps of this kernel only) and settings; the Emulation."""
    machine = machine or kernel.Machine()
    emulation = Emulation(os.path.join(os.path.abspath(state_dir), DIRECTORY), kernel.gaps(machine),
                          kernel.loop_devices(machine))
    os.makedirs(emulation.settings["state"], mode=0o700, exist_ok=True)
    os.makedirs(emulation.bin, mode=0o755, exist_ok=True)
    for name in os.listdir(emulation.bin):  # a tool the kernel has gained since is no longer emulated
        if name not in emulation.tools:
            os.unlink(os.path.join(emulation.bin, name))
    library = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for name in emulation.tools:
        text = COMMAND % {"python": sys.executable, "path": library, "name": name,
                          "settings": [HOST_SETTINGS, emulation.settings_path]}
        atomicfile.write(os.path.join(emulation.bin, name), text.encode("utf-8"), mode=0o755)
    atomicfile.write(emulation.settings_path, json.dumps(emulation.settings).encode("utf-8"), mode=0o644)
    return emulation


def host_settings(emulation: Emulation) -> bytes:
    """What a host's ``HOST_SETTINGS`` holds."""
    return json.dumps(emulation.settings).encode("utf-8")
