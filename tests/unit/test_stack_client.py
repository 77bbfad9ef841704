"""The cluster-stack client (``stacks.client``): exit codes, the liveset, propose_master, the exit-14 rule.

No process runs: the client's runner is the strict fake runner, each
expectation the argv the stack's script would get and what it answered.
"""

import os
import uuid

import pytest

from sm_clusterstack import runner, stacks
from sm_clusterstack.stacks import client, liveset, mtc, names
from test_stacks import make_stack

HOST = "host-1"
INSIDE = "/usr/libexec/xapi/cluster-stack/vendor"
NOTHING_TO_DO_ON_14 = pytest.mark.parametrize("step, script", [("stop_daemon", client.HA_STOP_DAEMON),
                                                               ("disarm_fencing", client.HA_DISARM_FENCING)])
SCRIPT_NAMES = [s for s in dir(names) if s.startswith("HA_") and s != "HA_SUPPORTED_SRS"]


@pytest.fixture
def stack(tmp_path, fake_runner):
    """A client of a safe stack holding every script, runs answered by ``fake_runner``, seen at INSIDE."""
    path = make_stack(tmp_path, "vendor", files=stacks.SCRIPTS)
    return client.StackClient(path, run=fake_runner, host=HOST, path_inside=INSIDE, timeout=7,
                              owner_uid=os.getuid())


def answer(fake_runner, script, returncode=0, stdout="", stderr="", timed_out=False, args=()):
    fake_runner.expect([os.path.join(INSIDE, script)] + list(args), returncode, stdout, stderr, timed_out)


def a_liveset() -> str:
    me = str(uuid.uuid4())
    return liveset.Liveset("Online", me, [liveset.LivesetHost(me, liveness=True, master=True)]).to_xml().decode()


def test_every_script_name_is_one_constant_of_the_interface():
    """xha_scripts.ml: one ``let`` per script; stacks.SCRIPTS is made of them, in that order."""
    assert sorted(getattr(client, n) for n in SCRIPT_NAMES) == sorted(stacks.SCRIPTS)
    assert stacks.SCRIPTS[:3] == (client.HA_SET_POOL_STATE, client.HA_START_DAEMON, client.HA_STOP_DAEMON)
    assert stacks.SUPPORTED_SRS_FILE == names.HA_SUPPORTED_SRS


