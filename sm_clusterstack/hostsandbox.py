"""Host sandboxes: one machine playing the hosts of a pool, each seen as xapi sees a host.

A host sandbox is a network namespace, a persistent private mount
namespace and a PID namespace of its own.  The network namespace holds the host's management interface
as a dom0 has it: ``eth0`` (a veth whose peer is a port of the pool's
switch, a bridge in a namespace of its own) enslaved to the bridge
``xenbr0``, which carries the host's address: IPv4 (``10.213.0.N/24``), or
IPv6 only (``fd00:213::N/64``, no IPv4 address at all) for a pool made with
``ipv6``, as XCP-ng 8.3's IPv6 management.  In the mount namespace the
paths a host keeps to itself (``PRIVATE_PATHS``) are that host's own
directories under the state dir, ``/usr/libexec/xapi/cluster-stack`` is the
pool's cluster-stack root (xhad's scripts hard-code it), and ``/sys`` shows
the host's own interfaces, and ``/dev/shm`` is a tmpfs of the host's own
(``SHM_SIZE``): corosync's libqb keeps its ring buffers and an 8 MB
blackbox there per start, which on the machine's ``/dev/shm`` would
outlive the host and fill the machine's memory; a host's go with its
sandbox.

The PID namespace is the host's power: its init (``INIT``, a pid 1 that
only reaps, started by ``HostSandbox.power_on`` and bound at
``<state>/sandbox/ns/h<N>.pid``) runs while the host is on, and every
process entered into the host (``enter_argv``, ``run``) is in it, seeing a
procfs of its own at ``/proc``.  A reboot(2) by any of them reboots
nothing but the host: the kernel kills its init and with it every process
of the host (pid_namespaces(7), reboot(2)); ``powered`` then says the host
is off and ``power_loss`` why (its init killed by SIGHUP: a restart,
SIGINT: a halt or power-off), and whoever plays its power switch (the
shim, the kit) powers it on again: a new init and PID namespace, the same
mount and network namespaces.  Entering a host that is off fails (the
kernel refuses a process in a PID namespace whose init is gone).

A fence must never reach the machine: a stack's default fence (``b`` to
/proc/sysrq-trigger) or an expiring watchdog would reboot every host at
once.  In each host's mount namespace, every one of ``KERNEL_FENCES`` the
machine has is covered by a bind mount of the host's own regular file
(``HostSandbox.stand_in``), outside its private paths, laid again over
each fresh procfs; ``HostSandbox.kernel_fences`` says which of them a fence
wrote, for whoever plays the host's power switch.  A file is no watchdog:
a stack that checks (corosync-ha does) reports it has none.  A path the
machine lacks needs no cover: where it has no sysrq, corosync-ha's kernel
fence is reboot(2), contained by the host's PID namespace as above.
Creating a pool marks the machine (``MACHINE_MARK``, in the machine's
/run, which no host sees): corosync-ha refuses reboot(2) in the machine's
first PID namespace where it exists, as no process there is a host.

Nothing from the API reaches this module: a sandbox is built from the
state dir, a prefix and a host number, and ``run`` takes an argv list and
an environment that is passed exactly as given (xapi gives a stack script
``PATH`` and nothing else).  Every namespace, link and mount made is
recorded in ``<state>/sandbox/made.json`` before the next step, so a failed
start or a later ``teardown`` removes exactly what was made, even after a
crash.  Creating a pool makes the mount points it needs (empty
directories such as ``/etc/xensource``) where the machine lacks them, as a
real host has them; they are left in place.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import typing

from sm_clusterstack import atomicfile, runner

PRIVATE_PATHS = ("/etc/xensource", "/etc/sm-clusterstack", "/run", "/var/log", "/var/lib/xcp",
                 "/opt/xensource/libexec")
STACK_ROOT_INSIDE = "/usr/libexec/xapi/cluster-stack"
DEVICE = "eth0"  # the management PIF's device, as on a dom0
BRIDGE = "xenbr0"  # the management network's bridge, holding the address
NETMASK = "255.255.255.0"
PREFIX_LENGTH = 24
SUBNET = "10.213.0."  # hosts are .1 to .64 on every pool's own switch
SUBNET_V6 = "fd00:213::"  # hosts are ::1 to ::40 (hex) on an IPv6 pool's switch
PREFIX_LENGTH_V6 = 64
MAX_HOSTS = 64
IP_TIMEOUT = 10.0  # seconds for one namespace or mount command
KILL_GRACE = 3.0  # seconds between SIGTERM and SIGKILL at teardown
SANDBOX_DIR = "sandbox"
RECORD = "made.json"
# How a fence reaches the kernel: sysrq's reboot, and the watchdog devices (an expiry reboots too)
SHM = "/dev/shm"
SHM_SIZE = "256m"  # a host's /dev/shm: corosync's IPC rings and blackbox, a few starts' worth
SYSRQ = "/proc/sysrq-trigger"
KERNEL_FENCES = (SYSRQ, "/dev/watchdog", "/dev/watchdog0")
STAND_IN_DIR = "kernel-fences"  # beside a host's private paths, never one of them
MACHINE_MARK = "/run/sm-clusterstack-plays-hosts"  # fencing.MACHINE_MARK: this machine plays hosts, is none
POWER_TIMEOUT = 10.0  # seconds for a host's init to start, or to be gone once killed
# The host's init: pid 1 of its PID namespace, reaping whatever ends there.  As a namespace's init it gets
# no signal it has no handler for (SIGINT is ignored outright, as Python would raise on it); the kernel's
# SIGKILL when a reboot(2) in the host, or its power switch, ends it.
INIT = """import os, signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
while True:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
    signal.sigtimedwait({signal.SIGCHLD}, 5)
