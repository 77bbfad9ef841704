"""Tasks as xapi has them (``server_helpers.ml`` do_dispatch/exec_with_context, ``taskHelper.ml``).

A long operation here is a method registered for the test only: it waits
on events the test sets and calls the progress hook (``tasks.step``), as
enable_ha's steps do.
"""

import threading
import time

import pytest

from sm_clusterstack.xapi.rpc import dispatch as api
from sm_clusterstack.xapi.methods import task as tasks
from sm_clusterstack.xapi.rpc import registry
from sm_clusterstack.xapi.rpc.registry import method


def call(ctx, name, *params):
    return api.dispatch(ctx, name, params)


def value(ctx, name, *params):
    response = call(ctx, name, *params)
    assert response["Status"] == "Success", response
    return response["Value"]


def login(ctx):
    return value(ctx, "session.login_with_password", "root", "pw", "2.0", "unit")


def wait_status(ctx, session, task, timeout=10):
    deadline = time.time() + timeout
    while value(ctx, "task.get_status", session, task) == "pending" and time.time() < deadline:
        time.sleep(0.01)
    return value(ctx, "task.get_status", session, task)


@pytest.fixture
def long_method(monkeypatch):
    """``test.steps(n)``: n steps, each waiting for the test's go; answers "done"."""
    go, reached = threading.Event(), threading.Event()

    @method("test.steps", "n:int")
    def steps(ctx, session, n):
        for i in range(int(n)):
            reached.set()
            go.wait(10)
            go.clear()
            tasks.step("step %d" % (i + 1), i + 1, int(n))
        return "done"
    monkeypatch.setattr(tasks, "ASYNC_METHODS", tasks.ASYNC_METHODS | {"test.steps"})
    yield go, reached
    go.set()
    registry.REGISTRY.pop("test.steps", None)


def test_async_call_answers_a_task_that_reports_progress_and_its_result(ctx, long_method):
    go, reached = long_method
    session = login(ctx)
    task = value(ctx, "Async.test.steps", session, "2")
    assert task.startswith("OpaqueRef:")
    reached.wait(5)
    record = value(ctx, "task.get_record", session, task)
    assert (record["status"], record["progress"], record["allowed_operations"]) == ("pending", 0.0, ["cancel"])
    assert record["name_label"] == "Async.test.steps"
    reached.clear()
    go.set()
    reached.wait(5)
    assert value(ctx, "task.get_progress", session, task) == 0.5
    go.set()
    assert wait_status(ctx, session, task) == "success"
    record = value(ctx, "task.get_record", session, task)
    assert (record["progress"], record["result"], record["error_info"]) == (1.0, "<value>done</value>", [])
    assert record["allowed_operations"] == []


def test_cancel_stops_at_the_next_step(ctx, long_method):
    """taskHelper.ml exn_if_cancelling: the task ends cancelled with TASK_CANCELLED [task]."""
    go, reached = long_method
    session = login(ctx)
    task = value(ctx, "Async.test.steps", session, "3")
    reached.wait(5)
    assert value(ctx, "task.cancel", session, task) == ""
    go.set()
    assert wait_status(ctx, session, task) == "cancelled"
    assert value(ctx, "task.get_error_info", session, task) == ["TASK_CANCELLED", task]


def test_a_failing_method_fails_its_task_with_the_error(ctx):
    session = login(ctx)
    task = value(ctx, "Async.pool.disable_ha", session)
    assert wait_status(ctx, session, task) == "failure"
    assert value(ctx, "task.get_error_info", session, task) == ["HA_NOT_ENABLED"]
    assert value(ctx, "task.get_result", session, task) == ""


def test_call_errors_are_the_calls_not_the_tasks(ctx):
    """do_dispatch: arity, session and types are checked before any task exists."""
    session = login(ctx)
    assert call(ctx, "Async.pool.enable_ha", session)["ErrorDescription"] == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH", "pool.enable_ha", "4", "1"]
    assert call(ctx, "Async.pool.disable_ha", "OpaqueRef:nosession")["ErrorDescription"] == [
        "SESSION_INVALID", "OpaqueRef:nosession"]
    assert call(ctx, "Async.pool.get_all", session)["ErrorDescription"] == [
        "MESSAGE_METHOD_UNKNOWN", "Async.pool.get_all"]  # getters have no Async form
    assert value(ctx, "task.get_all", session) == []


def test_task_readers_and_destroy(ctx):
    session = login(ctx)
    task = value(ctx, "Async.pool.disable_ha", session)
    wait_status(ctx, session, task)
    uuid = value(ctx, "task.get_uuid", session, task)
    assert value(ctx, "task.get_by_uuid", session, uuid) == task
    assert list(value(ctx, "task.get_all_records_where", session, 'field "status" = "failure"')) == [task]
    assert value(ctx, "task.destroy", session, task) == ""
    assert call(ctx, "task.get_record", session, task)["ErrorDescription"] == ["HANDLE_INVALID", "task", task]


def test_result_is_xapis_xmlrpc_value():
    """taskHelper.ml set_result_on_task: Xmlrpc.to_string of the marshalled result."""
    assert tasks.as_result("") == "<value></value>"
    assert tasks.as_result("OpaqueRef:a&b") == "<value>OpaqueRef:a&amp;b</value>"


def test_the_hooks_outside_a_task_only_log(caplog):
    caplog.set_level("INFO", logger="sm_clusterstack.xapi")
    tasks.step("ha_start_daemon on host1", 1, 3)
    assert "step 1/3: ha_start_daemon on host1" in caplog.text
