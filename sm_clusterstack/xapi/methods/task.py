"""Tasks, as xapi has them: ``Async.<method>`` answers a task ref at once and runs in a thread.

What xapi does (``ocaml/xapi/server_helpers.ml`` ``do_dispatch`` and
``exec_with_context``, ``taskHelper.ml``, ``xapi_task.ml``): the arity, the
session and the parameter types of an Async call are checked at once (a
mistake there is the call's failure, not the task's); the task is created
``pending``, progress 0, cancellable; on success ``status`` becomes
``success``, ``progress`` 1 and ``result`` the value as XML-RPC
(``Xmlrpc.to_string``: ``<value>OpaqueRef:...</value>``, ``<value></value>``
for a method without result); on an error ``failure`` with ``error_info``
the ErrorDescription; TASK_CANCELLED makes it ``cancelled``.
``task.cancel`` only asks: the running method stops at its next
``check_cancelled`` (or ``step``).  Tasks live in memory, as xapi's task
table is not persistent: a restarted shim has none.  Every change of a
task (created, progress, finished, cancel asked, other_config, destroyed)
is written to the store's change record (``records.note_change``), where
event.from finds it as a ``task`` event, as xapi's task rows give them.

The hooks for the code a task runs: ``report(step, done, total)`` sets the
running task's progress to done/total and logs the step;
``check_cancelled()`` raises TASK_CANCELLED if someone cancelled it;
``step(...)`` does both.  Outside a task they only log.  enable_ha reports
its own steps through ``ha.progress`` (step, fraction), which a running
task listens to on its thread, as xapi's enable sets the task's progress
(``xapi_ha.ml``, ``count_call``).
"""

import logging
import threading
import time
import typing
import weakref
import xmlrpc.client
from xml.sax.saxutils import escape

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.rpc import dispatch as api
from sm_clusterstack.xapi.ha import progress
from sm_clusterstack.xapi.db import store
from sm_clusterstack.xapi.db import where
from sm_clusterstack.xapi.rpc import registry as registry_mod
from sm_clusterstack.xapi.rpc.registry import method
from sm_clusterstack.xapi.db import records

LOG = logging.getLogger("sm_clusterstack.xapi")
ASYNC_PREFIX = registry_mod.ASYNC_PREFIX
ASYNC_METHODS = frozenset([
    "pool.enable_ha", "pool.disable_ha", "SR.create", "SR.destroy", "SR.forget", "SR.update", "SR.probe",
    "SR.scan", "PBD.plug", "PBD.unplug"])
TASK_CANCELLED = "TASK_CANCELLED"
EPOCH = "19700101T00:00:00Z"
FIELDS = ("uuid", "name_label", "name_description", "allowed_operations", "current_operations", "created",
          "finished", "status", "resident_on", "progress", "type", "result", "error_info", "other_config",
          "subtask_of", "subtasks", "backtrace")
_REGISTRIES = weakref.WeakKeyDictionary()
_REGISTRIES_LOCK = threading.Lock()
_RUNNING = threading.local()  # .task: the Task this thread runs, if any


def now() -> xmlrpc.client.DateTime:
    return xmlrpc.client.DateTime(time.strftime("%Y%m%dT%H:%M:%SZ", time.gmtime()))


class Task(object):
    """One task record; ``lock`` guards it."""

    def __init__(self, label: str, description: str, resident_on: str) -> None:
        self.ref = store.new_ref()
        self.lock = threading.Lock()
        self.on_change = None  # type: typing.Optional[typing.Callable[[str, str], None]]  # set by Registry.add
        self.cancel_requested = False
        self.destroy_when_done = False
        self.record = {
            "uuid": store.new_uuid(), "name_label": label, "name_description": description,
            "allowed_operations": ["cancel"], "current_operations": {}, "created": now(),
            "finished": xmlrpc.client.DateTime(EPOCH), "status": "pending", "resident_on": resident_on,
            "progress": 0.0, "type": "<none/>", "result": "", "error_info": [], "other_config": {},
            "subtask_of": store.NULL_REF, "subtasks": [], "backtrace": "()"}

    def snapshot(self) -> dict:
        with self.lock:
            return {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
                    for k, v in self.record.items()}

    def finish(self, status: str, result: str = "", error_info: typing.Sequence[str] = ()) -> None:
        """End a pending task (xapi's TaskHelper.complete / failed / cancel_this)."""
        with self.lock:
            if self.record["status"] != "pending":
                return
            self.record.update(status=status, progress=1.0, finished=now(), result=result,
                               error_info=list(error_info), allowed_operations=[], current_operations={})
        self.changed()

    def set_progress(self, fraction: float) -> None:
        with self.lock:
            if self.record["status"] != "pending":
                return
            was = self.record["progress"]
            self.record["progress"] = min(max(float(fraction), was), 1.0)
            moved = self.record["progress"] != was
        if moved:
            self.changed()

    def change(self, edit: typing.Callable[[dict], typing.Any]) -> None:
        """Apply ``edit`` to the record under the lock, and record the change."""
        with self.lock:
            edit(self.record)
        self.changed()

    def changed(self, op: str = "mod") -> None:
        """Record a change of this task in the store's change record (nothing before it is registered)."""
        if self.on_change is not None:
            self.on_change(self.ref, op)


