"""The unix-socket listener: mode 0600, the PyPI client's own UDSTransport, stale sockets."""

import os
import re
import socket
import stat
import subprocess
import sys

import pytest
import XenAPI

from helpers.shim import Pool, _readline


def serve_on_socket(pool, socket_path):
    argv = [sys.executable, "-m", "sm_clusterstack.cli", "serve", "--state", pool.server.state,
            "--socket", socket_path, "--password-file", pool.server.password_file, "--sm-dir", pool.sm_dir,
            "--cluster-stack-root", pool.root, "--xapi-conf", os.devnull]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = _readline(proc, 60)
    assert re.search(r"ready socket=%s" % re.escape(socket_path), line), line
    return proc


def stop(proc):
    proc.terminate()
    proc.wait(30)
    proc.stdout.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="root's trust on the unix socket needs a root test run")
def test_pypi_client_over_the_unix_socket(tmp_path, sockdir):
    pool = Pool(tmp_path, hosts=1)
    path = os.path.join(sockdir, "xapi")
    proc = serve_on_socket(pool, path)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        session = XenAPI.Session("http://" + path.replace("/", "_"), transport=XenAPI.UDSTransport())
        session.login_with_password("root", "not the password", "2.0", "tests")  # uid 0 is trusted here
        assert len(session.xenapi.host.get_all()) == 1
        assert session.xenapi.pool.get_ha_cluster_stack(session.xenapi.pool.get_all()[0]) == "xhad"
        pool_uuid = session.xenapi.pool.get_uuid(session.xenapi.pool.get_all()[0])  # xe's pool-param-get needs it
        session.xenapi.session.logout()
        with pytest.raises(XenAPI.Failure) as e:
            session.login_with_password("nobody", "x", "2.0", "tests")
        assert e.value.details == ["SESSION_AUTHENTICATION_FAILED", "nobody", "Authentication failure"]
        xe = subprocess.run([sys.executable, "-m", "sm_clusterstack.cli", "xe", "--server", path, "pool-param-get",
                             "uuid=" + pool_uuid, "param-name=ha-cluster-stack"], stdout=subprocess.PIPE, timeout=60)
        assert (xe.returncode, xe.stdout) == (0, b"xhad\n")
    finally:
        stop(proc)


def test_stale_socket_is_replaced_and_a_live_one_refused(tmp_path, sockdir):
    pool = Pool(tmp_path, hosts=1)
    path = os.path.join(sockdir, "xapi")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens: what a crash leaves
    proc = serve_on_socket(pool, path)
    try:
        second = subprocess.run([sys.executable, "-m", "sm_clusterstack.cli", "serve", "--state",
                                 str(tmp_path / "other"), "--socket", path, "--sm-dir", pool.sm_dir,
                                 "--cluster-stack-root", pool.root, "--xapi-conf", os.devnull],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert second.returncode == 1 and b"another server is listening" in second.stderr
    finally:
        stop(proc)
