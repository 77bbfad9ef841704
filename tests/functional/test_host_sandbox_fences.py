"""No fence in a host sandbox reaches the machine: the shim, the kit, the tests and the benches alike.

A stack's default fence (``b`` to /proc/sysrq-trigger, or where the machine
has no sysrq the reboot(2) system call) would reboot the machine, every
host with it.  Each host sandbox covers every kernel fence path the machine
has with a file of its own (``hostsandbox.KERNEL_FENCES``), and runs in a
PID namespace of its own, where reboot(2) kills only the host's init and
every process of the host (pid_namespaces(7); ``kernel/pid_namespace.c``
``reboot_pid_ns``).  The first test proves the cover with a path that
stands for the machine's (a file this test owns: writing the real trigger
to find out would reboot the machine if the cover were missing), through
the stack's own fence function; the next checks the real paths' covers
where the machine has them; then the stack's own reboot(2) in one host,
which ends that host and nothing else (proven by hand first, with
``unshare --pid --fork --mount-proc``, before any code could make the
call); then that every sandbox of the project is one of these (nothing
else makes or enters a network or PID namespace) and that the fence is the
one caller of reboot(2).
"""

import os
import re
import sys
import time

import pytest

from helpers import sandbox_prefix
from sm_clusterstack import hostsandbox
from sm_clusterstack.corostack import fencing

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK_ROOT = os.path.join(REPO, "libexec", "xapi", "cluster-stack")
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="host sandboxes need root")


@pytest.fixture
def sandboxes(tmp_path, request):
    made = []

    def create(kernel_fences=hostsandbox.KERNEL_FENCES):
        pool = hostsandbox.SandboxPool.create(str(tmp_path / "state"), 2, sandbox_prefix("hf"),
                                              STACK_ROOT, kernel_fences)
        made.append(pool)
        return pool
    yield create
    for pool in made:
        assert pool.teardown() == []


FENCE = ("from sm_clusterstack.corostack import fencing; from sm_clusterstack.corostack.log import Log; "
         "fencing.kernel_reboot(0, Log('/var/log/fence-test.log', 'test'), sysrq=%r)")


def test_the_stacks_kernel_fence_in_a_sandbox_writes_the_hosts_own_file_never_the_machines(tmp_path, sandboxes):
    machines = tmp_path / "machine-sysrq-trigger"  # stands for the machine's /proc/sysrq-trigger
    machines.write_bytes(b"")
    pool = sandboxes(kernel_fences=(str(machines),))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": REPO}
    first, second = pool.hosts
    result = first.run([sys.executable, "-c", FENCE % str(machines)], timeout=30, env=env)
    assert result.ok, result.describe()
    assert machines.read_bytes() == b""  # the machine was not rebooted
    with open(first.stand_in(str(machines)), "rb") as f:
        assert f.read() == b"b"  # the host "was": whoever plays its power switch can tell
    assert first.kernel_fences() == [str(machines)] and second.kernel_fences() == []
    assert fencing.watchdog_problem(str(machines)).endswith("is not a character device")


