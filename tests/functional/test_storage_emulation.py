"""``--emulate-storage`` of serve, xe --embedded and the kit, on sandboxed hosts; the sandboxes' own mounts.

The shipped drivers with the real mkfs.ocfs2, tunefs.ocfs2 and blkid on
loop devices.  This machine has no ocfs2 module, no device-mapper and no
Melio CLI: ``mount -t ocfs2`` is EMULATED by the product's emulation mode
under test (sm_clusterstack.emulation), which the tests check is said at
start, in the log and in ``ha status``.  Root only (host sandboxes).
"""

import os
import subprocess
import sys

import pytest

from helpers import REPO, sandbox_prefix
from helpers.drivers import loop_device
from helpers.kit import kit
from helpers.shim import Pool, make_stack
from helpers.xe import run_xe

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="host sandboxes need root (namespaces, mounts)")
DRIVERS = os.path.join(REPO, "drivers")
DISK_MB = 128
PATH = "%s:%s" % (os.path.dirname(sys.executable), os.environ["PATH"])  # the drivers' python3: this one's


def cli(*args, env=None):
    proc = subprocess.run([sys.executable, "-m", "sm_clusterstack.cli"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def stacks(tmp_path):
    root = str(tmp_path / "stacks")
    make_stack(root, "corosync-ha", str(tmp_path / "stack.log"), str(tmp_path / "stack-ctl"), ["ocfs2"])
    make_stack(root, "xhad", str(tmp_path / "stack.log"), str(tmp_path / "stack-ctl"))
    return root


def test_serve_sandbox_makes_its_own_mounts_with_the_systems_tools_whatever_is_on_path(tmp_path):
    """Issue 21: an emulator (or anything) named mount first on serve's PATH never makes a sandbox's mounts."""
    trap = tmp_path / "trap"
    trap.mkdir()
    for name in ("mount", "umount"):
        (trap / name).write_text("#!/bin/sh\necho \"$0 is not the system's $*\" >&2\nexit 1\n")
        (trap / name).chmod(0o755)
    pool = Pool(tmp_path, hosts=1, sandbox=True, prefix=sandbox_prefix("s21"))
    pool.server.env = dict(os.environ, PATH="%s:%s" % (trap, os.environ["PATH"]))
    pool.start()
    try:
        assert [h for h in pool.x.host.get_all_records().values() if h["other_config"].get("sandbox-netns")]
    finally:
        pool.stop()


def test_serve_emulate_storage_plugs_an_ocfs2_sr_on_every_sandboxed_host_and_says_so(tmp_path):
    """Issue 21: sr-create type=ocfs2 on two sandboxed hosts with the drivers' PATH only: every PBD attached."""
    state, prefix = str(tmp_path / "state"), sandbox_prefix("s21")
    log = str(tmp_path / "serve.log")
    with loop_device(tmp_path, DISK_MB) as device, open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "sm_clusterstack.cli", "serve", "--state", state, "--hosts",
                                 "2", "--sandbox", "--sandbox-prefix", prefix, "--emulate-storage", "--sm-dir",
                                 DRIVERS, "--cluster-stack-root", stacks(tmp_path), "--xapi-conf", os.devnull],
                                stdout=subprocess.PIPE, stderr=err, universal_newlines=True,
                                env=dict(os.environ, PATH=PATH, SM_CLUSTERSTACK_SR_MOUNT=str(tmp_path / "sr-mount")))
        try:
            assert "ready" in proc.stdout.readline()
            xe = ["--embedded", state]
            rc, sr, out = run_xe(xe + ["sr-create", "type=ocfs2", "name-label=o", "shared=true", "--no-progress",
                                       "device-config:device=" + device, "device-config:node_slots=4"])
            assert rc == 0, out
            rc, out, err_text = run_xe(xe + ["pbd-list", "sr-uuid=" + sr.strip(), "params=currently-attached",
                                             "--minimal"])
            assert out.strip() == "true,true", err_text
            rc, status, _ = cli("ha", "status", "--embedded", state)
            assert "\nstorage: storage EMULATED for trying a pool" in status and "mount/umount (no ocfs2" in status
        finally:
            proc.terminate()
            proc.wait(60)
    with open(log) as f:
        said = f.read()
    assert "storage EMULATED for trying a pool, never for production: mount/umount (no ocfs2 in this kernel" in said
    assert "Traceback" not in said


def test_xe_embedded_emulate_storage_is_remembered_and_said(tmp_path):
    state, prefix = str(tmp_path / "pool"), sandbox_prefix("s21")
    xe = ["--embedded", state, "--sandbox-prefix", prefix, "--xapi-conf", os.devnull]
    env = {"SM_CLUSTERSTACK_SR_MOUNT": str(tmp_path / "sr-mount"), "PATH": PATH}
    try:
        with loop_device(tmp_path, DISK_MB) as device:
            rc, sr, err = run_xe(xe + ["--emulate-storage", "--sm-dir", DRIVERS, "--cluster-stack-root",
                                       stacks(tmp_path), "sr-create", "type=ocfs2", "name-label=o", "shared=true",
                                       "--no-progress", "device-config:device=" + device], env=env)
            assert rc == 0 and "storage emulation on" in err, err
            rc, out, err = run_xe(xe + ["pbd-list", "params=currently-attached", "--minimal"], env=env)
            assert out.strip() == "true" and "storage emulation on (--emulate-storage, remembered" in err, err
            rc, out, err = run_xe(xe + ["pbd-unplug", "uuid=" + run_xe(xe + ["pbd-list", "--minimal"])[1].strip()],
                                  env=env)
            assert rc == 0, err
    finally:
        cli("sandbox", "remove", "--state", state)


def test_the_kit_with_emulate_storage_says_what_it_emulates_before_any_check(tmp_path):
    result = kit("--emulate-storage", "--static", "driver", os.path.join(DRIVERS, "MelioSR"))
    first = result.stdout.splitlines()[0]
    assert first.startswith("kit: storage EMULATED for trying a pool, never for production: ") and "melioctl" in first
