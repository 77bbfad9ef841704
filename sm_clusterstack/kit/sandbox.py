"""The sandbox a stack's behaviour checks run in: its own xhad.conf, statefile and environment.

Nothing the kit runs touches /etc/xensource: every script that takes a
config gets ``-C <sandbox>/xhad.conf``; the statefile is a file in the
sandbox; ``SM_CLUSTERSTACK_COROSYNC_DIR`` points the corosync stack's
runtime files into it, and ``SM_CLUSTERSTACK_KIT_SANDBOX`` names it for any
stack (and marks the processes the kit started, so none outlives it).
``SM_CLUSTERSTACK_FENCE_ACTION`` makes a fence only touch a file in the
sandbox: a stack whose daemon the kit stops or kills must never reboot the
machine the kit runs on (a stack's default fence action is a real reboot).
Where the machine allows (root, ``ip netns``), the scripts run in a
network namespace of their own with only loopback up, so the stack's
daemon cannot meet another daemon (a system corosync, a parallel test)
on the host's loopback or abstract sockets.
The kit's own interpreter directory comes first on PATH, so a script
starting with ``#!/usr/bin/env python3`` finds the Python the kit (and the
project's library) is installed in, as under ``make run``.
"""

import os
import random
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import time
import typing
import uuid

from sm_clusterstack import runner
from sm_clusterstack.stacks import xhadconf

MARKER = "SM_CLUSTERSTACK_KIT_SANDBOX"
COROSYNC_DIR = "SM_CLUSTERSTACK_COROSYNC_DIR"
FENCE_ACTION = "SM_CLUSTERSTACK_FENCE_ACTION"
STATEFILE_SIZE = 4 * 1024 * 1024  # xapi rounds the statefile VDI up to 4 MiB
HOST_ADDRESS = "127.0.0.1"
IP_TIMEOUT = 10.0  # seconds for an ``ip netns`` command
POLL = 0.1  # seconds between two looks for leftover processes
SETTINGS_DIR = "/etc/sm-clusterstack"  # a project stack's settings: <stack>.conf (xapi passes scripts no env)
NETNS_ETC = "/etc/netns"


