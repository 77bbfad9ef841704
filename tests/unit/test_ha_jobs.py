"""The background HA jobs under the one-HA-operation-at-a-time rule (``xapi.ha.jobs``, issue 22 item 1).

No process runs: the jobs are threads over a store; what a step does is
recorded in a list.
"""

import threading
import time

import pytest

from sm_clusterstack.xapi.db import records
from sm_clusterstack.xapi.ha import jobs as jobs_mod
from sm_clusterstack.xapi.ha import lifecycle
from sm_clusterstack.xapi.ha import monitor as ha_monitor


@pytest.fixture
def armed(ctx):
    """``ctx`` with HA enabled, and its Jobs."""
    with ctx.store.write() as conn:
        records.set_pool(conn, ha_enabled=True, ha_cluster_stack="xhad")
    return ctx, jobs_mod.Jobs(ctx)


def wait(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def stepper(jobs, done, pause=0.0, rounds=1000):
    """A job target that takes ``rounds`` steps, each recorded in ``done`` after ``pause`` seconds."""
    def target(job):
        for n in range(rounds):
            with jobs.step(job):
                time.sleep(pause)
                done.append(n)
            job.sleep(0.001)
    return target


def test_a_step_runs_only_while_ha_is_enabled_and_no_enable_or_disable_runs(armed):
    ctx, jobs = armed
    job = jobs_mod.Job(jobs, "j", jobs.epoch)
    with jobs.step(job):
        pass
    for fields, why in (({"ha_operation": "disable"}, "an HA disable is running"),
                        ({"ha_operation": "", "ha_enabled": False}, "HA is not enabled")):
        with ctx.store.write() as conn:
            records.set_pool(conn, **fields)
        with pytest.raises(jobs_mod.Ended) as info:
            with jobs.step(job):
                raise AssertionError("the step ran")
        assert str(info.value) == why


def test_exclusive_waits_for_a_step_in_flight_ends_every_job_and_joins_it(armed):
    """disable_ha: no step runs while it does, and none of its jobs is left when it has the lock."""
    ctx, jobs = armed
    done = []
    job = jobs.start("slow", stepper(jobs, done, pause=0.2))
    wait(lambda: jobs._readers == 1)  # a step in flight
    with jobs.exclusive(end_after=True):
        steps = len(done)
        assert steps >= 1 and not job.alive() and jobs.running() == []
        time.sleep(0.05)
        assert len(done) == steps
    assert len(done) == steps


def test_a_job_of_a_past_generation_takes_no_step_and_starts_none(armed):
    ctx, jobs = armed
    job = jobs_mod.Job(jobs, "old", jobs.epoch)
    with jobs.exclusive():
        pass  # an enable or a disable came between
    with pytest.raises(jobs_mod.Ended):
        with jobs.step(job):
            raise AssertionError("the step ran")
    assert jobs.start("child", lambda j: None, epoch=job.epoch) is None


def test_a_sleeping_job_wakes_at_once_when_ended(armed):
    ctx, jobs = armed
    job = jobs.start("sleeper", lambda j: j.sleep(600))
    began = time.monotonic()
    jobs.end_all()
    assert not job.alive() and time.monotonic() - began < 5


def test_once_exclusive_waits_no_new_step_starts_before_it_is_done(armed):
    """The writer is preferred: monitor rounds on every host, every interval, cannot starve disable_ha."""
    ctx, jobs = armed
    events = []

    def reader(job):
        with jobs.step(job):
            time.sleep(0.3)
            events.append("first step done")

    def writer():
        with jobs.exclusive():
            events.append("disable runs")
            time.sleep(0.2)
            events.append("disable done")

    def later(job):
        with jobs.step(job):
            events.append("later step")
    jobs.start("first", reader)
    wait(lambda: jobs._readers == 1)
    thread = threading.Thread(target=writer)
    thread.start()
    wait(lambda: jobs._writers_waiting == 1)
    jobs.start("later", later)  # a new generation's job: it waits for the writer
    thread.join(5)
    wait(lambda: len(events) == 4)
    assert events == ["first step done", "disable runs", "disable done", "later step"]


def test_a_fenced_hosts_reboot_does_not_boot_it_once_ha_was_disabled(armed, monkeypatch):
    """Before: the reboot thread looked at HA once, after the reboot's time, then booted without any lock."""
    ctx, jobs = armed
    runtime = ha_monitor.Runtime(ctx, interval=0.05)
    with ctx.store.read() as conn:
        host = records.host_refs(conn)[1]
    booted = []
    monkeypatch.setattr(lifecycle, "boot", lambda *args, **kw: booted.append(args))
    monkeypatch.setattr(lifecycle, "_is_live", lambda ctx, h: False)
    monkeypatch.setattr(lifecycle, "_reset_processes", lambda ctx, h: None)
    job = runtime.jobs.start("reboot", lifecycle.reboot_fenced, ctx, runtime, host)
    time.sleep(0.1)  # within the reboot's time (5 rounds)
    with runtime.jobs.exclusive(end_after=True):
        assert not job.alive()
        with ctx.store.write() as conn:
            records.set_pool(conn, ha_enabled=False)
    time.sleep(0.4)
    assert booted == []