def test_call_runs_the_script_where_the_host_sees_it_with_the_client_timeout(stack, fake_runner, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin")
    answer(fake_runner, client.HA_SET_POOL_STATE, args=["init"])
    stack.set_pool_state(client.POOL_STATE_INIT)
    argv, env, timeout = fake_runner.calls[0]
    assert (env, timeout) == ({"PATH": "/usr/bin:" + INSIDE}, 7)


@pytest.mark.parametrize("code", [1, 2, 8, 11, 12, 15, 127])
def test_a_failure_exit_is_script_failed_with_its_mtc_name_host_and_stderr(stack, fake_runner, code):
    answer(fake_runner, client.HA_START_DAEMON, returncode=code, stderr="it broke\n")
    with pytest.raises(client.ScriptFailed) as info:
        stack.start_daemon()
    error = info.value
    assert not isinstance(error, client.DaemonAbsent)
    assert (error.script, error.host, error.returncode, error.mtc_name) == (
        client.HA_START_DAEMON, HOST, code, mtc.name_of(code))
    assert all(word in str(error) for word in (client.HA_START_DAEMON, HOST, mtc.name_of(code), "it broke"))


def test_a_timeout_is_script_failed_named_timeout(stack, fake_runner):
    answer(fake_runner, client.HA_SET_EXCLUDED, returncode=None, timed_out=True)
    with pytest.raises(client.ScriptFailed) as info:
        stack.set_excluded()
    assert (info.value.returncode, info.value.mtc_name) == (None, "TIMEOUT")


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_more_output_than_the_cap_is_script_failed_naming_script_host_and_cap(stack, fake_runner, stream):
    """Issue 22: the runner killed it at its cap (``runner.OUTPUT_CAPS``); that is a failure, whatever it said."""
    fake_runner.expect([os.path.join(INSIDE, client.HA_START_DAEMON)], None, "", "x" * 10, overflow=stream)
    with pytest.raises(client.ScriptFailed) as info:
        stack.start_daemon()
    assert (info.value.returncode, info.value.mtc_name) == (None, "OUTPUT_OVER_CAP")
    cap = "%d bytes on %s (the cap)" % (runner.OUTPUT_CAPS[stream], stream)
    assert all(word in str(info.value) for word in (client.HA_START_DAEMON, HOST, cap))


def test_result_returns_any_exit_without_judging_it(stack, fake_runner):
    answer(fake_runner, client.HA_SET_POOL_STATE, returncode=1, args=["bogus"])
    assert stack.result(client.HA_SET_POOL_STATE, ["bogus"], timeout=3).returncode == 1
    assert fake_runner.calls[0][2] == 3


def test_query_liveset_returns_the_liveset_parsed_as_xapi_reads_it(stack, fake_runner):
    printed = a_liveset()
    answer(fake_runner, client.HA_QUERY_LIVESET, stdout=printed)
    found = stack.query_liveset()
    assert (found.status, found.localhost) == ("Online", liveset.parse(printed).localhost)


def test_query_liveset_with_no_daemon_is_daemon_absent(stack, fake_runner):
    answer(fake_runner, client.HA_QUERY_LIVESET, returncode=14, stderr="no daemon\n")
    with pytest.raises(client.DaemonAbsent) as info:
        stack.query_liveset()
    assert (info.value.returncode, info.value.mtc_name) == (14, "DAEMON_IS_NOT_PRESENT")
    assert HOST in str(info.value) and "no daemon" in str(info.value)


@pytest.mark.parametrize("stdout", ["", "garbage", "<ha_liveset_info/>", "<other><status>Online</status></other>"])
def test_query_liveset_that_xapi_would_refuse_is_invalid_output_quoting_it(stack, fake_runner, stdout):
    answer(fake_runner, client.HA_QUERY_LIVESET, stdout=stdout)
    with pytest.raises(client.InvalidOutput) as info:
        stack.query_liveset()
    assert not isinstance(info.value, client.ScriptFailed)
    assert (info.value.script, info.value.returncode, info.value.stdout) == (client.HA_QUERY_LIVESET, 0, stdout)
    assert HOST in str(info.value) and repr(stdout) in str(info.value)


def test_query_liveset_failing_otherwise_is_script_failed_not_absent(stack, fake_runner):
    answer(fake_runner, client.HA_QUERY_LIVESET, returncode=2)
    with pytest.raises(client.ScriptFailed) as info:
        stack.query_liveset()
    assert not isinstance(info.value, client.DaemonAbsent) and info.value.mtc_name == "SYSTEM_ERROR"


@pytest.mark.parametrize("stdout, proposed", [("TRUE\n", True), ("TRUE", True), ("FALSE\n", False), ("FALSE", False)])
def test_propose_master_reads_true_or_false(stack, fake_runner, stdout, proposed):
    answer(fake_runner, client.HA_PROPOSE_MASTER, stdout=stdout)
    assert stack.propose_master() is proposed


@pytest.mark.parametrize("stdout", ["", "true\n", " TRUE", "TRUE\n\n", "TRUE \n", "yes", "TRUE\nFALSE\n"])
def test_propose_master_printing_anything_else_is_invalid_output_naming_script_and_output(stack, fake_runner, stdout):
    answer(fake_runner, client.HA_PROPOSE_MASTER, stdout=stdout)
    with pytest.raises(client.InvalidOutput) as info:
        stack.propose_master()
    assert client.HA_PROPOSE_MASTER in str(info.value) and repr(stdout) in str(info.value)


def test_propose_master_failing_is_script_failed(stack, fake_runner):
    answer(fake_runner, client.HA_PROPOSE_MASTER, returncode=14)
    with pytest.raises(client.DaemonAbsent):
        stack.propose_master()


@pytest.mark.parametrize("stdout,reads", [
    ("TRUE", True), ("TRUE\n", True), ("TRUE\n\n", None), (" TRUE", None), ("true\n", None),
    ("FALSE\n", False), ("", None),
])
def test_propose_master_is_read_as_xapi_reads_it(stdout, reads):
    """xapi_ha.ml propose_master: String.rtrim result = "TRUE" (rtrim drops one trailing newline)."""
    assert client.read_proposal(stdout) is reads


@NOTHING_TO_DO_ON_14
def test_exit_14_means_nothing_to_do_for_stop_and_disarm(stack, fake_runner, step, script):
    answer(fake_runner, script, returncode=14)
    answer(fake_runner, script)
    assert getattr(stack, step)() is False
    assert getattr(stack, step)() is True


@NOTHING_TO_DO_ON_14
def test_stop_and_disarm_failing_otherwise_still_raise(stack, fake_runner, step, script):
    answer(fake_runner, script, returncode=2)
    with pytest.raises(client.ScriptFailed):
        getattr(stack, step)()


@pytest.mark.parametrize("step, script", [("start_daemon", client.HA_START_DAEMON),
                                          ("set_excluded", client.HA_SET_EXCLUDED)])
def test_exit_14_is_a_failure_where_it_is_not_nothing_to_do(stack, fake_runner, step, script):
    answer(fake_runner, script, returncode=14)
    with pytest.raises(client.DaemonAbsent):
        getattr(stack, step)()


def test_ok_if_absent_is_the_rule_for_any_script(stack, fake_runner):
    answer(fake_runner, client.HA_SET_EXCLUDED, returncode=14)
    assert stack.call(client.HA_SET_EXCLUDED, ok_if_absent=True).returncode == 14


def test_every_client_error_is_a_stack_script_error():
    """Callers that catch the runner's StackScriptError keep catching the client's errors."""
    for error in (client.ScriptFailed, client.DaemonAbsent, client.InvalidOutput):
        assert issubclass(error, client.ScriptError)
    assert client.ScriptError is stacks.scripts.StackScriptError


def test_an_unsafe_stack_runs_nothing(tmp_path, fake_runner):
    path = make_stack(tmp_path, "open", files=stacks.SCRIPTS, mode=0o777)
    with pytest.raises(stacks.StackError):
        client.StackClient(path, run=fake_runner, owner_uid=os.getuid()).query_liveset()
    assert fake_runner.calls == []
