"""Helpers of the drivers' functional tests: run a driver as xapi does, devices, emulators.

A driver runs as a process, executed directly (its ``#!`` line, as xapi
runs it) with the call document as its one argument; its stdout is parsed
with ``xmlrpc.client``, as xapi would.  The environment puts
``tests/functional/helpers/fakebin`` first on PATH only when a test asks for the
emulators (the commands this machine cannot serve); every test that does
says so in its docstring.
"""

import contextlib
import json
import os
import subprocess
import sys
import uuid
import xmlrpc.client

import pytest

from sm_clusterstack.smapi import call as smapi_call

from helpers import REPO

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVERS = os.path.join(REPO, "drivers")
FAKEBIN = os.path.join(HERE, "fakebin")
HOST = "OpaqueRef:00000000-0000-4000-8000-00000000a001"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class DriverRun(object):
    """One driver process: exit status, outputs, and the answer (value or fault)."""

    def __init__(self, returncode, stdout, stderr):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.fault = None
        self.value = None
        try:
            (self.value,), _ = xmlrpc.client.loads(stdout)
        except xmlrpc.client.Fault as fault:
            self.fault = fault

    @property
    def code(self):
        """The fault code, or None on success."""
        return self.fault.faultCode if self.fault else None

    @property
    def reason(self):
        """The fault string, or ""."""
        return self.fault.faultString if self.fault else ""


def environment(tmp_path, emulators=False, xapi="", extra=None):
    """The environment a driver runs in; ``emulators`` puts fakebin first on PATH."""
    path = [os.path.dirname(sys.executable), SYSTEM_PATH]
    if emulators:
        path.insert(0, FAKEBIN)
    env = {"PATH": ":".join(path), "ORIGINATOR": "SM", "HOME": str(tmp_path),
           "SM_FAKE_LOG": str(tmp_path / "emulated.jsonl"),
           "SM_FAKE_STATE": str(tmp_path / "emulated-state"),
           "SM_CLUSTERSTACK_SR_MOUNT": str(tmp_path / "sr-mount"),
           "SM_CLUSTERSTACK_FILE_DEVICES": str(tmp_path),  # image files here may stand for devices
           "SM_CLUSTERSTACK_XAPI_TIMEOUT": "5"}
    if xapi:
        env["SM_CLUSTERSTACK_XAPI"] = xapi
    env.update(extra or {})
    return env


def run_argv(driver, argv_tail, env, timeout=120):
    """Run ``drivers/<driver>`` with ``argv_tail`` as its arguments."""
    proc = subprocess.run([os.path.join(DRIVERS, driver)] + list(argv_tail), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return DriverRun(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                     proc.stderr.decode("utf-8", "replace"))


def run(driver, command, env, **members):
    """Run one SMAPIv1 command, the document built member for member as xapi builds it."""
    members.setdefault("host_ref", HOST)
    document = smapi_call.Call(command, **members).to_xml()
    return run_argv(driver, [document], env)


def emulated_calls(tmp_path, name=None):
    """The argv the emulators recorded, optionally only those of ``name``."""
    log = tmp_path / "emulated.jsonl"
    if not log.exists():
        return []
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return [c for c in calls if name is None or c[0] == name]


def new_uuid():
    """A fresh lower-case uuid."""
    return str(uuid.uuid4())


def blank_file(tmp_path, name, size_mb):
    """The path of a fresh sparse file of ``size_mb`` MiB under ``tmp_path``, nothing on it."""
    path = str(tmp_path / name)
    with open(path, "wb") as f:
        f.truncate(size_mb * 1024 * 1024)
    return path


@contextlib.contextmanager
def loop_device(tmp_path, size_mb):
    """A loop device over a fresh sparse file; detached afterwards, whatever happens."""
    image = blank_file(tmp_path, "disk-%s.img" % uuid.uuid4().hex[:8], size_mb)
    proc = subprocess.run(["losetup", "-f", "--show", image], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    if proc.returncode != 0:
        pytest.skip("no loop device available: %s" % proc.stderr.decode().strip())
    device = proc.stdout.decode().strip()
    try:
        yield device
    finally:
        subprocess.run(["losetup", "-d", device], stderr=subprocess.DEVNULL)


def unmount_under(path):
    """Unmount whatever a test left mounted under ``path`` (teardown)."""
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f if line.split()[1].startswith(str(path))]
    for point in reversed(points):
        subprocess.run(["umount", "-l", point], stderr=subprocess.DEVNULL)
