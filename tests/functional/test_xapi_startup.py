"""Starting the shim: nobody but drivers is served before the reconcile, clear refusals, clean failures.

Fixture drivers of helpers.shim sleep where a test says; the shim is the
real ``serve`` process, or ``service.start`` in this process.
"""

import os
import socket
import subprocess
import sys
import threading

import pytest
import XenAPI

from helpers.shim import Pool, calls, introduce, wait_for
from sm_clusterstack.xapi import service
from sm_clusterstack.xapi.hosts import smscan
from sm_clusterstack.xapi.rpc import context


def serve(pool, *extra):
    argv = [sys.executable, "-m", "sm_clusterstack.cli", "serve", "--state", pool.server.state, "--port", "0",
            "--password-file", pool.server.password_file, "--sm-dir", pool.sm_dir,
            "--cluster-stack-root", pool.root, "--xapi-conf", os.devnull] + list(extra)
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)


@pytest.mark.skipif(os.geteuid() != 0, reason="root's trust on the unix socket needs a root test run")
def test_clients_get_host_still_booting_while_the_restart_reconciles(tmp_path, sockdir):
    path = os.path.join(sockdir, "xapi")
    pool = Pool(tmp_path, hosts=1)
    pool.server.extra = ["--socket", path]
    pool.start()
    try:
        sr = introduce(pool, "lvm", "l")
        pbd = pool.x.SR.get_PBDs(sr)[0]
        with pool.held("lvm", "sr_attach"), pool.held("lvm", "sr_detach"):  # the restart's reconcile waits
            other = pool.server.session()
            threading.Thread(target=lambda: _swallow(other.xenapi.PBD.plug, pbd), daemon=True).start()
            wait_for(lambda: [c[0] for c in calls(pool.ctl["lvm"])][-1:] == ["sr_attach"])
            pool.server.kill()
            starting = threading.Thread(target=pool.server.start, daemon=True)
            starting.start()
            wait_for(lambda: [c[0] for c in calls(pool.ctl["lvm"])][-1:] == ["sr_detach"])
            assert not os.path.exists(os.path.join(pool.server.state, service.ADDRESS_FILE))
            client = XenAPI.Session("http://" + path.replace("/", "_"), transport=XenAPI.UDSTransport())
            with pytest.raises(XenAPI.Failure) as e:
                client.login_with_password("root", "secret", "2.0", "tests")
            assert e.value.details == ["HOST_STILL_BOOTING"]
        starting.join(60)
        assert service.read_address(pool.server.state)["socket"] == path
        pool.session = pool.server.session()
        assert pool.session.xenapi.PBD.get_currently_attached(pbd) is False
    finally:
        pool.server.kill()
        pool.server.remove_sandboxes()


def _swallow(fn, *args):
    try:
        fn(*args)
    except Exception:  # the server dies under it
        pass


def test_serve_refuses_an_empty_password_file(tmp_path):
    pool = Pool(tmp_path, hosts=1)
    with open(pool.server.password_file, "w") as f:
        f.write("\n")
    result = serve(pool)
    assert result.returncode == 1 and b"password file is empty" in result.stderr


def test_serve_refuses_to_remove_a_file_that_is_not_a_socket(tmp_path):
    pool = Pool(tmp_path, hosts=1)
    path = str(tmp_path / "precious")
    with open(path, "w") as f:
        f.write("data\n")
    result = serve(pool, "--socket", path)
    assert result.returncode == 1 and b"is not a socket" in result.stderr
    with open(path) as f:
        assert f.read() == "data\n"


@pytest.fixture
def ctx(tmp_path):
    pool = context.Pool(str(tmp_path / "state"), str(tmp_path / "sm"), str(tmp_path / "stacks"), "pw")
    yield pool
    pool.store.close()


def test_start_without_a_port_or_a_socket_is_a_clear_error(ctx):
    with pytest.raises(ValueError) as e:
        service.start(ctx)
    assert "nothing to listen on" in str(e.value)
    os.close(service.lock(ctx.state_dir))


