"""Concurrent plugs never attach SRs with disjoint stack sets (8 processes x 100 operations).

Each worker process plugs and unplugs random PBDs over SRs of conflicting
types (ocfs2 needs corosync, melio needs melio, dual either, lvm none)
through the PyPI XenAPI client against one `serve` process; the fixture
drivers sleep in sr_attach to widen the race window.  After every step the
worker checks the invariant twice: on the attached PBDs the API reports,
and on every PBD not detached (plugs in flight included) read straight from
the store.
"""

import multiprocessing
import os
import random

import pytest
import XenAPI

from shim_helpers import Pool, active_required_sets, introduce, stacks_share_one

WORKERS = 8
STEPS = 100
EXPECTED_REFUSALS = ("INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "OPERATION_NOT_ALLOWED")


@pytest.fixture
def pool(tmp_path):
    p = Pool(tmp_path, hosts=2).start()
    yield p
    p.stop()


def worker(url, password, db_path, pbds, required, seed, out):
    rng = random.Random(seed)
    session = XenAPI.Session(url)
    session.login_with_password("root", password, "2.0", "stress")
    x = session.xenapi
    counts = {"plugged": 0, "unplugged": 0, "refused": 0, "broken": 0, "unexpected": []}
    for _ in range(STEPS):
        pbd = rng.choice(pbds)
        try:
            if rng.random() < 0.6:
                x.PBD.plug(pbd)
                counts["plugged"] += 1
            else:
                x.PBD.unplug(pbd)
                counts["unplugged"] += 1
        except XenAPI.Failure as e:
            if e.details[0] in EXPECTED_REFUSALS:
                counts["refused"] += 1
            else:
                counts["unexpected"].append(e.details)
        attached = [required[r["SR"]] for r in x.PBD.get_all_records_where(
            'field "currently_attached" = "true"').values()]
        if not stacks_share_one(attached) or not stacks_share_one(active_required_sets(db_path)):
            counts["broken"] += 1
    out.put(counts)


def test_concurrent_plugs_never_attach_disjoint_stacks(pool):
    x = pool.x
    for sr_type in ("ocfs2", "melio", "dual", "lvm"):
        pool.inject(sr_type, "sleep", "sr_attach", "0.02")
    srs = {introduce(pool, t, "%s%d" % (t, n)): t for t in ("ocfs2", "melio", "dual", "lvm") for n in (1, 2)}
    sm = {r["type"]: r["required_cluster_stack"] for r in x.SM.get_all_records().values()}
    required = {sr: sm[t] for sr, t in srs.items()}
    pbds = [p for sr in srs for p in x.SR.get_PBDs(sr)]
    db_path = os.path.join(pool.server.state, "pool.db")
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(pool.server.url, pool.server.password, db_path, pbds,
                                              required, seed, out)) for seed in range(WORKERS)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(60)
    assert [r["unexpected"] for r in results] == [[]] * WORKERS
    assert sum(r["broken"] for r in results) == 0
    assert sum(r["refused"] for r in results) > 0 and sum(r["plugged"] for r in results) > 0
