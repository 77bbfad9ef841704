"""Shared by the test emulators in this directory: record argv, find the per-device state.

The emulators stand in for the commands this machine cannot serve (no
ocfs2 kernel module, no device-mapper, no Melio CLI): each appends its
argv as one JSON line to ``$SM_FAKE_LOG`` and emulates the effect under
``$SM_FAKE_STATE``.  Everything else is left to the real tools.  In a host
sandbox, where a driver gets only PATH (as from xapi), both come from the
host's ``/etc/sm-clusterstack/sm-fake.json`` (``{"log": ..., "state": ...}``),
which the test writes: one state dir for all hosts, as one shared device.
"""

import json
import os
import subprocess
import sys

REAL_MOUNT = "/usr/bin/mount"
REAL_UMOUNT = "/usr/bin/umount"


SANDBOX_SETTINGS = "/etc/sm-clusterstack/sm-fake.json"


def setting(env_name, key):
    """$env_name, else ``key`` of the sandbox's settings file."""
    if env_name in os.environ:
        return os.environ[env_name]
    with open(SANDBOX_SETTINGS) as f:
        return json.load(f)[key]


def record(name):
    """Append ``[name, *argv]`` to $SM_FAKE_LOG."""
    with open(setting("SM_FAKE_LOG", "log"), "a") as f:
        f.write(json.dumps([name] + sys.argv[1:]) + "\n")


def state_dir(*parts):
    """A directory under $SM_FAKE_STATE, created."""
    path = os.path.join(setting("SM_FAKE_STATE", "state"), *parts)
    os.makedirs(path, exist_ok=True)
    return path


def device_key(device, extra=""):
    """A file name standing for ``device`` (and a filesystem identity)."""
    return device.strip("/").replace("/", "_") + ("-" + extra if extra else "")


def fail(message, code):
    """Print ``message`` on stderr and exit ``code``."""
    sys.stderr.write(message + "\n")
    sys.exit(code)


def blkid_value(device, tag):
    """A tag (TYPE, UUID, LABEL) of the signature on ``device``, by the real blkid."""
    result = subprocess.run(["blkid", "-p", "-o", "value", "-s", tag, device],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return result.stdout.decode().strip()
