"""device_config for the SR the driver checks attach: given, placeholder, or a scratch loop device.

The exclusion rule is checked at ``sr_attach``, where a driver must refuse
before it touches storage, so the storage need not be real.  Keys the
vendor does not give (``--device-config KEY=VALUE``) get a placeholder
directory in the kit's sandbox; with ``--scratch-device`` the key
``device`` gets a loop device over a sparse file instead (detached after).
"""

import os
import typing

from sm_clusterstack import runner

SCRATCH_SIZE = 64 * 1024 * 1024  # bytes, sparse
LOSETUP_TIMEOUT = 30.0  # seconds


class ScratchDevice(object):
    """A loop device over a sparse file in ``directory``; ``detach()`` releases it."""

    def __init__(self, directory: str) -> None:
        self.backing = os.path.join(directory, "scratch.img")
        with open(self.backing, "wb") as f:
            f.truncate(SCRATCH_SIZE)
        result = runner.run(["losetup", "-f", "--show", self.backing], timeout=LOSETUP_TIMEOUT)
        if not result.ok or not result.stdout.strip().startswith("/dev/loop"):
            raise OSError("cannot set up a scratch loop device: %s" % result.describe())
        self.device = result.stdout.strip()

    def detach(self) -> None:
        """Detach the loop device (its backing file goes with the sandbox)."""
        runner.run(["losetup", "-d", self.device], timeout=LOSETUP_TIMEOUT)


def device_config(keys: typing.Sequence[str], given: typing.Dict[str, str], directory: str,
                  scratch: typing.Optional[ScratchDevice] = None) -> typing.Dict[str, str]:
    """The device_config of the SR under test: ``given``, else scratch device, else placeholders."""
    found = dict(given)
    for key in keys:
        if key in found:
            continue
        if key == "device" and scratch is not None:
            found[key] = scratch.device
            continue
        placeholder = os.path.join(directory, "kit-%s" % "".join(c for c in key if c.isalnum() or c in "-_"))
        os.makedirs(placeholder, exist_ok=True)
        found[key] = placeholder
    return found