def covered_inside(box, path):
    """True when ``path`` is a mount point in the host's mount namespace (its stand-in laid over it)."""
    result = box.run(["cat", "/proc/self/mountinfo"], timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert result.ok, result.describe()
    return any(line.split()[4] == path for line in result.stdout.splitlines())


def test_every_kernel_fence_path_the_machine_has_is_covered_in_every_host(sandboxes):
    present = [p for p in hostsandbox.KERNEL_FENCES if os.path.exists(p)]
    if not present:
        pytest.skip("this machine has none of %s: no fence can reach its kernel" % ", ".join(hostsandbox.KERNEL_FENCES))
    pool = sandboxes()
    for box in pool.hosts:
        assert [p for p in present if not covered_inside(box, p)] == []
        assert all(os.path.getsize(box.stand_in(p)) == 0 for p in present)


def test_the_stacks_reboot_2_in_a_host_ends_that_host_alone_and_powering_it_on_gives_it_a_new_init(
        tmp_path, sandboxes):
    """No sysrq: corosync-ha's kernel fence is reboot(2), contained by the host."""
    if os.path.exists(hostsandbox.SYSRQ):
        pytest.skip("this machine has sysrq: the kernel fence writes the host's stand-in (the first test)")
    pool = sandboxes(kernel_fences=())
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": REPO}
    first, second = pool.hosts
    for box in pool.hosts:  # a process of each host that would outlive anything but the host's end
        assert box.run(["sh", "-c", "setsid sleep 600 </dev/null >/dev/null 2>&1 &"], timeout=30, env=env).ok
    wait = time.monotonic() + 10
    while not (first.pids() and second.pids()) and time.monotonic() < wait:
        time.sleep(0.05)
    old_ns = os.stat(first.pid_ns).st_ino
    kept = second.pids()
    result = first.run([sys.executable, "-c", FENCE % str(tmp_path / "no-sysrq")], timeout=30, env=env)
    assert result.stdout == "" and "Traceback" not in result.stderr  # it never got to print: the host ended
    with open(first.path("/var/log/fence-test.log")) as f:
        assert "fencing by the reboot(2) system call in PID namespace %d" % old_ns in f.read()
    wait = time.monotonic() + 10  # the caller ends at once, its init as the kernel has killed the rest
    while first.powered() and time.monotonic() < wait:
        time.sleep(0.05)
    assert not first.powered() and first.init_pid() is None and first.pids() == []
    assert first.power_loss() == "its init was killed by SIGHUP (a reboot(2) restart in the host)"
    assert not first.run(["true"], timeout=30, env=env).ok  # nothing runs in a host that is off
    assert second.powered() and second.pids() == kept  # the other host (and the machine) ran on
    first.power_on()
    assert first.powered() and os.stat(first.pid_ns).st_ino != old_ns
    inside = first.run(["sh", "-c", "cat /proc/1/cmdline; echo; readlink /proc/self/ns/pid"], timeout=30, env=env)
    assert inside.ok and "os.waitpid" in inside.stdout and str(os.stat(first.pid_ns).st_ino) in inside.stdout


SANDBOX_MAKERS = re.compile(r"netns[\"',\s]+add|unshare[^\n]*--(net|pid)|nsenter|setns|CLONE_NEW(NET|PID)")
REBOOT_CALLERS = re.compile(r"libc\.reboot\(|LINUX_REBOOT_CMD|0x01234567|RB_AUTOBOOT")  # reboot(2), not host.reboot


def sources():
    """(path relative to the repo, text) of every text file of the project's code, tests and benches."""
    for top in ("sm_clusterstack", "tests", "bench", "libexec", "drivers"):
        for directory, _dirs, files in os.walk(os.path.join(REPO, top)):
            for name in files:
                path = os.path.join(directory, name)
                try:
                    with open(path, encoding="utf-8") as f:
                        yield os.path.relpath(path, REPO), f.read()
                except (UnicodeDecodeError, OSError):
                    continue


def test_only_hostsandbox_makes_or_enters_a_host_sandbox():
    """The shim, the kit, the tests and the benches all get their hosts from hostsandbox."""
    found = ["%s: %s" % (path, m.group(0)) for path, text in sources()
             if path not in ("sm_clusterstack/hostsandbox.py", os.path.relpath(__file__, REPO))
             for m in SANDBOX_MAKERS.finditer(text)]
    assert found == ["tests/functional/helpers/kit.py: nsenter"]  # the kit's tools check, which names it


def test_only_corosync_has_fence_calls_reboot_2_and_refuses_it_outside_the_hosts_of_a_machine_that_plays_them():
    found = sorted(path for path, text in sources() if REBOOT_CALLERS.search(text))
    assert found == ["sm_clusterstack/corostack/fencing.py", "tests/functional/test_host_sandbox_fences.py",
                     "tests/unit/test_corosync_fencing.py"]  # the fence, and the tests that name it
    assert os.path.exists(fencing.MACHINE_MARK)  # made by any host sandbox and by the suite: this machine plays hosts
    called = []  # never the real call here: a mistake would reboot the machine
    refused = fencing.reboot_syscall(fencing.pid_namespace(), call=lambda command: called.append(command) or "")
    assert refused.startswith("refused") and called == []  # this test runs in the machine's first PID namespace


def test_a_hosts_dev_shm_is_its_own_and_goes_with_its_sandbox(sandboxes):
    """corosync's libqb leaves ring buffers and an 8 MB blackbox in /dev/shm per start; on the machine's
    /dev/shm they outlived every test pool (9.5 GB after a day of runs)."""
    pool = sandboxes()
    first, second = pool.hosts
    name = "smcs-shm-%d" % os.getpid()
    env = {"PATH": "/usr/bin:/bin"}
    result = first.run(["sh", "-c", "echo ring > /dev/shm/%s" % name], timeout=30, env=env)
    assert result.ok, result.describe()
    assert first.run(["cat", "/dev/shm/" + name], timeout=30, env=env).stdout == "ring\n"
    assert not os.path.exists("/dev/shm/" + name)  # not on the machine
    assert not second.run(["cat", "/dev/shm/" + name], timeout=30, env=env).ok  # nor on the other host
