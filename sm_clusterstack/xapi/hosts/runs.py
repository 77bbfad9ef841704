"""The processes the shim runs (drivers), recorded so that a restart ends those of a dead instance.

A driver runs in its own process group and session, so a SIGKILL of the
shim leaves it running: a recovery that detached a ``plugging`` PBD while
the old ``sr_attach`` still ran would see it complete afterwards, the SR
attached while the store says detached.  So each run is recorded in the
store (table ``run``) before its process starts, with a token that is in
the process's argv (the driver's internal session ref), and right after
the spawn with its process group and the start time of its leader
(``/proc/<pid>/stat`` field 22, which tells a recycled pid apart).

``end_orphans`` runs first at start-up, before anything is served, scanned
or reconciled: it kills every recorded group that is still the recorded
one (its leader, with the same start time, or members left in it: a group
id cannot be reused while the group exists), and every process whose argv
holds a recorded token (a run whose group the crash kept from being
recorded), then waits until none of them is left, and forgets the records.
"""

import contextlib
import logging
import os
import signal
import time
import typing

from sm_clusterstack import runner
from sm_clusterstack.xapi.db import records

LOG = logging.getLogger("sm_clusterstack.xapi")
PROC = "/proc"
REAP_TIMEOUT = 30.0  # seconds to wait for killed runs to be gone


@contextlib.contextmanager
def registered(ctx, token: str, what: str) -> typing.Iterator[None]:
    """Record the run ``token`` (``what``: for the log) and every process ``runner.run`` starts inside."""
    with ctx.store.write() as conn:
        records.add_run(conn, token, what[:256], time.time())
    try:
        with runner.observe_spawns(lambda pgid: _record_group(ctx, token, pgid)):
            yield
    finally:
        with ctx.store.write() as conn:
            records.remove_run(conn, token)


def _record_group(ctx, token: str, pgid: int) -> None:
    with ctx.store.write() as conn:
        records.set_run_leader(conn, token, pgid, start_time(pgid))


def start_time(pid: int) -> typing.Optional[int]:
    """When process ``pid`` started (clock ticks since boot), or None if there is no such process."""
    try:
        with open(os.path.join(PROC, str(pid), "stat"), "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()  # after "pid (comm) ": state is field 3
    return int(fields[19])


def _processes() -> typing.Iterator[typing.Tuple[int, int, str, bytes]]:
    """(pid, pgid, state, cmdline) of every process."""
    for name in os.listdir(PROC):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(PROC, name, "stat"), "rb") as f:
                stat = f.read()
            with open(os.path.join(PROC, name, "cmdline"), "rb") as f:
                cmdline = f.read()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(b")") + 2:].split()
        yield int(name), int(fields[2]), fields[0].decode("ascii", "replace"), cmdline


def orphan_groups(records: typing.List[typing.Any]) -> typing.Set[int]:
    """The process groups of the recorded runs that are still running (zombies do not count)."""
    tokens = [r["token"].encode("utf-8") for r in records]
    live = [(pid, pgid, cmdline) for pid, pgid, state, cmdline in _processes() if state != "Z"]
    groups = {pgid for _, pgid, _ in live}
    found = set()
    for record in records:
        pgid = record["pgid"]
        if pgid and pgid in groups and (start_time(pgid) in (None, record["leader_start"])):
            found.add(pgid)  # leader gone with members left, or still the same leader
    own = os.getpgid(0)
    found.update(pgid for _, pgid, cmdline in live if pgid not in (0, 1, own) and any(t in cmdline for t in tokens))
    return found


def end_orphans(ctx) -> int:
    """Kill and reap the runs a dead instance left (see the module's text); how many groups there were."""
    with ctx.store.read() as conn:
        left = records.runs(conn)
    if not left:
        return 0
    groups = orphan_groups(left)
    for pgid in sorted(groups):
        LOG.warning("killing process group %d, left running by the previous instance", pgid)
        _kill(pgid)
    _reap(groups, left)
    with ctx.store.write() as conn:
        records.clear_runs(conn)
    return len(groups)


def _kill(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(groups: typing.Set[int], records: typing.List[typing.Any]) -> None:
    """Wait until none of ``groups`` has a live member (they are not our children: init reaps them)."""
    deadline = time.monotonic() + REAP_TIMEOUT
    while groups:
        left = orphan_groups(records) & groups
        if not left:
            return
        if time.monotonic() > deadline:
            raise OSError("process groups %s of the previous instance survive SIGKILL" % sorted(left))
        for pgid in left:
            _kill(pgid)  # a member forked after the first kill
        time.sleep(0.02)