def test_a_failing_start_releases_the_listeners_and_the_lock(ctx, sockdir, monkeypatch):
    def broken(_ctx):
        raise RuntimeError("scan failed")
    monkeypatch.setattr(smscan, "scan", broken)
    path = os.path.join(sockdir, "xapi")
    with pytest.raises(RuntimeError):
        service.start(ctx, socket_path=path)
    os.close(service.lock(ctx.state_dir))
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with pytest.raises(OSError):
            probe.connect(path)
    finally:
        probe.close()


def test_a_pool_with_an_empty_password_is_refused(tmp_path):
    with pytest.raises(ValueError):
        context.Pool(str(tmp_path / "state"), str(tmp_path / "sm"), str(tmp_path / "stacks"), "")


NOBODY = 65534


def test_serve_refuses_a_world_writable_state_dir_and_writes_nothing_there(tmp_path):
    pool = Pool(tmp_path, hosts=1)
    os.chmod(pool.server.state, 0o777)
    result = serve(pool)
    message = "unsafe state directory: %s: group or world writable (mode 0777)" % pool.server.state
    assert result.returncode == 1 and message.encode() in result.stderr
    assert os.listdir(pool.server.state) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="a directory of another user needs a root test run")
def test_serve_refuses_a_state_dir_another_user_owns(tmp_path):
    pool = Pool(tmp_path, hosts=1)
    os.chown(pool.server.state, NOBODY, NOBODY)
    result = serve(pool)
    assert result.returncode == 1
    assert ("%s: owned by uid %d" % (pool.server.state, NOBODY)).encode() in result.stderr


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_serve_refuses_a_password_file_others_may_read_or_write(tmp_path, mode):
    pool = Pool(tmp_path, hosts=1)
    os.chmod(pool.server.password_file, mode)
    result = serve(pool)
    assert result.returncode == 1
    assert b"unsafe password file: " in result.stderr and b"state.password: " in result.stderr
    assert not os.path.exists(os.path.join(pool.server.state, "pool.db"))


def test_every_file_the_shim_creates_is_private_whatever_the_umask(tmp_path):
    pool = Pool(tmp_path, hosts=1)
    argv = [sys.executable, "-m", "sm_clusterstack.cli", "serve", "--state", pool.server.state,
            "--sm-dir", pool.sm_dir, "--cluster-stack-root", pool.root, "--xapi-conf", os.devnull]
    old = os.umask(0)
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    finally:
        os.umask(old)
    try:
        assert b"ready" in proc.stdout.readline()
        modes = {name: os.lstat(os.path.join(pool.server.state, name)).st_mode & 0o777
                 for name in os.listdir(pool.server.state)}
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()
    assert {"pool.db", "password", "shim.addr", "shim.lock", "xapi.sock"} <= set(modes)
    assert {name: mode for name, mode in modes.items() if mode & 0o077} == {}


def test_a_clean_stop_after_a_failed_enable_ha_is_not_reported_as_a_crash(tmp_path):
    """Issue 21: a failed enable_ha, then SIGTERM: the next start reconciles nothing and says no crash.

    A clean stop leaves nothing in flight (xapi's own shutdown, ``xapi_ha.ml``
    ``on_server_restart``, finds no half-made state either).
    """
    pool = Pool(tmp_path, hosts=1)
    pool.start()
    try:
        sr = pool.create_sr("lvm")
        pool.inject("lvm", "fault", "vdi_create", 78)  # the statefile cannot be made
        with pytest.raises(XenAPI.Failure):
            pool.x.pool.enable_ha([sr], {})
        assert pool.x.VDI.get_all() == []  # the disable path removed the statefile whose vdi_create failed
        pool.server.stop()
        with open(os.path.join(tmp_path, "state.log")) as f:
            before = f.read()
        pool.start()
        pool.server.stop()
        with open(os.path.join(tmp_path, "state.log")) as f:
            after = f.read()[len(before):]
        assert "crash" not in after, after
    finally:
        pool.server.kill()
        pool.server.remove_sandboxes()
