"""Running a stack's scripts on the kit's hosts exactly as xapi runs them.

Through the stack client (``stacks.client``, ``ocaml/xapi/xha_scripts.ml``
``call_script``): ``<root>/<stack>/<script>`` with one environment
variable, ``PATH=<xapi's PATH>:<stack dir>``, no ``-C`` (the config is
``/etc/xensource/xhad.conf`` on each host), inside the host's sandbox.  The
kit takes every exit as it comes and judges it itself (``expect``); the
liveset and ha_propose_master are read by the client's rules.  Every run
has a timeout (xapi has none: a hung script
hangs xapi); a killed script fails the check that ran it and
``stack.timeout``.  What each run printed is captured into the suite.

A script exiting 16 (INVALID_ENVIRONMENT) says the stack cannot work on
this host as xapi runs it (e.g. its engine is not installed): that check
and every later one SKIP with the script's stderr as the reason, never PASS.
"""

import concurrent.futures
import os
import time
import typing

from sm_clusterstack import runner
from sm_clusterstack.kit import result as res
from sm_clusterstack.kit.hostpool import KitHosts
from sm_clusterstack.stacks import client, liveset, mtc

SCRIPT_TIMEOUT = 30.0  # seconds, every script but ha_start_daemon and ha_stop_daemon
START_TIMEOUT = 120.0  # seconds: ha_start_daemon waits until every host joins (EnableJoinTimeout)
POLL = 0.5  # seconds between two looks at a liveset that should change
INVALID_AGAIN = "not run: the stack exited 16 INVALID_ENVIRONMENT (the reason is on the first skipped check)"


class Skip(Exception):
    """The check cannot be judged; the text says why."""


class Fail(Exception):
    """The check failed; the text says how."""


class Unreadable(Skip):
    """A liveset xapi would refuse: the liveset check fails on it, the others that need one skip."""


def code(result: runner.Result) -> str:
    """An exit status with its MTC name, e.g. ``14 DAEMON_IS_NOT_PRESENT``."""
    return "%s %s" % (result.returncode, mtc.name_of(result.returncode))


def expect(result: runner.Result, want: int, what: str) -> None:
    """Fail unless ``result`` exited ``want``; the detail names both codes and the stderr."""
    if result.returncode != want:
        err = " ".join(result.stderr.split())[-200:]
        raise Fail("%s exited %s, expected %d %s%s" % (
            what, code(result), want, mtc.name_of(want), (": " + err) if err else ""))


NO_DAEMON_RULE = (
    "with no daemon, ha_query_liveset must exit 14: xhad's calldaemon exits 14 when it cannot connect to the "
    "daemon, and xapi (xha_scripts.ml can_unplug_statefile_pbd) reads only 14 as \"daemon not running\"; "
    "any other exit keeps a host shutting down from unplugging the heartbeat SR")


def expect_no_daemon(result: runner.Result, what: str) -> None:
    """Fail unless ``result``, a query of a host with no daemon (never started, or stopped), exited 14.

    The one rule of ``stack.no-daemon-exit`` and ``stack.stop-daemon``:
    xenserver/xha ``commands/calldaemon.c`` returns
    MTC_ERROR_SC_CONNECT_TO_DAEMON, exit 14 DAEMON_IS_NOT_PRESENT
    (``include/mtcerrno.def``), when no daemon answers; xapi's
    ``xha_scripts.ml`` ``can_unplug_statefile_pbd`` takes only that exit as
    "HA daemon not running" (``xapi_ha.ml``'s monitor likewise).
    """
    try:
        expect(result, mtc.DAEMON_IS_NOT_PRESENT, what)
    except Fail as e:
        raise Fail("%s (%s)" % (e, NO_DAEMON_RULE))