class Registry(object):
    """The tasks of one pool context; each addition, change and removal goes to ``store``'s change record."""

    def __init__(self, pool_store: typing.Optional[store.Store] = None) -> None:
        self.lock = threading.Lock()
        self.tasks = {}
        self.store = pool_store

    def note(self, ref: str, op: str) -> None:
        """Record that task ``ref`` was added, changed or removed (``op``: add, mod, del)."""
        if self.store is not None:
            with self.store.write() as conn:
                records.note_change(conn, "task", ref, op)

    def add(self, task: Task) -> None:
        with self.lock:
            self.tasks[task.ref] = task
        task.on_change = self.note
        task.changed("add")

    def get(self, ref: str) -> Task:
        with self.lock:
            found = self.tasks.get(ref)
        if found is None:
            raise XenAPIError(errors.HANDLE_INVALID, "task", ref)
        return found

    def all(self) -> typing.List[Task]:
        with self.lock:
            return [self.tasks[r] for r in sorted(self.tasks)]

    def remove(self, ref: str) -> None:
        with self.lock:
            found = self.tasks.pop(ref, None)
        if found is not None:
            found.changed("del")
            found.on_change = None

    def snapshot(self, ref: str) -> typing.Optional[dict]:
        """The record of task ``ref``, or None when there is none."""
        with self.lock:
            found = self.tasks.get(ref)
        return found.snapshot() if found is not None else None


def registry(ctx: typing.Any) -> Registry:
    with _REGISTRIES_LOCK:
        if ctx not in _REGISTRIES:
            _REGISTRIES[ctx] = Registry(getattr(ctx, "store", None))
        return _REGISTRIES[ctx]


def current() -> typing.Optional[Task]:
    """The task the calling thread runs, or None."""
    return getattr(_RUNNING, "task", None)


def report(step: str, done: int, total: int) -> None:
    """Progress hook: the running task is ``done`` of ``total`` steps, now at ``step`` (logged)."""
    task = current()
    LOG.info("step %d/%d: %s%s", done, total, step, " (task %s)" % task.record["uuid"] if task else "")
    if task is not None and total > 0:
        task.set_progress(float(done) / total)


def check_cancelled() -> None:
    """TASK_CANCELLED [task ref] if the running task was asked to stop (xapi's exn_if_cancelling)."""
    task = current()
    if task is not None and task.cancel_requested:
        raise XenAPIError(TASK_CANCELLED, task.ref)


def step(name: str, done: int, total: int) -> None:
    """``report`` then ``check_cancelled``: call it between the steps of a long operation."""
    report(name, done, total)
    check_cancelled()


def as_result(value: typing.Any) -> str:
    """The task's result field: the value as xapi's ``Xmlrpc.to_string`` writes it."""
    if isinstance(value, str):
        return "<value>%s</value>" % escape(value)
    marshalled = xmlrpc.client.dumps((value,), methodresponse=True, allow_none=False)
    return marshalled.split("<param>\n", 1)[1].rsplit("</param>", 1)[0].strip()


@registry_mod.async_runner
def submit(ctx: typing.Any, name: str, params: tuple) -> str:
    """``Async.<method>``: check the call now, run it in a thread as a task; the task ref."""
    target = name[len(ASYNC_PREFIX):] if name.startswith(ASYNC_PREFIX) else ""
    if target not in ASYNC_METHODS:
        raise XenAPIError(errors.MESSAGE_METHOD_UNKNOWN, str(name)[:registry_mod.MAX_NAME])
    meth = api.lookup(target)
    session_ref, args = api.prepare(ctx, meth, params)
    with ctx.store.read() as conn:
        master = records.master(conn)
    task = Task(name, "", master)
    registry(ctx).add(task)
    threading.Thread(target=_run, args=(ctx, task, meth, session_ref, args), name="task-" + task.ref[10:18],
                     daemon=True).start()
    return task.ref