"""
# umount2("/proc", MNT_DETACH) in the host: umount(8) reads /proc/self/mountinfo, which a procfs of the
# host's last boot (its PID namespace gone) no longer has
UNMOUNT_PROC = """import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.umount2(b"/proc", 2) != 0:
    sys.exit("umount2 /proc: " + os.strerror(ctypes.get_errno()))
"""
SIGNAL_MEANS = {signal.SIGHUP: "a reboot(2) restart in the host", signal.SIGINT: "a reboot(2) halt or power-off "
                "in the host", signal.SIGKILL: "killed"}
_SUPPLIES = {}  # type: typing.Dict[str, subprocess.Popen]  # pid namespace file: the process keeping its init
_POWER_LOCKS = {}  # type: typing.Dict[str, threading.RLock]  # pid namespace file: held while its power changes
_LOCKS_LOCK = threading.Lock()


class Removal(object):
    """What a removal did: processes stopped (``cmd[pid] in netns``), ``kind name`` removed, and failures.

    ``recorded``: False when there was no record of sandboxes to remove.
    """

    def __init__(self, stopped: typing.List[str], removed: typing.List[str], failed: typing.List[str],
                 recorded: bool = True) -> None:
        self.stopped, self.removed, self.failed, self.recorded = stopped, removed, failed, recorded


class SandboxError(Exception):
    """A sandbox could not be made, entered or removed; the message says which command failed."""


def default_prefix(state_dir: str) -> str:
    """A namespace prefix unique to a state dir: ``smcs`` and 6 hex digits of its path's hash."""
    return "smcs" + hashlib.sha1(os.path.abspath(state_dir).encode("utf-8")).hexdigest()[:6]


def host_address(number: int, ipv6: bool = False) -> str:
    """The address of host ``number`` (1-based) on its pool's switch (IPv6 on an IPv6 pool)."""
    if not 1 <= number <= MAX_HOSTS:
        raise SandboxError("host number %d out of 1..%d" % (number, MAX_HOSTS))
    return SUBNET_V6 + "%x" % number if ipv6 else SUBNET + str(number)


SYSTEM_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")  # searched first: a sandbox's own mounts are the system's


def _tool(name: str) -> str:
    """The system's ``name`` (never an emulator or wrapper on PATH: storage emulation's ``mount``), else PATH's."""
    for directory in list(SYSTEM_DIRS) + os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory, name)
        if directory and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise SandboxError("%s: not found (host sandboxes need iproute2 and util-linux)" % name)


def _must(argv: typing.List[str], what: str) -> runner.Result:
    result = runner.run(argv, timeout=IP_TIMEOUT)
    if not result.ok:
        raise SandboxError("%s: %s" % (what, result.describe()))
    return result


