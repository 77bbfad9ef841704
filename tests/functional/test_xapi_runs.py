"""runs.end_orphans against real processes: what a dead shim left running is killed and reaped, nothing else.

The processes are ``sh`` and ``sleep`` in sessions of their own, as the
runner starts drivers; the records are what ``runs.registered`` writes.
"""

import subprocess
import time

import pytest

from sm_clusterstack import runner
from sm_clusterstack.xapi.rpc import context
from sm_clusterstack.xapi.hosts import runs
from sm_clusterstack.xapi.db import store


@pytest.fixture
def ctx(tmp_path):
    pool = context.Pool(str(tmp_path / "state"), str(tmp_path / "sm"), str(tmp_path / "stacks"), "pw")
    context.initialise(pool.store, 1)
    yield pool
    pool.store.close()


def spawn(*argv):
    return subprocess.Popen(list(argv), start_new_session=True, stdout=subprocess.DEVNULL)


def record(ctx, token, pgid=None, leader_start=None):
    with ctx.store.write() as conn:
        conn.execute("INSERT INTO run (token, what, started, pgid, leader_start) VALUES (?, 'test', 0, ?, ?)",
                     (token, pgid, leader_start))


def alive(proc):
    return proc.poll() is None


def group_members(pgid):
    return [pid for pid, group, state, _ in runs._processes() if group == pgid and state != "Z"]


def test_a_recorded_group_is_killed_with_what_it_forked_and_the_records_go(ctx):
    proc = spawn("sh", "-c", "sleep 60 & sleep 60; wait")
    time.sleep(0.2)  # the background sleep is forked
    record(ctx, store.new_ref(), proc.pid, runs.start_time(proc.pid))
    assert len(group_members(proc.pid)) == 3
    assert runs.end_orphans(ctx) == 1
    proc.wait(10)
    assert group_members(proc.pid) == []
    with ctx.store.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM run").fetchone()[0] == 0


def test_a_run_killed_before_its_group_was_recorded_is_found_by_the_token_in_its_argv(ctx):
    token = store.new_ref()
    proc = spawn("sh", "-c", "sleep 60; exit 0", "driver", "<methodCall>%s</methodCall>" % token)
    record(ctx, token)  # the crash came between the spawn and the record of the group
    assert runs.end_orphans(ctx) == 1
    assert proc.wait(10) == -9


def test_a_recycled_pid_of_another_program_is_left_alone(ctx):
    other = spawn("sleep", "60")
    try:
        record(ctx, store.new_ref(), other.pid, runs.start_time(other.pid) + 1)  # same pid, started later
        assert runs.end_orphans(ctx) == 0
        time.sleep(0.1)
        assert alive(other)
    finally:
        other.kill()
        other.wait()


def test_registered_records_the_group_while_the_run_lasts(ctx):
    token = store.new_ref()
    seen = []
    with runs.registered(ctx, token, "probe"):
        result = runner.run(["sh", "-c", "echo $$"], timeout=10)
        with ctx.store.read() as conn:
            seen = list(conn.execute("SELECT pgid, leader_start FROM run WHERE token = ?", (token,)).fetchone())
    assert result.ok and seen[0] == int(result.stdout) and seen[1] is not None
    with ctx.store.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM run").fetchone()[0] == 0