def _run(ctx, task: Task, meth, session_ref, args) -> None:
    _RUNNING.task = task
    try:
        check_cancelled()
        with progress.listening(task.set_progress):
            value = meth.fn(ctx, session_ref, *args) if meth.session else meth.fn(ctx, *args)
        task.finish("success", result=as_result(value))
    except XenAPIError as e:
        task.finish("cancelled" if e.code == TASK_CANCELLED else "failure", error_info=e.description)
    except Exception as e:  # a bug: the task fails, the server carries on
        LOG.exception("internal error in task %s (%s)", task.ref, task.record["name_label"])
        task.finish("failure", error_info=[errors.INTERNAL_ERROR, "%s: %s" % (type(e).__name__, e)])
    finally:
        _RUNNING.task = None
        LOG.info("task %s %s: %s", task.record["uuid"], task.record["name_label"], task.record["status"])
        if task.destroy_when_done:
            registry(ctx).remove(task.ref)


@method("task.get_all")
def get_all(ctx, session) -> list:
    return [t.ref for t in registry(ctx).all()]


@method("task.get_all_records")
def get_all_records(ctx, session) -> dict:
    return {t.ref: t.snapshot() for t in registry(ctx).all()}


@method("task.get_all_records_where", "expr:str")
def get_all_records_where(ctx, session, expr) -> dict:
    predicate = where.compile_expr(expr)
    return {ref: rec for ref, rec in get_all_records(ctx, session).items() if predicate(rec)}


@method("task.get_record", "self:ref:task")
def get_record(ctx, session, self) -> dict:
    return registry(ctx).get(self).snapshot()


@method("task.get_by_uuid", "uuid:str")
def get_by_uuid(ctx, session, uuid) -> str:
    for task in registry(ctx).all():
        if task.record["uuid"] == uuid:
            return task.ref
    raise XenAPIError(errors.UUID_INVALID, "task", uuid)


@method("task.get_by_name_label", "label:str")
def get_by_name_label(ctx, session, label) -> list:
    return [t.ref for t in registry(ctx).all() if t.record["name_label"] == label]


def _register_getter(field: str) -> None:
    @method("task.get_" + field, "self:ref:task")
    def getter(ctx, session, self):
        return registry(ctx).get(self).snapshot()[field]


for _field in FIELDS:
    _register_getter(_field)


@method("task.create", "label:str", "description:str")
def create(ctx, session, label, description) -> str:
    """A pending task for the caller to drive (xapi_task.ml ``create``)."""
    with ctx.store.read() as conn:
        task = Task(label, description, records.master(conn))
    registry(ctx).add(task)
    return task.ref


@method("task.cancel", "task:ref:task")
def cancel(ctx, session, task) -> str:
    """Ask a task to stop (xapi_task.ml ``cancel``): it ends ``cancelled`` at its next check."""
    found = registry(ctx).get(task)
    with found.lock:
        found.record["current_operations"] = {store.new_ref(): "cancel"}
        found.cancel_requested = True
    found.changed()
    return ""


@method("task.destroy", "self:ref:task")
def destroy(ctx, session, self) -> str:
    """Forget a finished task; a pending one goes once it ends (xapi_task.ml ``destroy``)."""
    found = registry(ctx).get(self)
    with found.lock:
        pending = found.record["status"] == "pending"
        found.destroy_when_done = pending
    if not pending:
        registry(ctx).remove(self)
    return ""


def _other_config(ctx, self, change) -> str:
    registry(ctx).get(self).change(lambda record: change(record["other_config"]))
    return ""


@method("task.add_to_other_config", "self:ref:task", "key:str", "value:str")
def add_to_other_config(ctx, session, self, key, value) -> str:
    return _other_config(ctx, self, lambda other: other.__setitem__(key, value))


@method("task.remove_from_other_config", "self:ref:task", "key:str")
def remove_from_other_config(ctx, session, self, key) -> str:
    return _other_config(ctx, self, lambda other: other.pop(key, None))