class HostSandbox(object):
    """One host: its network namespace, mount namespace, private root and management interface."""

    def __init__(self, base: str, prefix: str, number: int, ipv6: bool = False,
                 kernel_fence_paths: typing.Sequence[str] = KERNEL_FENCES) -> None:
        self.number = number
        self.kernel_fence_paths = _with_the_machines(kernel_fence_paths)
        self.netns = "%s-h%d" % (prefix, number)
        self.root = os.path.join(base, "hosts", "h%d" % number)
        self.mount_ns = os.path.join(base, "ns", "h%d.mnt" % number)
        self.pid_ns = os.path.join(base, "ns", "h%d.pid" % number)  # bound to the host's PID namespace
        self.power_file = os.path.join(base, "ns", "h%d.power" % number)  # its supply: pid and start time
        self.ipv6 = ipv6
        self.address = host_address(number, ipv6)
        self.device = DEVICE
        self.bridge = BRIDGE
        self.switch_port = "h%d" % number

    def stand_in(self, device: str) -> str:
        """The host's own file laid over ``device`` (one of KERNEL_FENCES) in its mount namespace."""
        return os.path.join(self.root, STAND_IN_DIR, device.strip("/").replace("/", "-"))

    def kernel_fences(self) -> typing.List[str]:
        """The kernel fence paths a fence on this host wrote to (its stand-in is not empty)."""
        found = []
        for device in self.kernel_fence_paths:
            try:
                if os.path.getsize(self.stand_in(device)):
                    found.append(device)
            except OSError:
                pass
        return found

    def clear_kernel_fences(self) -> None:
        """Empty the host's stand-ins again (after its power switch reset it)."""
        for device in self.kernel_fence_paths:
            try:
                with open(self.stand_in(device), "r+b") as f:
                    f.truncate(0)
            except OSError:
                pass

    def path(self, inside: str) -> str:
        """Where a path inside the sandbox (under one of PRIVATE_PATHS) is on this machine."""
        inside = os.path.normpath(inside)
        for private in PRIVATE_PATHS:
            if inside == private or inside.startswith(private + "/"):
                return os.path.join(self.root, inside.lstrip("/"))
        raise SandboxError("%s is not private to a host sandbox (private: %s)" % (inside, ", ".join(PRIVATE_PATHS)))

    def enter_argv(self) -> typing.List[str]:
        """The argv prefix that runs a command inside this sandbox: its network, mount and PID namespaces.

        nsenter forks for the PID namespace: the command is a child of
        nsenter, in the host's PID namespace; it fails while the host is off.
        """
        return [_tool("nsenter"), "--net=/run/netns/" + self.netns, "--mount=" + self.mount_ns,
                "--pid=" + self.pid_ns, "--"]

    def run(self, argv: typing.Sequence[str], timeout: float, env: typing.Optional[typing.Dict[str, str]] = None,
            stdin: typing.Optional[str] = None, where: str = "") -> runner.Result:
        """Run ``argv`` in this sandbox with exactly ``env`` (nothing inherited), cwd ``/``.

        ``where`` names the host in messages (default: the sandbox's namespace).
        """
        return runner.run(self.enter_argv() + list(argv), timeout=timeout, env=dict(env or {}), stdin=stdin, cwd="/",
                          where=where or self.netns)

    def set_link(self, up: bool) -> None:
        """Cut (``up`` False) or heal the host's network: its port on the pool's switch."""
        _must([_tool("ip"), "-n", self.netns, "link", "set", self.device, "up" if up else "down"],
              "link %s of %s" % (self.device, self.netns))

    def pids(self) -> typing.List[int]:
        """The processes of this host (pids of the machine): those in its network or PID namespace, but its init.

        The init is the host's power (``power_off`` ends it); nsenter's
        parent of a command entered is in the network namespace only.
        Not while its power changes (a new init is not yet told from the rest).
        """
        with self.power_lock():
            return [pid for pid, init in self._processes() if not init]

    def power_lock(self) -> threading.RLock:
        """The lock held while this host's power changes (one per host in this process: the shim's power switch
        and its HA lifecycle both power-cycle hosts)."""
        with _LOCKS_LOCK:
            return _POWER_LOCKS.setdefault(self.pid_ns, threading.RLock())

    def init_pid(self) -> typing.Optional[int]:
        """The machine's pid of this host's init, None while the host is off."""
        return next((pid for pid, init in self._processes() if init), None)

    def _processes(self) -> typing.List[typing.Tuple[int, bool]]:
        """(pid, is the host's init) of each process of this host."""
        net, pid_ns = _ns_id("/run/netns/" + self.netns), _ns_id(self.pid_ns) if _is_mount(self.pid_ns) else None
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            in_pid_ns = pid_ns is not None and _ns_id("/proc/%s/ns/pid" % name) == pid_ns
            if in_pid_ns or (net is not None and _ns_id("/proc/%s/ns/net" % name) == net):
                found.append((int(name), in_pid_ns and _inner_pid(int(name)) == 1))
        return found

    def machine_pid(self, pid: int) -> typing.Optional[int]:
        """The machine's pid of this host's process ``pid`` (as the host sees it: a pid file's), or None."""
        pid_ns = _ns_id(self.pid_ns) if _is_mount(self.pid_ns) else None
        for name in os.listdir("/proc"):
            if name.isdigit() and pid_ns is not None and _ns_id("/proc/%s/ns/pid" % name) == pid_ns \
                    and _inner_pid(int(name)) == pid:
                return int(name)
        return None

    def exists(self) -> bool:
        """True when the namespaces of this host are in place (powered on or not)."""
        return os.path.exists("/run/netns/" + self.netns) and _is_mount(self.mount_ns) and _is_mount(self.pid_ns)

    def powered(self) -> bool:
        """True while the host's init runs (its supply, the unshare that made the PID namespace, is alive)."""
        supply = _read_power(self.power_file)
        return supply is not None and _running(*supply)

    def power_loss(self) -> str:
        """Why the host is off, as far as this process can tell (its init's end, when it started the host)."""
        proc = _SUPPLIES.get(self.pid_ns)
        code = proc.poll() if proc is not None else None
        if code is None:
            return "its init is gone"
        if code < 0:
            means = SIGNAL_MEANS.get(-code, "")
            return "its init was killed by %s%s" % (_signal_name(-code), " (%s)" % means if means else "")
        return "its init exited %d" % code

    def power_on(self) -> None:
        """Start the host: a new PID namespace and its init, a fresh procfs, the kernel fence stand-ins over it.

        The mount and network namespaces stay (they are the host's disks and
        cables); what ran in the host before is gone with its old init.
        """
        with self.power_lock():
            if not self.powered():
                self.power_off()  # what a power-on that failed half-way left
                self._power_on()

    def _power_on(self) -> None:
        if _is_mount(self.pid_ns):  # the PID namespace of the last boot, its init gone
            _must([_tool("umount"), self.pid_ns], "unbind the old PID namespace of " + self.netns)
        open(self.pid_ns, "a").close()
        argv = [_tool("unshare"), "--pid=" + self.pid_ns, "--kill-child", "--",
                _tool("nsenter"), "--net=/run/netns/" + self.netns, "--mount=" + self.mount_ns, "--",
                sys.executable, "-I", "-S", "-c", INIT]
        # its own session, outside any run's tree: the host stays on when its starter ends
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        _SUPPLIES[self.pid_ns] = proc
        deadline = time.monotonic() + POWER_TIMEOUT
        while self.init_pid() is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                self._cut_supply(proc.pid)
                raise SandboxError("the init of %s did not start (%s)" % (
                    self.netns, "exited %s" % proc.returncode if proc.returncode is not None else "timed out"))
            time.sleep(0.02)
        enter = [_tool("nsenter"), "--mount=" + self.mount_ns, "--pid=" + self.pid_ns, "--"]
        try:
            _must(enter + [sys.executable, "-I", "-S", "-c", UNMOUNT_PROC], "unmount the old procfs of " + self.netns)
            _must(enter + [_tool("mount"), "-t", "proc", "proc", "/proc"], "procfs of " + self.netns)
            self.cover_kernel_fences(enter, "/proc/")
        except BaseException:
            self._cut_supply(proc.pid)  # half a boot is no boot
            raise
        atomicfile.write(self.power_file, json.dumps([proc.pid, _start_time(proc.pid)]), mode=0o600)  # on

    def power_off(self) -> None:
        """Cut the host's power: its init killed, and with it every process in its PID namespace."""
        with self.power_lock():
            self._power_off()

    def power_cycle(self) -> None:
        """Off, then on: a reset."""
        with self.power_lock():
            self._power_off()
            self.power_on()

    def _power_off(self) -> None:
        supply = _read_power(self.power_file)
        init = self.init_pid()
        if supply is not None and _running(*supply):
            self._cut_supply(supply[0])
        if init is not None:
            _kill(init, signal.SIGKILL)
        deadline = time.monotonic() + POWER_TIMEOUT
        while self.init_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc = _SUPPLIES.pop(self.pid_ns, None)
        if proc is not None:
            proc.poll()
        if os.path.exists(self.power_file):
            os.unlink(self.power_file)

    def _cut_supply(self, pid: int) -> None:
        _kill(pid, signal.SIGKILL)  # unshare --kill-child: its init gets SIGKILL as it dies
        proc = _SUPPLIES.get(self.pid_ns)
        if proc is not None and proc.pid == pid:
            try:
                proc.wait(POWER_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass

    def cover_kernel_fences(self, enter: typing.List[str], under: str = "/") -> None:
        """Lay the host's own empty file over each kernel fence path the machine has (those under ``under``)."""
        for device in self.kernel_fence_paths:
            if not os.path.exists(device) or not device.startswith(under):
                continue
            stand_in = self.stand_in(device)
            os.makedirs(os.path.dirname(stand_in), mode=0o700, exist_ok=True)
            fd = os.open(stand_in, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.close(fd)
            _must(enter + [_tool("mount"), "--bind", stand_in, device], "cover %s in %s" % (device, self.netns))


def xapi_env(stack_dir: str, path: typing.Optional[str] = None) -> typing.Dict[str, str]:
    """The environment xapi gives a stack script: its own PATH with the stack dir appended, nothing else.

    ``ocaml/xapi/xha_scripts.ml`` ``call_script``: ``PATH=<xapi's PATH>:<stack dir>``.
    """
    base = os.environ.get("PATH", os.defpath) if path is None else path
    return {"PATH": base + os.pathsep + stack_dir if base else stack_dir}


def _with_the_machines(paths: typing.Sequence[str]) -> typing.Tuple[str, ...]:
    """``paths`` and KERNEL_FENCES: a test's stand-in path never uncovers the machine's own sysrq or watchdog."""
    return tuple(dict.fromkeys(tuple(paths) + KERNEL_FENCES))


def _ns_id(path: str) -> typing.Optional[typing.Tuple[int, int]]:
    """(device, inode) of a namespace file, None when it cannot be read."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _inner_pid(pid: int) -> typing.Optional[int]:
    """Process ``pid``'s pid in its own (innermost) PID namespace (``NSpid``), None when gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _start_time(pid: int) -> typing.Optional[int]:
    """Process ``pid``'s start time (``/proc/PID/stat`` field 22), None when it is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


def _running(pid: int, start: typing.Optional[int]) -> bool:
    return start is not None and _start_time(pid) == start


def _read_power(path: str) -> typing.Optional[typing.Tuple[int, typing.Optional[int]]]:
    try:
        with open(path) as f:
            pid, start = json.load(f)
        return int(pid), start
    except (OSError, ValueError, TypeError):
        return None


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:
        pass


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "signal %d" % signum


def mark_machine() -> None:
    """Say on this machine (its /run, which no host sees) that it plays hosts: corosync-ha's fence then never
    reboots it from its first PID namespace."""
    try:
        with open(MACHINE_MARK, "w") as f:
            f.write("this machine plays host sandboxes (sm_clusterstack.hostsandbox): a stack's reboot(2) outside "
                    "them is refused\n")
    except OSError:
        pass


def _is_mount(path: str) -> bool:
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == path for line in f if len(line.split()) > 4)
    except OSError:
        return False


class SandboxPool(object):
    """The host sandboxes of one pool and their switch, with the record of everything made."""

    def __init__(self, state_dir: str, count: int, prefix: str, stack_root: str,
                 kernel_fences: typing.Sequence[str] = KERNEL_FENCES, ipv6: bool = False) -> None:
        self.kernel_fences = _with_the_machines(kernel_fences)
        self.base = os.path.join(os.path.abspath(state_dir), SANDBOX_DIR)
        self.prefix = prefix
        self.ipv6 = ipv6
        self.stack_root = os.path.abspath(stack_root)
        self.switch = prefix + "-sw"
        self.hosts = [HostSandbox(self.base, prefix, n, ipv6, self.kernel_fences) for n in range(1, count + 1)]
        self.made = []  # type: typing.List[typing.List[str]]
        self.stopped = []  # type: typing.List[str]
        self.removed = []  # type: typing.List[str]

    @classmethod
    def create(cls, state_dir: str, count: int, prefix: str = "", stack_root: str = STACK_ROOT_INSIDE,
               kernel_fences: typing.Sequence[str] = KERNEL_FENCES, ipv6: bool = False) -> "SandboxPool":
        """Make (or, when intact, adopt) the sandboxes of ``count`` hosts; a failure removes what it made.

        ``kernel_fences``: the machine's paths each host gets its own file
        over (a test names a file of its own that stands for the machine's;
        KERNEL_FENCES are covered all the same).
        """
        pool = cls(state_dir, count, prefix or default_prefix(state_dir), stack_root, kernel_fences, ipv6)
        _check_layout(pool)
        mark_machine()
        previous = pool._read_record()
        if previous is not None:
            if (previous.get("prefix") == pool.prefix and previous.get("count") == count
                    and bool(previous.get("ipv6")) == ipv6 and pool.intact()):
                pool.made = previous["made"]
                for host in pool.hosts:
                    host.power_on()  # a host left off (its supply ended with the machine's last session)
                return pool
            pool.made = previous.get("made", [])
            pool.teardown()
        try:
            pool._build()
        except BaseException:
            pool.teardown()
            raise
        return pool

    @classmethod
    def remove(cls, state_dir: str) -> typing.List[str]:
        """Tear down what a (dead) pool's record lists, whatever it was; what could not be removed."""
        return cls.remove_recorded(state_dir).failed

    @classmethod
    def remove_recorded(cls, state_dir: str) -> "Removal":
        """Tear down what a (dead) pool's record lists: what was stopped, removed, and could not be."""
        pool = cls(state_dir, 0, "", "/")
        found = pool._read_record()
        if found is None:
            return Removal([], [], [], recorded=False)
        pool.prefix = str(found.get("prefix", ""))
        pool.hosts = [HostSandbox(pool.base, pool.prefix, n) for n in range(1, int(found.get("count", 0)) + 1)]
        pool.made = found["made"]
        failed = pool.teardown()
        return Removal(pool.stopped, pool.removed, failed)

    def intact(self) -> bool:
        """True when the switch and every host sandbox are in place."""
        return os.path.exists("/run/netns/" + self.switch) and all(h.exists() for h in self.hosts)

    def host(self, number: int) -> HostSandbox:
        """The sandbox of host ``number`` (1-based)."""
        return self.hosts[number - 1]

    def _record_path(self) -> str:
        return os.path.join(self.base, RECORD)

    def _read_record(self) -> typing.Optional[dict]:
        try:
            with open(self._record_path()) as f:
                found = json.load(f)
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) and isinstance(found.get("made"), list) else None

    def _note(self, kind: str, name: str) -> None:
        """Record that ``name`` of ``kind`` (netns, mount) was made, before anything else is."""
        self.made.append([kind, name])
        data = {"prefix": self.prefix, "count": len(self.hosts), "ipv6": self.ipv6, "made": self.made}
        atomicfile.write(self._record_path(), json.dumps(data), mode=0o600)

    def _build(self) -> None:
        ip = _tool("ip")
        os.makedirs(os.path.join(self.base, "ns"), mode=0o700, exist_ok=True)
        ns_dir = os.path.join(self.base, "ns")
        self._note("mount", ns_dir)
        _must([_tool("mount"), "--bind", ns_dir, ns_dir], "bind " + ns_dir)
        _must([_tool("mount"), "--make-private", ns_dir], "make %s private" % ns_dir)
        self._netns(self.switch)
        _must([ip, "-n", self.switch, "link", "add", "switch", "type", "bridge"], "switch bridge")
        _must([ip, "-n", self.switch, "link", "set", "switch", "up"], "switch bridge up")
        for host in self.hosts:
            self._build_host(host)

    def _netns(self, name: str) -> None:
        self._note("netns", name)
        _must([_tool("ip"), "netns", "add", name], "ip netns add " + name)
        _must([_tool("ip"), "-n", name, "link", "set", "lo", "up"], "lo up in " + name)

    def _build_host(self, host: HostSandbox) -> None:
        ip, ns = _tool("ip"), host.netns
        self._netns(ns)
        steps = [
            ["-n", self.switch, "link", "add", host.switch_port, "type", "veth", "peer", "name", host.device,
             "netns", ns],
            ["-n", self.switch, "link", "set", host.switch_port, "master", "switch", "up"],
            ["-n", ns, "link", "add", host.bridge, "type", "bridge"],
            ["-n", ns, "link", "set", host.device, "master", host.bridge, "up"],
            ["-n", ns, "link", "set", host.bridge, "up"],
            ["-n", ns, "addr", "add", "%s/%d" % (host.address, PREFIX_LENGTH), "dev", host.bridge]
            if not host.ipv6 else  # nodad: usable at once, not after duplicate address detection
            ["-n", ns, "-6", "addr", "add", "%s/%d" % (host.address, PREFIX_LENGTH_V6), "dev", host.bridge, "nodad"],
        ]
        for step in steps:
            _must([ip] + step, "network of %s" % ns)
        self._mount_ns(host)
        open(host.pid_ns, "a").close()
        self._note("mount", host.pid_ns)
        host.power_on()

    def _mount_ns(self, host: HostSandbox) -> None:
        open(host.mount_ns, "a").close()
        self._note("mount", host.mount_ns)
        _must([_tool("unshare"), "--mount=" + host.mount_ns, "--propagation", "private", "true"],
              "mount namespace of " + host.netns)
        enter = [_tool("nsenter"), "--mount=" + host.mount_ns, "--", _tool("mount")]
        # the new namespace copied the namespace files of the hosts made before it: drop them there,
        # or each host would keep the others' mount namespaces (and their files) alive
        _must([_tool("nsenter"), "--mount=" + host.mount_ns, "--", _tool("umount"), "-l",
               os.path.dirname(host.mount_ns)], "unmount the namespace files in " + host.netns)
        for private in PRIVATE_PATHS:
            source = host.path(private)
            os.makedirs(source, mode=0o755, exist_ok=True)
            os.makedirs(private, mode=0o755, exist_ok=True)  # the mount point a real host has
            _must(enter + ["--bind", source, private], "bind %s in %s" % (private, host.netns))
        os.makedirs(STACK_ROOT_INSIDE, mode=0o755, exist_ok=True)
        if self.stack_root != STACK_ROOT_INSIDE:
            _must(enter + ["--bind", "-o", "ro", self.stack_root, STACK_ROOT_INSIDE],
                  "bind the stack root in " + host.netns)
        _must([_tool("nsenter"), "--net=/run/netns/" + host.netns, "--mount=" + host.mount_ns, "--",
               _tool("mount"), "-t", "sysfs", "sysfs", "/sys"], "sysfs of " + host.netns)
        _must(enter + ["-t", "tmpfs", "-o", "mode=1777,size=" + SHM_SIZE, "tmpfs", SHM],
              "%s of %s" % (SHM, host.netns))
        host.cover_kernel_fences(enter[:-1])  # those under /proc again over each boot's procfs (power_on)

    def teardown(self) -> typing.List[str]:
        """Stop what runs in the sandboxes, remove every namespace and mount made; what failed.

        ``stopped`` and ``removed`` then say what was (``sandbox remove`` lists them).
        """
        failed = []
        self.stopped, self.removed = [], []
        for host in self.hosts:
            self.stopped.extend("%s[%d] in %s" % (c, p, host.netns) for p, c in stop_processes(host))
            host.power_off()
        for kind, name in reversed(self.made):
            if kind == "netns" and os.path.exists("/run/netns/" + name):
                result = runner.run([_tool("ip"), "netns", "del", name], timeout=IP_TIMEOUT)
            elif kind == "mount" and _is_mount(name):
                result = runner.run([_tool("umount"), name], timeout=IP_TIMEOUT)
            else:
                continue
            if not result.ok:
                failed.append("%s %s: %s" % (kind, name, result.describe()))
            else:
                self.removed.append("%s %s" % (kind, name))
        if not failed:
            self.made = []
            for path in (self._record_path(),):
                if os.path.exists(path):
                    os.unlink(path)
            shutil.rmtree(os.path.join(self.base, "ns"), ignore_errors=True)
        return failed


def stop_processes(host: typing.Any, spare: typing.Callable[[int], bool] = lambda pid: False
                   ) -> typing.List[typing.Tuple[int, str]]:
    """SIGTERM the processes of the host (``HostSandbox.pids``: never its init) but those ``spare`` keeps, SIGKILL
    what is left after KILL_GRACE; the (pid, command line) of each one stopped."""
    if not os.path.exists("/run/netns/" + host.netns):
        return []
    stopped = {}  # type: typing.Dict[int, str]
    for signum in (signal.SIGTERM, signal.SIGKILL):  # never its init: the host stays on
        pids = [pid for pid in host.pids() if not spare(pid)]
        for pid in pids:
            stopped.setdefault(pid, _command_line(pid))
            try:
                os.kill(pid, signum)
            except OSError:
                pass
        deadline = time.monotonic() + KILL_GRACE
        while pids and time.monotonic() < deadline:
            time.sleep(0.05)
            pids = [pid for pid in host.pids() if not spare(pid)]
        if not pids:
            break
    return sorted(stopped.items())


def _command_line(pid: int) -> str:
    """Process ``pid``'s command line on one line, for the log ("?" when it is gone; a host's init's
    script, ``python -c`` with newlines, is shown with its lines joined)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return " ".join(f.read().replace(b"\0", b" ").decode("utf-8", "replace").split())[:200] or "?"
    except OSError:
        return "?"


def _check_layout(pool: SandboxPool) -> None:
    """SandboxError when the state dir or the stack root lies under a path a sandbox makes private."""
    for what, path in (("state dir", pool.base), ("cluster-stack root", pool.stack_root)):
        for private in PRIVATE_PATHS:
            if path == private or path.startswith(private + "/"):
                raise SandboxError("the %s %s is under %s, which each host sandbox replaces with its own"
                                   % (what, path, private))
    if not 1 <= len(pool.hosts) <= MAX_HOSTS:
        raise SandboxError("a pool has 1 to %d hosts, not %d" % (MAX_HOSTS, len(pool.hosts)))


def find(state_dir: str, netns: str) -> HostSandbox:
    """The sandbox named ``netns`` of the pool in ``state_dir`` (SandboxError if it is not in place)."""
    base = os.path.join(os.path.abspath(state_dir), SANDBOX_DIR)
    try:
        with open(os.path.join(base, RECORD)) as f:
            found = json.load(f)
        prefix, count, ipv6 = found["prefix"], int(found["count"]), bool(found.get("ipv6"))
    except (OSError, ValueError, KeyError, TypeError):
        raise SandboxError("%s has no host sandboxes (is it served with --sandbox?)" % state_dir)
    for number in range(1, count + 1):
        box = HostSandbox(base, prefix, number, ipv6)
        if box.netns == netns:
            if not box.exists():
                raise SandboxError("the sandbox %s is not in place (is the pool served?)" % netns)
            return box
    raise SandboxError("%s is not a sandbox of %s" % (netns, state_dir))


def _netns_pids(netns: str) -> typing.List[int]:
    """The processes running in network namespace ``netns``."""
    result = runner.run([_tool("ip"), "netns", "pids", netns], timeout=IP_TIMEOUT)
    return [int(word) for word in result.stdout.split() if word.isdigit()] if result.ok else []


class _Namespace(object):
    """A network namespace found by its name only (an orphan's): what ``stop_processes`` needs."""

    def __init__(self, netns: str) -> None:
        self.netns = netns

    def pids(self) -> typing.List[int]:
        return _netns_pids(self.netns)


ORPHAN_NAME = re.compile(r"\A(?P<prefix>[^/]+)-(?:h(?P<host>[0-9]+)|sw)\Z")


def check_prefix(prefix: str) -> str:
    """``prefix`` if it can name a pool's namespaces (``P-sw``, ``P-hN``); SandboxError otherwise."""
    if not prefix or "/" in prefix or ORPHAN_NAME.match(prefix):
        raise SandboxError("%r is not a sandbox prefix: give P of the namespaces P-sw and P-h1, P-h2, ... "
                           "(sm-clusterstack sandbox list shows them)" % prefix)
    return prefix


def pools_on_machine(netns_dir: str = "/run/netns") -> typing.Dict[str, typing.List[str]]:
    """Every pool's namespaces on this machine by prefix, the switch first: a prefix with ``P-sw`` or ``P-hN``."""
    try:
        names = os.listdir(netns_dir)
    except OSError:
        return {}
    found = {}  # type: typing.Dict[str, typing.List[typing.Tuple[int, str]]]
    for name in names:
        match = ORPHAN_NAME.match(name)
        if match:
            found.setdefault(match.group("prefix"), []).append((int(match.group("host") or 0), name))
    return {prefix: [name for _n, name in sorted(members)] for prefix, members in found.items()}


def remove_prefix(prefix: str) -> Removal:
    """Remove the namespaces ``P-hN`` and ``P-sw`` left without a record, their processes stopped first.

    For sandboxes whose state dir is gone; the hosts first, then the switch.
    """
    check_prefix(prefix)
    names = pools_on_machine().get(prefix, [])
    ordered = [n for n in names if not n.endswith("-sw")] + [n for n in names if n.endswith("-sw")]
    stopped, removed, failed = [], [], []
    for name in ordered:
        stopped.extend("%s[%d] in %s" % (c, p, name) for p, c in stop_processes(_Namespace(name)))
    for name in ordered:
        result = runner.run([_tool("ip"), "netns", "del", name], timeout=IP_TIMEOUT)
        if result.ok:
            removed.append("netns " + name)
        else:
            failed.append("netns %s: %s" % (name, result.describe()))
    return Removal(stopped, removed, failed, recorded=bool(names))
