"""Background HA threads under the one-HA-operation-at-a-time rule (issue 22).

The shim's HA work in the background (a host's rejoin at restart or at
its boot, a fenced host's reboot, the monitors) is done by ``Job``s of
one ``Jobs`` registry (``Runtime.jobs``):

- each step of a job (a script run, a store change) runs under the HA
  lock held shared, so jobs of different hosts run at once, and only
  after a check that the job is still wanted: not ended, of the current
  generation (``epoch``, bumped by every enable and disable), HA enabled
  and no enable or disable running (``pool.ha_operation``); otherwise
  ``Ended`` is raised and the job ends, logged;
- enable_ha and disable_ha hold the lock exclusive (``exclusive``): on
  entry every job is ended (a job waiting for the lock, or sleeping,
  wakes at once), a step in flight is waited for, and every job thread
  is joined; disable_ha does the same again before it returns, for a job
  started meanwhile (a host's boot);
- a foreground call that runs a host's HA scripts (``host.shutdown``,
  ``host.reboot``) holds the lock shared too (``shared``).

Waiting for the lock prefers the writer: once enable or disable waits,
no new step starts.  A thread that holds it shared may take it shared
again.  xapi serialises the same work: enable and disable are pool
operations, one at a time, and its ``Monitor`` thread is stopped before
``disable_internal`` runs.
"""

import contextlib
import logging
import threading
import typing

from sm_clusterstack.xapi.db import records

LOG = logging.getLogger("sm_clusterstack.xapi")
JOIN_TIMEOUT = 60.0  # seconds to wait for an ended job's thread (its steps are done; it only unwinds)


class Ended(Exception):
    """The job is no longer wanted; the message says why."""


class Job(object):
    """One background HA thread: its name, the generation it belongs to, and whether it was ended."""

    def __init__(self, jobs: "Jobs", name: str, epoch: int) -> None:
        self.jobs = jobs
        self.name = name
        self.epoch = epoch
        self.ended = threading.Event()
        self.thread = None  # type: typing.Optional[threading.Thread]

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; Ended at once if the job is ended meanwhile."""
        if self.ended.wait(seconds):
            raise Ended("ended")

    def end(self) -> None:
        """End the job: its next step, or its sleep, raises Ended."""
        self.ended.set()
        self.jobs.wake()

    def join(self, timeout: float = JOIN_TIMEOUT) -> None:
        """Wait for the job's thread (unless it is this one)."""
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout)
            if self.thread.is_alive():
                LOG.error("HA job %s did not end within %.0f s", self.name, timeout)

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class Jobs(object):
    """The background HA jobs of a shim and the HA lock (shared for their steps, exclusive for enable/disable)."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.epoch = 0
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0
        self._held = threading.local()  # .count: how often this thread holds the lock shared
        self._jobs = set()  # type: typing.Set[Job]

    def start(self, name: str, target: typing.Callable[..., None], *args: typing.Any,
              epoch: typing.Optional[int] = None) -> typing.Optional[Job]:
        """Run ``target(job, *args)`` in a thread as a job; None (nothing started) if ``epoch`` is past."""
        with self._cond:
            if epoch is not None and epoch != self.epoch:
                return None
            job = Job(self, name, self.epoch)
            self._jobs.add(job)
        job.thread = threading.Thread(target=self._run, args=(job, target, args), name=name, daemon=True)
        job.thread.start()
        return job

    def _run(self, job: Job, target: typing.Callable[..., None], args: typing.Tuple[typing.Any, ...]) -> None:
        try:
            target(job, *args)
        except Ended as e:
            LOG.info("HA job %s ends: %s", job.name, e)
        except Exception:
            LOG.exception("HA job %s: unexpected error", job.name)
        finally:
            with self._cond:
                self._jobs.discard(job)

    def running(self) -> typing.List[Job]:
        """The jobs whose threads run."""
        with self._cond:
            return [job for job in self._jobs if job.alive()]

    def wake(self) -> None:
        """Wake the threads waiting for the lock (a job was ended)."""
        with self._cond:
            self._cond.notify_all()

    @contextlib.contextmanager
    def step(self, job: Job) -> typing.Iterator[None]:
        """One step of ``job``: the lock held shared, once the job is found still wanted (else Ended)."""
        self._acquire_shared(job)
        try:
            why = self._unwanted(job)
            if why:
                raise Ended(why)
            yield
        finally:
            self._release_shared()

    @contextlib.contextmanager
    def shared(self) -> typing.Iterator[None]:
        """The lock held shared, for a foreground call that runs a host's HA scripts."""
        self._acquire_shared(None)
        try:
            yield
        finally:
            self._release_shared()

    @contextlib.contextmanager
    def exclusive(self, end_after: bool = False) -> typing.Iterator[None]:
        """The lock held exclusive (enable, disable): every job ended and joined first (again after: ``end_after``)."""
        with self._cond:
            self.epoch += 1
            ended = self._end_all()
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            for job in ended:
                job.join()
            yield
            if end_after:
                self.end_all()
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()

    def end_all(self, wait: bool = True) -> None:
        """End every job (a new generation) and, if ``wait``, join their threads."""
        with self._cond:
            self.epoch += 1
            ended = self._end_all()
        if wait:
            for job in ended:
                job.join()

    def _end_all(self) -> typing.List[Job]:
        ended = list(self._jobs)
        for job in ended:
            job.ended.set()
        self._cond.notify_all()
        return ended

    def _acquire_shared(self, job: typing.Optional[Job]) -> None:
        count = getattr(self._held, "count", 0)
        with self._cond:
            if not count:
                while self._writer or self._writers_waiting:
                    if job is not None and (job.ended.is_set() or job.epoch != self.epoch):
                        raise Ended("ended while waiting for an HA operation")
                    self._cond.wait()
                self._readers += 1
        self._held.count = count + 1

    def _release_shared(self) -> None:
        self._held.count -= 1
        if self._held.count:
            return
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    def _unwanted(self, job: Job) -> str:
        """Why ``job`` must not take a step ("" when it may)."""
        if job.ended.is_set():
            return "ended"
        if job.epoch != self.epoch:
            return "HA was enabled or disabled since it started"
        with self.ctx.store.read() as conn:
            running = records.running_ha_operation(conn)
            enabled = bool(records.pool_row(conn)["ha_enabled"])
        if running:
            return "an HA %s is running" % running
        return "" if enabled else "HA is not enabled"


class _NoJobs(object):
    """Where there is no HA runtime (a unit test's context): no lock, nothing to end."""

    @contextlib.contextmanager
    def exclusive(self, end_after: bool = False) -> typing.Iterator[None]:
        yield

    @contextlib.contextmanager
    def shared(self) -> typing.Iterator[None]:
        yield


def of(ctx) -> typing.Any:
    """The ``Jobs`` of ``ctx``'s HA runtime (a stand-in with no lock when it has none)."""
    runtime = getattr(ctx, "ha_runtime", None)
    return runtime.jobs if runtime is not None else _NoJobs()
