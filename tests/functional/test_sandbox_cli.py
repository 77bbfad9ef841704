"""``sm-clusterstack sandbox remove`` and ``sandbox list``: what a pool or a kit left of its host sandboxes.

Real namespaces and mounts (``hostsandbox.SandboxPool``, ``ip netns``),
each test under a prefix of its own (``helpers.sandbox_prefix``); root only.
"""

import os
import subprocess
import sys

import pytest

from helpers import sandbox_prefix
from helpers.shim import make_driver, make_stack
from helpers.xe import run_xe
from sm_clusterstack import hostsandbox
from sm_clusterstack.xapi import service

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="host sandboxes need root (namespaces, mounts)")


def cli(*args):
    """``sm-clusterstack ARGS`` as a process: (rc, out, err)."""
    proc = subprocess.run([sys.executable, "-m", "sm_clusterstack.cli"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def netns_of(prefix):
    return sorted(n for n in os.listdir("/run/netns") if n.startswith(prefix + "-"))


@pytest.fixture
def made(tmp_path):
    """A two-host sandbox pool under a prefix of its own, as a dead serve or kit leaves it; removed after."""
    state = str(tmp_path / "state")
    os.makedirs(state)
    prefix = sandbox_prefix("s21")
    pool = hostsandbox.SandboxPool.create(state, 2, prefix=prefix, stack_root=str(tmp_path))
    yield state, prefix, pool
    hostsandbox.SandboxPool.remove(state)
    hostsandbox.remove_prefix(prefix)


def test_sandbox_remove_removes_exactly_what_made_json_records_and_lists_it(made):
    state, prefix, pool = made
    recorded = [name for _kind, name in pool.made]
    rc, out, err = cli("sandbox", "remove", "--state", state)
    assert rc == 0, err
    assert sorted(line.split(None, 2)[2] for line in out.splitlines() if line.startswith("removed ")) \
        == sorted(recorded)
    assert netns_of(prefix) == [] and not pool.intact()
    assert not os.path.exists(os.path.join(state, "sandbox", "made.json"))
    assert cli("sandbox", "remove", "--state", state)[1] == "%s: no host sandboxes recorded: nothing to remove\n" \
        % state


def test_sandbox_remove_refuses_a_state_dir_a_live_serve_holds(made):
    state, prefix, pool = made
    fd = service.lock(state)
    try:
        rc, out, err = cli("sandbox", "remove", "--state", state)
    finally:
        os.close(fd)
    assert rc == 1 and "served by" in err and "SIGTERM" in err, err
    assert pool.intact()


def test_sandbox_list_and_remove_by_prefix_find_orphans_whose_state_dir_is_gone(made):
    state, prefix, pool = made
    sleeper = subprocess.Popen(pool.host(1).enter_argv() + ["sleep", "600"])
    record = os.path.join(state, "sandbox", "made.json")
    with open(record) as f:
        kept = f.read()  # put back after: the fixture unmounts the namespace files it records
    try:
        os.unlink(record)  # the record is gone, the namespaces are not
        rc, out, err = cli("sandbox", "list")
        assert rc == 0 and "%s  %s-sw %s-h1 %s-h2\n" % (prefix, prefix, prefix, prefix) in out, out
        rc, out, err = cli("sandbox", "remove", "--prefix", prefix)
        assert rc == 0, err
        lines = out.splitlines()
        stopped = [line for line in lines if line.startswith("stopped ")]
        # every process of the hosts' namespaces, on one line each: the sleeper, the command that entered, each
        # host's init (its PID namespace's pid 1: the host's power, cut with it)
        assert [line for line in stopped if line.startswith("stopped sleep 600[")
                and line.endswith("] in %s-h1" % prefix)], out
        assert len([line for line in stopped if "signal.SIGCHLD" in line]) == 2, out  # both hosts' inits
        assert lines[len(stopped):] == ["removed netns %s-h1" % prefix, "removed netns %s-h2" % prefix,
                                        "removed netns %s-sw" % prefix], out
        assert sleeper.wait(10) is not None
        assert netns_of(prefix) == []
        assert prefix not in cli("sandbox", "list")[1]
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
        with open(record, "w") as f:
            f.write(kept)


def test_sandbox_remove_by_prefix_refuses_a_prefix_that_is_not_one(made):
    rc, out, err = cli("sandbox", "remove", "--prefix", "no-such-prefix-h1")
    assert rc == 2 and "-h" in err, err


def test_serve_on_a_state_dir_of_xe_embedded_uses_its_remembered_sm_dir_and_stack_root(tmp_path):
    """``xe --embedded DIR --sandbox-prefix P --sm-dir S`` keeps its hosts up; ``serve --state DIR`` adopts
    them and serves S's drivers, not xapi.conf's sm-dir."""
    sm_dir, root = str(tmp_path / "sm"), str(tmp_path / "stacks")
    make_driver(sm_dir, str(tmp_path / "ctl"), "remembered", [])
    make_stack(root, "xhad", str(tmp_path / "stack.log"), str(tmp_path / "stack-ctl"))
    state, prefix = str(tmp_path / "pool"), sandbox_prefix("s21")
    try:
        rc, out, err = run_xe(["--embedded", state, "--sandbox-prefix", prefix, "--sm-dir", sm_dir,
                               "--cluster-stack-root", root, "--xapi-conf", os.devnull, "sm-list", "--minimal"])
        assert rc == 0, err
        assert netns_of(prefix) == [prefix + "-h1", prefix + "-sw"]
        proc = subprocess.Popen([sys.executable, "-m", "sm_clusterstack.cli", "serve", "--state", state,
                                 "--sandbox", "--sandbox-prefix", prefix, "--xapi-conf", os.devnull],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        try:
            ready = proc.stdout.readline()
            assert "ready" in ready, proc.stderr.read() if proc.poll() is not None else ready
            rc, out, err = run_xe(["--embedded", state, "sm-list", "params=type", "--minimal"])
            assert (rc, out) == (0, "remembered\n"), err
        finally:
            proc.terminate()
            proc.wait(60)
        assert netns_of(prefix) == []  # serve's clean stop removed the hosts it adopted
    finally:
        hostsandbox.SandboxPool.remove(state)


def test_exec_waits_for_a_host_that_is_off_until_something_powers_it_on(made):
    """A fenced host is off from its reset to its power switch's power-on (the shim's, another process): an
    operator's ``sandbox exec`` then (the operator quick start's link repair) waits for it, as long as it is
    bounded; entering a host with no init fails in the kernel (its first fork: ENOMEM)."""
    import threading
    from sm_clusterstack.cli import sandbox
    _state, _prefix, pool = made
    box = pool.hosts[1]
    box.power_off()
    assert not sandbox._powered_within(box, 0.5)
    switch = threading.Timer(0.5, box.power_on)
    switch.start()
    try:
        assert sandbox._powered_within(box, 60)
    finally:
        switch.join()
    assert box.run(["true"], timeout=30).ok


def test_exec_runs_a_command_a_reset_of_its_host_killed_again_on_the_new_boot(made):
    """A fenced host may be reset while an operator's command runs in it (the shim resets it again once the
    survivors dropped it): every process of the host goes with its old init, so the command runs again."""
    import threading
    from sm_clusterstack.cli import sandbox
    _state, _prefix, pool = made
    box = pool.hosts[0]
    reset = threading.Timer(1.0, box.power_cycle)
    reset.start()
    try:
        result = sandbox.run_through_resets(box, ["sh", "-c", "echo run >> /run/runs; sleep 3"], 60, {"PATH": "/bin"})
    finally:
        reset.join()
    assert result.ok, result.stderr
    with open(box.path("/run/runs")) as f:
        assert f.read() == "run\nrun\n"
