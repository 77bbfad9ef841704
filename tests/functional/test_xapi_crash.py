"""SIGKILL the shim at random points of 50 operations; each restart finds the store consistent.

Operations (PBD.plug, PBD.unplug, SR.create, pool.enable_ha,
pool.disable_ha) run in a client thread while the server is killed after a
random delay; the fixture drivers and stack scripts sleep a little so that
kills land inside driver runs and between enable_ha's steps; every other
kill waits until the store shows an operation in flight.  The test fails
unless at least 15 of the 50 kills left something in flight to reconcile.  After each
restart: SQLite's integrity and foreign-key checks pass, no PBD is left
plugging or unplugging, no SR half-created, no enable_ha plan is left, HA is either fully on
(statefile VDI recorded) or off, no VDI is half-created, and the attached
SRs still share a stack.
"""

import json
import os
import random
import sqlite3
import threading
import time

import pytest

from shim_helpers import Pool, delay_script, introduce, stacks_share_one

OPERATIONS = 50


@pytest.fixture
def pool(tmp_path):
    p = Pool(tmp_path, hosts=2)
    yield p
    p.server.kill()
    p.server.remove_sandboxes()


def consistency_problems(db_path):
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        found = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        found += ["foreign key %r" % (r,) for r in conn.execute("PRAGMA foreign_key_check")]
        found += ["PBD %s active flag disagrees with state %s" % r for r in conn.execute(
            "SELECT ref, state FROM PBD WHERE active != (state != 'detached')")]
        found += ["PBD %s left %s" % r for r in conn.execute(
            "SELECT ref, state FROM PBD WHERE state NOT IN ('attached', 'detached')")]
        enabled, plan, statefiles = conn.execute("SELECT ha_enabled, ha_plan, ha_statefiles FROM pool").fetchone()
        if plan:
            found.append("enable_ha plan left: %s" % plan)
        vdis = {r[0]: r[1] for r in conn.execute("SELECT ref, location FROM VDI")}
        if enabled and not all(v in vdis for v in json.loads(statefiles) or ["none"]):
            found.append("HA on without its statefile VDI")
        if not enabled and vdis:
            found.append("statefile VDIs left with HA off: %s" % sorted(vdis))
        required = [json.loads(r[0]) for r in conn.execute(
            "SELECT DISTINCT SM.required_cluster_stack FROM PBD JOIN SM ON SM.type = PBD.sr_type "
            "WHERE PBD.state = 'attached'")]
        if not stacks_share_one(required):
            found.append("attached SRs share no stack: %s" % required)
        found += ["internal session left" for _ in conn.execute("SELECT 1 FROM session WHERE internal = 1")]
        found += ["SR %s left half-created" % r for r in conn.execute("SELECT ref FROM SR WHERE creating = 1")]
    finally:
        conn.close()
    return found


def one_operation(pool, rng, srs):
    x = pool.x
    choice = rng.choice(["plug", "plug", "unplug", "create", "enable_ha", "disable_ha"])
    if choice in ("plug", "unplug"):
        records = x.PBD.get_all_records()
        wanted = [p for p, r in records.items() if r["currently_attached"] == (choice == "unplug")]
        pbd = rng.choice(wanted or list(records))
        return lambda: getattr(x.PBD, choice)(pbd)
    if choice == "create":
        return lambda: pool.create_sr(rng.choice(["ocfs2", "melio", "lvm"]), "crash")
    if choice == "enable_ha":
        return lambda: x.pool.enable_ha([srs[-1]], {})
    return lambda: x.pool.disable_ha()


def run_and_kill(pool, call, delay, db_path, when_in_flight):
    """Run ``call``, SIGKILL the server ``delay`` s later (after a mark appears if ``when_in_flight``)."""
    thread = threading.Thread(target=_swallow, args=(call,), daemon=True)
    thread.start()
    if when_in_flight:
        deadline = time.time() + 5
        while thread.is_alive() and not in_flight(db_path) and time.time() < deadline:
            time.sleep(0.005)
    thread.join(delay)
    pool.server.kill()
    thread.join(30)


def _swallow(call):
    try:
        call()
    except Exception:  # the server dies under it, or the rules refuse it: both expected
        pass


def test_sigkill_at_random_points_leaves_store_consistent(pool):
    rng = random.Random(5)
    pool.start()
    for sr_type in ("ocfs2", "melio", "lvm"):
        for command in ("sr_attach", "sr_detach", "sr_create", "vdi_create", "vdi_attach"):
            pool.inject(sr_type, "sleep", command, "0.15")
    for script in ("ha_set_pool_state", "ha_start_daemon", "ha_stop_daemon"):
        delay_script(pool, script, "0.1")
    srs = [introduce(pool, t, t) for t in ("ocfs2", "melio", "lvm")]
    for pbd in pool.x.SR.get_PBDs(srs[-1]):
        pool.x.PBD.plug(pbd)
    db_path = os.path.join(pool.server.state, "pool.db")
    interrupted = 0
    for number in range(OPERATIONS):
        call = one_operation(pool, rng, srs)
        run_and_kill(pool, call, rng.uniform(0.0, 0.3), db_path, when_in_flight=number % 2 == 0)
        interrupted += bool(in_flight(db_path))
        pool.start()
        assert consistency_problems(db_path) == [], "after operation %d" % number
    assert interrupted >= 15, "too few kills landed inside an operation to prove anything"
    assert pool.x.pool.get_all()


def in_flight(db_path):
    """What a crash left half done: PBDs plugging/unplugging, an enable_ha plan."""
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        found = conn.execute("SELECT ref FROM PBD WHERE state IN ('plugging', 'unplugging')").fetchall()
        found += [r for r in conn.execute("SELECT ha_plan FROM pool WHERE ha_plan != ''")]
        found += [r for r in conn.execute("SELECT ref FROM SR WHERE creating = 1")]
    finally:
        conn.close()
    return found