class StackSandbox(object):
    """A temporary directory holding the config, statefile and runtime of one stack run."""

    def __init__(self, parent: typing.Optional[str] = None,
                 extra_env: typing.Optional[typing.Dict[str, str]] = None) -> None:
        self.path = tempfile.mkdtemp(prefix="sm-clusterstack-kit-", dir=parent)
        os.chmod(self.path, 0o700)
        self.host_id = str(uuid.uuid4())
        self.statefile = os.path.join(self.path, "statefile")
        self.config_path = os.path.join(self.path, "xhad.conf")
        self.runtime_dir = os.path.join(self.path, "corosync")
        os.mkdir(self.runtime_dir, 0o700)
        with open(self.statefile, "wb") as f:
            f.truncate(STATEFILE_SIZE)
        self.config = xhadconf.XhadConfig(
            generation_uuid=str(uuid.uuid4()), hosts=[xhadconf.Host(self.host_id, HOST_ADDRESS)],
            local_host_id=self.host_id, statefile=self.statefile, udp_port=free_udp_port())
        with open(self.config_path, "wb") as f:
            f.write(self.config.to_xml())
        self.env = dict(os.environ)
        self.fence_record = os.path.join(self.path, "fenced")
        self.env.update({MARKER: self.path, COROSYNC_DIR: self.runtime_dir,
                         FENCE_ACTION: "touch " + shlex.quote(self.fence_record)})
        self.env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), self.env.get("PATH", os.defpath)])
        self.env.update(extra_env or {})
        self.netns = ""

    def isolate(self, stack_name: str = "") -> bool:
        """Create the sandbox's network namespace (loopback up); False where the machine cannot.

        Inside it (``ip netns exec`` binds /etc/netns/NS/X over /etc/X), the
        stack ``stack_name`` finds its settings file, ``/etc/sm-clusterstack/
        <stack>.conf``, written by the kit: fencing only touches a file here.
        """
        name = "smcs-kit-%d-%s" % (os.getpid(), os.path.basename(self.path)[-8:].replace("_", ""))
        if os.geteuid() != 0 or not runner.run(["ip", "netns", "add", name], timeout=IP_TIMEOUT).ok:
            return False
        self.netns = name
        if stack_name:
            self._write_settings(stack_name)
        if not runner.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], timeout=IP_TIMEOUT).ok:
            self._remove_netns()
            return False
        return True

    def _write_settings(self, stack_name: str) -> None:
        os.makedirs(SETTINGS_DIR, mode=0o755, exist_ok=True)  # the mount point ip netns exec binds over
        directory = os.path.join(NETNS_ETC, self.netns, os.path.basename(SETTINGS_DIR))
        os.makedirs(directory, mode=0o755, exist_ok=True)
        touch = "touch %s" % self.fence_record
        with open(os.path.join(directory, stack_name + ".conf"), "w") as f:
            f.write("# written by the conformance kit: a fence only touches a file in its sandbox\n"
                    "fence-action = \"%s\"\nfence-escalation = \"%s\"\nruntime-dir = %s\n"
                    "log-file = %s/log/%s.log\nwatchdog-device = none\n"
                    % (touch, touch, self.runtime_dir, self.path, stack_name))

    def exec_prefix(self) -> typing.List[str]:
        """What goes before every script: ``ip netns exec NS`` when isolated."""
        return ["ip", "netns", "exec", self.netns] if self.netns else []

    def _remove_netns(self) -> None:
        if self.netns:
            runner.run(["ip", "netns", "del", self.netns], timeout=IP_TIMEOUT)
            shutil.rmtree(os.path.join(NETNS_ETC, self.netns), ignore_errors=True)
            self.netns = ""

    def config_args(self) -> typing.List[str]:
        """The ``-C <config>`` arguments of the scripts that take a config."""
        return ["-C", self.config_path]

    def leftover_pids(self) -> typing.List[int]:
        """Processes still running that the kit started in this sandbox."""
        mark = ("%s=%s" % (MARKER, self.path)).encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open("/proc/%s/environ" % entry, "rb") as f:
                    if mark in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
        return found

    def wait_leftovers(self, grace: float) -> typing.List[int]:
        """The sandbox's processes still running after waiting up to ``grace`` seconds for them to exit."""
        deadline = time.monotonic() + grace
        left = self.leftover_pids()
        while left and time.monotonic() < deadline:
            time.sleep(POLL)
            left = self.leftover_pids()
        return left

    def fenced(self) -> bool:
        """True when something ran the sandbox's fence action (it touches ``fence_record``)."""
        return os.path.lexists(self.fence_record)

    def cleanup(self) -> typing.List[int]:
        """Kill what the kit left running in the sandbox, remove it; return the pids killed."""
        killed = self.leftover_pids()
        for pid in killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self._remove_netns()
        shutil.rmtree(self.path, ignore_errors=True)
        return killed


def describe_pids(pids: typing.Sequence[int]) -> str:
    """``pid 12 (sleep 100)``, ... for a report; the command is what /proc says, if still there."""
    return ", ".join("pid %d (%s)" % (pid, command_of(pid) or "gone") for pid in pids)


def command_of(pid: int) -> str:
    """The command line of ``pid``, shortened, or "" when it is gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return ""
    text = " ".join(a.decode("utf-8", "replace") for a in argv if a)
    return text if len(text) <= 80 else text[:77] + "..."


def free_udp_port(low: int = 20000, high: int = 59000) -> int:
    """A UDP port (and the one below it, which corosync may also use) free on loopback."""
    for _ in range(50):
        port = random.randint(low, high)
        if all(_udp_free(p) for p in (port - 1, port)):
            return port
    raise OSError("no free UDP port on %s" % HOST_ADDRESS)


def _udp_free(port: int) -> bool:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((HOST_ADDRESS, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()
