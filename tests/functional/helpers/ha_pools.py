"""Sandboxed shim pools with HA enabled on a real stack: the real xhad or the shipped corosync-ha.

Used by the HA-runtime tests and bench/failure_detection.  Each pool is a
``sm-clusterstack serve --sandbox`` of N hosts whose monitors query every
``interval`` seconds, with a fixture driver whose statefile VDI is a file
every host sees (with ``stallable_storage``, on a FUSE mount whose I/O a
trial can stall: ``fuse_statefile``).  corosync-ha hosts get a settings file naming a recording
fence action (one record file per host): nothing reboots; or, with ``recording_fence`` False, none: the
defaults a user starts with, whose kernel fence reboots a host in its own PID namespace (``hostsandbox``).  With
``python36`` the shim and the shipped stack are those of ``make py36``
(helpers.py36), run as a dom0 runs them: xapi's PATH, nothing of the venv.
"""

import contextlib
import os
import re
import sys
import time
import typing

from sm_clusterstack import hostsandbox
from sm_clusterstack.corostack import timing
from sm_clusterstack.stacks import client

from helpers import REPO, fuse_statefile, py36
from helpers.lateness import Lateness
from helpers.shim import SR_SIZE, Server, make_driver

XHA_STACK_ROOT = os.path.join(REPO, "build", "xha", "cluster-stack")
SHIPPED_STACK_ROOT = os.path.join(REPO, "libexec", "xapi", "cluster-stack")
XAPI_PATH = os.path.dirname(sys.executable) + ":/usr/sbin:/usr/bin:/sbin:/bin"  # python3 = this interpreter
T = 10  # the HA timeout: xapi's smallest
XHAD_FENCE = re.compile(r"Self[- ]Fence")  # xhad's log lines when it fences its host
RECORDER = """#!%s
import os, sys, time
with open(sys.argv[1], "a") as f:
    f.write("%%.3f %%s\\n" %% (time.time(), os.environ.get("SM_CLUSTERSTACK_FENCE_REASON", "?")))
"""


def failure_timeout(stack: str) -> float:
    """Seconds from a host's cut until its stack's survivors drop it from the liveset, at most.

    xhad (daemon/sm.c, the fault handler): HeartbeatTimeout until the views
    change, a statefile round to settle, up to max(T1, T2) to agree on the
    partition, StateFileWatchdogTimeout (t + 15) for the loser's watchdog,
    and the next statefile round (StateFileInterval is 2 s for t = 10).
    corosync-ha: DROP_BY x HeartbeatTimeout (``corostack/timing.py``: the
    isolated host fences by 1.2 T, survivors drop it after its fence
    deadline, by 1.5 T).
    """
    return T + 2 + T + (T + 15) + 2 if stack == "xhad" else timing.DROP_BY * T


def skip_reason(stack: str):
    """Why a pool of ``stack`` cannot run here, or None."""
    if os.geteuid() != 0:
        return "host sandboxes need root"
    if stack == "xhad" and not os.path.isfile(os.path.join(XHA_STACK_ROOT, "xhad", "xhad")):
        return "the real xhad is not built: make xhad XHA_SRC=DIR (a xenserver/xha source tree)"
    if stack == "corosync-ha" and not any(os.path.exists(os.path.join(d, "corosync"))
                                          for d in ("/usr/sbin", "/usr/bin", "/sbin")):
        return "corosync is not installed"
    return None


