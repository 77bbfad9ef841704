"""Logs: ``serve --log-file`` holds every call (method, user, duration, result), with explanations;
a driver logs to syslog with ident SM and facility local2.

The driver test needs a syslog socket at ``/dev/log``, which this machine
may not have: it runs the driver in a private mount namespace where a
directory holding the test's own datagram socket ``log`` is bind-mounted
over ``/dev`` (tests/functional/helpers/mountns_exec.py), and reads what arrives.
"""

import os
import re
import shutil
import socket
import subprocess
import sys

import pytest
import XenAPI

from helpers import MOUNTNS_EXEC
from helpers.drivers import DRIVERS
from helpers.xe import SandboxedPool
from sm_clusterstack.smapi import call as smapi_call


@pytest.mark.skipif(os.geteuid() != 0, reason="host sandboxes (enable_ha needs them) need root")
def test_serve_log_file_has_every_call_and_the_explanations(tmp_path):
    log_file = str(tmp_path / "logs" / "serve.log")
    pool = SandboxedPool(tmp_path, hosts=2, extra=["--log-file", log_file])
    pool.start()
    try:
        melio = pool.create_sr("melio", "m")
        lvm = pool.create_sr("lvm", "l")
        with pytest.raises(XenAPI.Failure):
            pool.x.pool.enable_ha([lvm], {})
        pool.x.pool.enable_ha([melio], {})
    finally:
        pool.stop()
    with open(log_file) as f:
        text = f.read()
    assert re.search(r"call session\.login_with_password user=root \d+ms SUCCESS\n", text)
    assert re.search(r"call SR\.create user=root \d+ms SUCCESS\n", text)
    assert re.search(r"call session\.logout user=root \d+ms SUCCESS\n", text)
    assert re.search(r"call pool\.enable_ha user=root \d+ms INCOMPATIBLE_STATEFILE_SR melio\n", text)
    assert re.search(r"call pool\.enable_ha: Why: enable_ha chose cluster stack melio because SR \S+ \(m, type "
                     r"melio\) is attached and needs melio", text)
    assert re.search(r"driver MelioSR sr_create", text)
    for step in ("HA: statefile and metadata VDIs on ", "HA: master \\S+ preconfigured", "HA: every host joined",
                 "HA: HA enabled on melio"):
        assert re.search(step, text), step  # every HA step of the enable that worked
    assert "secret" not in text  # the password of the login is never logged


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare (bind mounts)")
def test_driver_logs_with_ident_sm_and_facility_local2(tmp_path):
    devdir = tmp_path / "dev"
    devdir.mkdir()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(devdir / "log"))
    listener.settimeout(10)
    try:
        argv = ["unshare", "--mount", "--propagation", "private", sys.executable,
                MOUNTNS_EXEC, "--bind", str(devdir), "/dev", "--path",
                os.path.dirname(sys.executable) + ":/usr/bin:/bin", "--",
                os.path.join(DRIVERS, "LVMSR"), smapi_call.Call("sr_get_driver_info").to_xml()]
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert proc.returncode == 0, proc.stderr
        line = listener.recv(4096)
    finally:
        listener.close()
    # local2 (18) * 8 + info (6) = 150: dom0's syslog.conf sends local2 to /var/log/SMlog
    assert re.match(rb"<150>(\w{3} [ \d]\d \d\d:\d\d:\d\d )?SM\[\d+\]: LVMSR: ", line), line