class StackProbe(object):
    """Runs one stack's scripts on the kit's hosts and remembers what the checks need."""

    def __init__(self, suite: res.Suite, hosts: KitHosts, timeout: float = SCRIPT_TIMEOUT,
                 start_timeout: float = START_TIMEOUT, owner_uid: int = 0) -> None:
        self.suite = suite
        self.hosts = hosts
        stack_path = os.path.join(hosts.stack_root, hosts.stack_name)
        self.clients = [client.StackClient(stack_path, run=host.run, host=self.label(index),
                                           path_inside=hosts.stack_inside, timeout=timeout, owner_uid=owner_uid)
                        for index, host in enumerate(hosts.hosts)]
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.invalid_env = ""
        self.timeouts = []  # type: typing.List[str]
        self.may_run = set()  # type: typing.Set[int]  # hosts where the kit may have left a daemon
        self.running = set()  # type: typing.Set[int]  # hosts whose daemon should be running
        self.gone = []  # type: typing.List[str]  # daemons that vanished unasked, and when
        self.looks = 0  # how many times a running daemon was seen still there
        self.started = False
        self.stopped_cleanly = False
        self.joined = False  # every host's liveset lists every host live (stack.pool-join passed)
        self.reported_left = set()  # type: typing.Set[int]  # leftover pids a check already named
        self.livesets = {}  # type: typing.Dict[int, liveset.Liveset]

    @property
    def count(self) -> int:
        """How many hosts the pool has."""
        return len(self.hosts.hosts)

    def label(self, index: int) -> str:
        """``h1``, ``h2``...: how details name a host."""
        return "h%d" % (index + 1)

    def call(self, index: int, script: str, args: typing.Sequence[str] = (),
             timeout: typing.Optional[float] = None) -> runner.Result:
        """Run ``script`` on host ``index`` as xapi does; Skip after an exit 16, Fail on a timeout."""
        if self.invalid_env:
            raise Skip(INVALID_AGAIN)
        here = os.path.join(self.hosts.stack_root, self.hosts.stack_name, script)
        if not (os.path.isfile(here) and os.access(here, os.X_OK)):
            raise Skip("%s is missing (see stack.script-missing)" % script)
        limit = timeout or self.timeout
        result = self.clients[index].result(script, args, timeout=limit)
        what = "%s %s" % (self.label(index), " ".join([script] + list(args)))
        self.suite.capture("%s  (exit %s)" % (what, result.returncode), result.stdout, result.stderr)
        if result.timed_out:
            self.timeouts.append(what)
            raise Fail("%s timed out after %gs and was killed" % (what, limit))
        if result.overflow:
            raise Fail("%s: %s" % (what, result.describe()))
        if result.returncode == mtc.INVALID_ENVIRONMENT:
            self.invalid_env = " ".join(result.stderr.split())[-300:] or "no message"
            raise Skip("the stack exited 16 INVALID_ENVIRONMENT on %s: it cannot run here as xapi runs it: %s"
                       % (what, self.invalid_env))
        return result

    def call_hosts(self, script: str, indexes: typing.Sequence[int],
                   timeout: typing.Optional[float] = None) -> typing.Dict[int, typing.Any]:
        """``script`` on every host of ``indexes`` at once; each a Result, or the Skip/Fail it raised."""
        def one(index: int) -> typing.Any:
            try:
                return self.call(index, script, timeout=timeout)
            except (Skip, Fail) as e:
                return e
        with concurrent.futures.ThreadPoolExecutor(max(1, len(indexes))) as workers:
            return dict(zip(indexes, workers.map(one, indexes)))

    def query(self, index: int, step: str = "") -> liveset.Liveset:
        """Host ``index``'s liveset, parsed as xapi parses it; Fail when it is not one."""
        result = self.call(index, client.HA_QUERY_LIVESET)
        if result.returncode != mtc.SUCCESS and index in self.running:
            self.note_gone(index, step or "when the kit next queried it", result)
        expect(result, mtc.SUCCESS, "%s %s" % (self.label(index), client.HA_QUERY_LIVESET))
        try:
            return client.read_liveset(result, self.label(index))
        except client.InvalidOutput as e:
            raise Unreadable("%s: xapi would refuse its liveset: %s" % (self.label(index), e.detail))

    def wait_for(self, index: int, predicate: typing.Callable[[liveset.Liveset], bool],
                 timeout: float) -> typing.Optional[liveset.Liveset]:
        """Poll host ``index``'s liveset until ``predicate`` holds; the liveset, or None at the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.query(index)
            if predicate(found):
                return found
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL)

    def look(self, step: str) -> None:
        """Check that every daemon that should run still does (a fenced host loses its daemon)."""
        for index in sorted(self.running):
            result = self.call(index, client.HA_QUERY_LIVESET)
            if result.returncode == mtc.SUCCESS:
                self.looks += 1
                continue
            self.note_gone(index, step, result)

    def note_gone(self, index: int, step: str, result: runner.Result) -> None:
        self.running.discard(index)
        self.gone.append("%s's daemon was gone %s (ha_query_liveset exited %s)"
                         % (self.label(index), step, code(result)))

    def need_daemons(self) -> None:
        """Skip unless every host's daemon started."""
        if self.invalid_env:
            raise Skip(INVALID_AGAIN)
        if not self.started:
            raise Skip("needs every host's daemon running (stack.start-daemon did not pass)")

    def need_join(self) -> None:
        """Skip unless every host saw every host live: flags in the livesets cannot be judged otherwise."""
        self.need_daemons()
        if not self.joined:
            raise Skip("needs every host live in every host's liveset (stack.pool-join did not pass)")

    def leftovers(self, index: int, grace: float) -> typing.List[int]:
        """Processes still running in host ``index``'s sandbox ``grace`` seconds from now (polled).

        Those a check already reported (``reported_left``) are not counted again.
        """
        deadline = time.monotonic() + grace
        while True:
            pids = [pid for pid in self.hosts.hosts[index].pids() if pid not in self.reported_left]
            if not pids or time.monotonic() >= deadline:
                return pids
            time.sleep(0.1)


def describe_pids(pids: typing.Sequence[int]) -> str:
    """``pid 123 (sleep 100000), ...`` from /proc, for a detail."""
    parts = []
    for pid in pids:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                command = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            command = "exited"
        parts.append("pid %d (%s)" % (pid, command[:80] or "?"))
    return ", ".join(parts)
