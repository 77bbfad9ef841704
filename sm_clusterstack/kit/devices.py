"""device_config for the SR the driver checks attach: given, placeholder, or a scratch loop device.

The exclusion rule is checked at ``sr_attach``, where a driver must refuse
before it touches storage, so the storage need not be real.  The vendor
gives keys with ``--device-config KEY=VALUE``; when the driver documents
``device`` and it is not given, it gets a sparse placeholder file in the
kit's sandbox, or with ``--scratch-device`` a loop device over such a file
(detached after).  Other keys are left out, as optional.
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
    """The device_config of the SR under test: ``given``, and ``device`` if documented and not given."""
    found = dict(given)
    if "device" in keys and "device" not in found:
        if scratch is not None:
            found["device"] = scratch.device
        else:
            found["device"] = os.path.join(directory, "kit-device.img")
            with open(found["device"], "wb") as f:
                f.truncate(SCRATCH_SIZE)
    return found