class HAPool(object):
    """A running sandboxed pool with HA enabled on ``stack``."""

    def __init__(self, tmp: str, stack: str, hosts: int = 3, interval: float = 1.0,
                 stallable_storage: bool = False, ipv6: bool = False, python36: bool = False,
                 extra: typing.Sequence[str] = (), recording_fence: bool = True) -> None:
        self.tmp, self.stack = tmp, stack
        self.recording_fence = recording_fence  # False: corosync-ha's default settings, its kernel fence
        sm = os.path.join(tmp, "sm")
        sr_type = "lvm" if stack == "xhad" else "ocfs2"
        ctl = make_driver(sm, os.path.join(tmp, "ctl"), sr_type, [] if stack == "xhad" else [stack])
        self.storage = None  # a fuse_statefile.FuseStatefile when the storage can stall
        if stallable_storage:  # the SR's VDIs (the statefile) on a FUSE mount made before the sandboxes
            self.storage = fuse_statefile.FuseStatefile(tmp, 4096)
            with open(os.path.join(ctl, "vdi_dir"), "w") as f:
                f.write(self.storage.mountpoint)
        shipped, self.path = (py36.STACK_ROOT, py36.XAPI_PATH) if python36 else (SHIPPED_STACK_ROOT, XAPI_PATH)
        root = self.root = XHA_STACK_ROOT if stack == "xhad" else shipped
        env = {"PATH": py36.XAPI_PATH} if python36 else dict(os.environ, PATH=XAPI_PATH)
        self.server = Server(os.path.join(tmp, "state"), sm, root, hosts=hosts, sandbox=True, env=env,
                             extra=["--ha-monitor-interval", str(interval)] + (["--ipv6"] if ipv6 else [])
                             + list(extra),
                             command=[py36.COMMAND] if python36 else None)
        try:
            self.server.start()
            self._enable(sm, sr_type)
        except BaseException:
            self.server.stop()
            if self.storage is not None:
                self.storage.close()
            raise

    def _enable(self, sm: str, sr_type: str) -> None:
        self.x = self.server.session().xenapi
        self.recorder = os.path.join(self.tmp, "record-fence")
        with open(self.recorder, "w") as f:
            f.write(RECORDER % sys.executable)
        os.chmod(self.recorder, 0o755)
        for host in self.x.host.get_all():
            self.write_settings(host)
        master = self.x.pool.get_master(self.x.pool.get_all()[0])
        sr = self.x.SR.create(master, {"device": "/dev/fixture"}, str(SR_SIZE), "hb", "", sr_type, "user", True, {})
        self.enable_began = time.monotonic()
        self.x.pool.enable_ha([sr], {"timeout": str(T)})
        self.enable_ended = time.monotonic()  # bench/ha_scale reports the time enable_ha took

    def host_dir(self, host: str, *inside: str) -> str:
        """Where ``inside`` of ``host``'s sandbox is on this machine."""
        number = self.x.host.get_other_config(host)["sandbox-netns"].rsplit("-h", 1)[1]
        return os.path.join(self.server.state, "sandbox", "hosts", "h" + number, *inside)

    def write_settings(self, host: str) -> None:
        if self.stack != "corosync-ha" or not self.recording_fence:
            return
        with open(self.host_dir(host, "etc", "sm-clusterstack", "corosync-ha.conf"), "w") as f:
            f.write('fence-action = "%s %s"\nwatchdog-device = none\n' % (self.recorder, self.fence_record(host)))

    def fence_record(self, host: str) -> str:
        return os.path.join(self.tmp, "fenced-" + self.x.host.get_uuid(host))

    def fenced(self, host: str) -> bool:
        """True when ``host`` fenced itself: xhad's fence line in its log, corosync-ha's recorded action."""
        return self.fences(host) > 0

    def fences(self, host: str) -> int:
        """How often ``host`` fenced itself so far.

        xhad logs "Self Fence." for a heartbeat-requested fence (``daemon/heartbeat.c``) and
        "Self-Fence" elsewhere; corosync-ha's recording fence action writes a line each time.
        """
        path = self.host_dir(host, "var", "log", "xha.log") if self.stack == "xhad" else self.fence_record(host)
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            return 0
        return len(XHAD_FENCE.findall(text)) if self.stack == "xhad" else len(text.splitlines())

    def fence_times(self, host: str) -> typing.List[float]:
        """When ``host``'s recording fence action ran, each time (CLOCK_MONOTONIC, from its own wall-clock stamp).

        corosync-ha only: xhad's log has whole seconds.
        """
        if self.stack == "xhad":
            return []
        offset = time.time() - time.monotonic()
        try:
            with open(self.fence_record(host)) as f:
                return [float(line.split(" ", 1)[0]) - offset for line in f if line.strip()]
        except (OSError, ValueError):
            return []

    def logs(self) -> typing.Dict[str, str]:
        """Each host's stack log (by host number), for a trial's evidence."""
        found = {}
        for number in range(1, len(self.x.host.get_all()) + 1):
            name = "xha.log" if self.stack == "xhad" else os.path.join("sm-clusterstack", "corosync-ha.log")
            path = os.path.join(self.server.state, "sandbox", "hosts", "h%d" % number, "var", "log", name)
            try:
                with open(path, errors="replace") as f:
                    found["h%d" % number] = f.read()
            except OSError:
                pass
        return found

    def box(self, host: str) -> hostsandbox.HostSandbox:
        return hostsandbox.find(self.server.state, self.x.host.get_other_config(host)["sandbox-netns"])

    def live(self, host: str) -> bool:
        return self.x.host_metrics.get_live(self.x.host.get_metrics(host))

    def master(self) -> str:
        return self.x.pool.get_master(self.x.pool.get_all()[0])

    def query(self, host: str, box: typing.Optional[hostsandbox.HostSandbox] = None):
        """(exit status, stdout) of ha_query_liveset on ``host`` (whose ``box`` saves a call), run as xapi runs it."""
        stack = client.StackClient(os.path.join(self.root, self.stack), run=(box or self.box(host)).run, host=host,
                                   path_inside=os.path.join(hostsandbox.STACK_ROOT_INSIDE, self.stack),
                                   env={"PATH": self.path}, owner_uid=os.stat(REPO).st_uid)
        result = stack.result(client.HA_QUERY_LIVESET, timeout=30)
        return result.returncode, result.stdout

    def close(self) -> None:
        try:
            if self.storage is not None:
                self.storage.resume()
            if self.x.pool.get_ha_enabled(self.x.pool.get_all()[0]):
                self.x.pool.disable_ha()
        finally:
            self.server.stop()
            if self.storage is not None:
                self.storage.close()


