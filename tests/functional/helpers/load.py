"""Random operations on a pool from several client processes, the load of the stress and crash tests.

Each worker is a process with its own PyPI XenAPI session.  An operation is
a PBD.plug or PBD.unplug of a random PBD, an SR.create of a random fixture
type, an SR.destroy (after unplugging the SR), or pool.enable_ha /
pool.disable_ha; the rules may refuse any of them, with the errors listed
in REFUSALS.  After each operation the worker checks the rule in the store
itself (every PBD not detached counts, plugs in flight included).  A
worker paused by the test (the crash test kills the server meanwhile)
waits between operations; one whose server died retries until it is back.
"""

import http.client
import json
import multiprocessing
import os
import random
import socket
import sqlite3
import time
import xmlrpc.client

import XenAPI

from helpers.physical import rule_problems

TYPES = ("ocfs2", "melio", "dual", "lvm")
WORKERS = int(os.environ.get("SHIM_STRESS_WORKERS", "8"))
STEPS = int(os.environ.get("SHIM_STRESS_STEPS", "300"))
MAX_SRS = 12
REFUSALS = {
    "INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "OPERATION_NOT_ALLOWED", "HA_IS_ENABLED", "HA_NOT_ENABLED",
    "HA_ENABLE_IN_PROGRESS", "HA_DISABLE_IN_PROGRESS", "CANNOT_CREATE_STATE_FILE", "SR_HAS_NO_PBDS",
    "INCOMPATIBLE_STATEFILE_SR", "HANDLE_INVALID", "SR_HAS_PBD",
    "HOST_OFFLINE",  # enable_ha while a restarted shim has not yet seen a host rejoin
}
WEIGHTS = (("plug", 6), ("unplug", 5), ("create", 2), ("destroy", 2), ("enable_ha", 1), ("disable_ha", 1))
DOWN = (OSError, xmlrpc.client.ProtocolError, http.client.HTTPException)  # the server is down or restarting


def store_problems(db_path, required):
    """The rule on what the store counts as attached now (PBDs not detached, HA on or being enabled)."""
    conn = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=30)
    try:
        in_use = {r[0]: r[1] for r in conn.execute("SELECT ref, sr_type FROM PBD WHERE state != 'detached'")}
        enabled, stack, plan = conn.execute("SELECT ha_enabled, ha_cluster_stack, ha_plan FROM pool").fetchone()
    finally:
        conn.close()
    if plan:
        enabled, stack = True, json.loads(plan)["stack"]
    return rule_problems(in_use, {"ha": stack} if enabled else {}, required)


class Worker(object):
    """One client process's loop of random operations."""

    def __init__(self, url, password, db_path, required, master, seed):
        self.url, self.password, self.db_path, self.required, self.master = url, password, db_path, required, master
        self.rng = random.Random(seed)
        self.counts = {"done": 0, "refused": 0, "down": 0, "store_violations": [], "unexpected": []}
        self.session = None

    def login(self):
        while True:
            try:
                session = XenAPI.Session(self.url)
                session.login_with_password("root", self.password, "2.0", "load")
                self.session = session
                return
            except (XenAPI.Failure,) + DOWN:  # booting, or down: the crash test restarts it
                time.sleep(0.2)

    def one(self):
        x = self.session.xenapi
        choice = self.rng.choice([name for name, weight in WEIGHTS for _ in range(weight)])
        if choice in ("plug", "unplug"):
            records = x.PBD.get_all_records()
            wanted = sorted(p for p, r in records.items() if r["currently_attached"] == (choice == "unplug"))
            if wanted:
                getattr(x.PBD, choice)(self.rng.choice(wanted))
        elif choice == "create" and len(x.SR.get_all()) < MAX_SRS:
            x.SR.create(self.master, {"device": "/dev/fixture"}, str(8 << 30), "load", "",
                        self.rng.choice(TYPES), "user", True, {})
        elif choice in ("create", "destroy"):
            sr = self.rng.choice(x.SR.get_all())
            for pbd in x.SR.get_PBDs(sr):
                x.PBD.unplug(pbd)
            x.SR.destroy(sr)
        elif choice == "enable_ha":
            x.pool.enable_ha([], {})
        else:
            x.pool.disable_ha()

    def step(self):
        """One operation and the store check; False when the server is down (the caller waits)."""
        try:
            self.one()
            self.counts["done"] += 1
        except XenAPI.Failure as e:
            if e.details[0] == "HOST_STILL_BOOTING":
                return False
            key = "refused" if e.details[0] in REFUSALS else "unexpected"
            if key == "refused":
                self.counts["refused"] += 1
            else:
                self.counts["unexpected"].append(e.details[:3])
        except DOWN + (socket.timeout,):
            self.counts["down"] += 1
            return False
        self.counts["store_violations"].extend(store_problems(self.db_path, self.required))
        return True


def run_worker(url, password, db_path, required, master, seed, steps, pause, stop, out):
    """A worker process: ``steps`` operations (None: until ``stop``), waiting while ``pause`` is set."""
    worker = Worker(url, password, db_path, required, master, seed)
    worker.login()
    done = 0
    while (steps is None and not stop.is_set()) or (steps is not None and done < steps):
        while pause.is_set() and not stop.is_set():
            time.sleep(0.01)
        if worker.step():
            done += 1
        else:
            time.sleep(0.1)
            worker.login()
    out.put(worker.counts)


def prepare(pool):
    """Slow attaches (up to 50 ms), one detached SR of each type; the required stacks of each type."""
    for sr_type in TYPES:
        pool.inject(sr_type, "sleep", "sr_attach", "up to:0.05")
    for sr_type in TYPES:
        for pbd in pool.x.SR.get_PBDs(pool.create_sr(sr_type)):
            pool.x.PBD.unplug(pbd)  # so that the next type can be created
    return {r["type"]: r["required_cluster_stack"] for r in pool.x.SM.get_all_records().values()}


def start(pool, required, steps, pause=None, stop=None):
    """Start WORKERS processes of ``steps`` operations each (None: until ``stop``); (processes, queue)."""
    ctx = multiprocessing.get_context("fork")
    pause, stop, out = pause or ctx.Event(), stop or ctx.Event(), ctx.Queue()
    db_path = os.path.join(pool.server.state, "pool.db")
    procs = [ctx.Process(target=run_worker, args=(pool.server.url, pool.server.password, db_path, required,
                                                  pool.master(), seed, steps, pause, stop, out))
             for seed in range(WORKERS)]
    for proc in procs:
        proc.start()
    return procs, out


def events():
    """Two events to hold and stop the workers of ``start``."""
    ctx = multiprocessing.get_context("fork")
    return ctx.Event(), ctx.Event()


def collect(procs, out, timeout):
    """The counts of every worker, once all have finished."""
    results = [out.get(timeout=timeout) for _ in procs]
    for proc in procs:
        proc.join(60)
    return results
