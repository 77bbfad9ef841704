"""8 client processes x 300 random operations: the rule holds in the store and in what really ran.

The pool has two sandboxed hosts, fixture SR types needing disjoint stacks
(ocfs2 needs corosync, melio needs melio, dual either, lvm none) and
fixture stacks xhad, corosync and melio.  Each worker (load.py) plugs,
unplugs, creates, destroys, enables and disables HA at random through the
PyPI XenAPI client, and checks the rule in the store after each operation.
The fixture drivers and stacks record what really happened (physical.py):
the test replays that timeline and finds the rule held at every instant,
then, once quiet, that what is in use is what the store says.  The drivers
sleep up to 50 ms in sr_attach to widen the races.

SHIM_STRESS_WORKERS and SHIM_STRESS_STEPS change the counts (default: the
issue's 8 x 300).
"""

import os

import pytest

from helpers import load, physical, sandbox_prefix


pytestmark = [pytest.mark.pool(prefix=sandbox_prefix("s14")), pytest.mark.slow(50),
              pytest.mark.usefixtures("background_priority")]


def test_random_operations_of_8_clients_never_break_the_rule_in_the_store_nor_in_what_ran(pool):
    required = load.prepare(pool)
    procs, out = load.start(pool, required, load.STEPS)
    results = load.collect(procs, out, timeout=1200)
    assert [r["unexpected"] for r in results] == [[]] * load.WORKERS
    assert [r["store_violations"] for r in results] == [[]] * load.WORKERS
    assert sum(r["done"] for r in results) > 0 and sum(r["refused"] for r in results) > 0
    db_path = os.path.join(pool.server.state, "pool.db")
    assert physical.disagreements(pool, db_path, required) == []
    kinds = {(e[2], e[1]) for e in physical.events(pool)}
    assert {("sr", "open"), ("sr", "close"), ("daemon", "open"), ("daemon", "close")} <= kinds