@contextlib.contextmanager
def all_live(tmp: str, stack: str, interval: float, ipv6: bool = False, python36: bool = False):
    """An HAPool of ``stack`` once every host is live; closed afterwards."""
    pool = HAPool(tmp, stack, interval=interval, ipv6=ipv6, python36=python36)
    try:
        wait(lambda: all(pool.live(h) for h in pool.x.host.get_all()), 60)
        yield pool
    finally:
        pool.close()


def cut_slave(pool: HAPool, interval: float):
    """Cut a slave's link and wait until the master has it not live: (slave, seconds it took, the bound).

    The bound is the stack's failure timeout and two monitor rounds, then the
    scripts' own time (5 s on an idle machine) or the machine's lateness along
    the chain (helpers.lateness): the stack's timer, its decision, the
    monitor's query (entering the host's namespaces, the script), the shim's
    update, the test's poll.
    """
    master = pool.master()
    slave = sorted(h for h in pool.x.host.get_all() if h != master)[0]
    configured = failure_timeout(pool.stack) + 2 * interval
    with Lateness() as late:
        pool.box(slave).set_link(False)
        took = wait(lambda: not pool.live(slave), configured + 60)
    return slave, took, configured + late.allowance(wakes=4, spawns=3, floor=5.0)


def wait(predicate, timeout: float, step: float = 0.1) -> float:
    """Seconds until ``predicate()`` held; AssertionError after ``timeout``."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if predicate():
            return time.monotonic() - began
        time.sleep(step)
    raise AssertionError("not reached within %s s" % timeout)
