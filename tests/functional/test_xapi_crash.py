"""50 SIGKILLs of the shim under the stress test's load: after each restart, the store and what ran agree.

The load is test_xapi_stress's: 8 client processes of random plugs,
unplugs, creates, destroys, enable_ha and disable_ha (load.py), here
without end, on two sandboxed hosts (the sandboxes stay up across the
crashes, as hosts do when xapi dies).  The fixture drivers are slow
(sr_attach up to 1.5 s, the rest up to 0.3 s; stack scripts 0.1 s), so the
kills land inside driver and script runs.  At a random moment the clients
are held, the server is killed and restarted (same port), and once nothing
runs (with HA on, the restart rejoins the hosts in the background) and
before the clients go on, the test compares: the store is whole and holds
nothing in flight, what really is in use (the fixture timeline,
physical.py) is exactly what the store says is attached, the daemons that
run are those HA being on means, and the rule held at every instant so far.

SHIM_CRASH_KILLS changes the count (default: the issue's 50).
"""

import os
import random
import socket
import sqlite3
import time

import pytest

from helpers import load, physical, sandbox_prefix
from helpers.shim import delay_script

KILLS = int(os.environ.get("SHIM_CRASH_KILLS", "50"))
SLOW = {"sr_attach": 1.5, "sr_detach": 0.3, "sr_create": 0.3, "sr_delete": 0.3, "vdi_create": 0.3,
        "vdi_attach": 0.3}
pytestmark = [pytest.mark.pool(prefix=sandbox_prefix("s14c"), start=False, kill=True), pytest.mark.slow(185)]


def free_port():
    """A free port below the kernel's ephemeral range: no other test's server (port 0) or client can take
    it between a kill and the restart, as one in the range could be while parallel tests run."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral = int(f.read().split()[0])
    rng = random.Random()
    for _ in range(100):
        port = rng.randrange(1024, ephemeral)
        probe = socket.socket()
        try:
            probe.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            probe.close()
    raise AssertionError("no free port below %d" % ephemeral)


@pytest.fixture
def pool(background_priority, pool):
    """The conftest's pool on a port of its own (the clients find the restarted server where it was), the
    shim, its hosts and the clients at background priority (conftest.background_priority)."""
    pool.server.extra = ["--port", str(free_port())]
    return pool


def store_problems(db_path):
    """What a restart must never leave in the store."""
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        found = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        found += ["foreign key %r" % (r,) for r in conn.execute("PRAGMA foreign_key_check")]
        found += ["PBD %s active flag disagrees with state %s" % r for r in conn.execute(
            "SELECT ref, state FROM PBD WHERE active != (state != 'detached')")]
        found += ["SR %s left half-created" % r for r in conn.execute("SELECT ref FROM SR WHERE creating = 1")]
        found += ["internal session left" for _ in conn.execute("SELECT 1 FROM session WHERE internal = 1")]
        found += ["run %s %s left" % r for r in conn.execute("SELECT token, what FROM run")]
        found += ["HA operation %r left" % r for r in conn.execute("SELECT ha_operation FROM pool "
                                                                   "WHERE ha_operation != ''")]
    finally:
        conn.close()
    return found


def in_flight(db_path):
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        return bool(conn.execute("SELECT 1 FROM PBD WHERE state NOT IN ('attached', 'detached') UNION ALL "
                                 "SELECT 1 FROM SR WHERE creating = 1 UNION ALL "
                                 "SELECT 1 FROM pool WHERE ha_plan != '' OR ha_disable_plan != ''").fetchone())
    finally:
        conn.close()


def wait_quiet(pool, db_path, timeout=60):
    """Wait until nothing runs for a while: after a restart with HA on, the shim rejoins every host
    (static-vdis attach, ha_start_daemon) in the background, as xapi's on_server_restart does."""
    deadline, calm, last = time.time() + timeout, 0, None
    while time.time() < deadline and calm < 5:
        conn = sqlite3.connect(db_path, timeout=30)
        try:
            busy = conn.execute("SELECT (SELECT COUNT(*) FROM run) + (SELECT COUNT(*) FROM session "
                                "WHERE internal = 1)").fetchone()[0]
        finally:
            conn.close()
        now = (busy, len(physical.events(pool)))
        calm = calm + 1 if busy == 0 and now == last else 0
        last = now
        time.sleep(0.1)


def test_sigkills_under_load_leave_the_store_and_what_ran_in_agreement(pool, background_priority):
    pool.start()
    assert os.getpriority(os.PRIO_PROCESS, pool.server.proc.pid) == background_priority
    required = load.prepare(pool)
    for command, most in SLOW.items():
        for sr_type in required:
            pool.inject(sr_type, "sleep", command, "up to:%s" % most)
    for script in ("ha_set_pool_state", "ha_start_daemon", "ha_stop_daemon", "ha_disarm_fencing"):
        delay_script(pool, script, "0.1")
    db_path = os.path.join(pool.server.state, "pool.db")
    pause, stop = load.events()
    procs, out = load.start(pool, required, None, pause, stop)
    rng = random.Random(14)
    problems, interrupted = [], 0
    try:
        for number in range(KILLS):
            time.sleep(rng.uniform(0.3, 2.0))
            pause.set()
            pool.server.kill()
            interrupted += in_flight(db_path)
            pool.start()
            wait_quiet(pool, db_path)
            found = store_problems(db_path) + physical.disagreements(pool, db_path, required)
            if found:
                problems.append((number, found))
            pause.clear()
    finally:
        stop.set()
        pause.clear()
    results = load.collect(procs, out, timeout=600)
    assert problems == []
    assert [r["unexpected"] for r in results] == [[]] * load.WORKERS
    assert [r["store_violations"] for r in results] == [[]] * load.WORKERS
    assert interrupted >= KILLS // 2, "too few kills landed inside an operation to prove anything"
    assert sum(r["done"] for r in results) > 0
