"""What the shim runs as root must be changeable by root alone: every path component up to /.

A stack (``<root>/<name>/ha_*``) and a driver (``<sm-dir>/<Type>SR``) are
refused, with an error naming the path, when anyone else could replace
them: through a world-writable root or sm-dir, a stack that is a symbolic
link, a script linked into a user's directory, a driver another user owns.
The stacks and drivers are the fixture doubles of helpers.shim.
"""

import os

import pytest

from helpers.shim import calls, failure

NOBODY = 65534

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="ownership by another user needs a root test run"),
              pytest.mark.pool(hosts=1, start=False, kill=True)]  # each test starts the pool


def enable_refusal(pool):
    pool.start()
    details = failure(pool.x.pool.enable_ha, [pool.create_sr("lvm")], {}, "xhad")
    assert details[0] == "HA_CONFIGURATION_INVALID"
    assert pool.stack_calls() == []
    return details[1]


def test_a_world_writable_stack_root_is_refused(pool):
    os.chmod(pool.root, 0o777)
    assert pool.root + ": group or world writable" in enable_refusal(pool)


def test_a_world_writable_directory_above_the_root_is_refused(pool):
    above = os.path.join(pool.tmp, "above")
    os.mkdir(above)
    os.rename(pool.root, os.path.join(above, "stacks"))
    pool.server.stack_root = os.path.join(above, "stacks")
    os.chmod(above, 0o777)
    assert above + ": group or world writable" in enable_refusal(pool)


def test_a_sticky_world_writable_directory_above_the_root_is_accepted(pool):
    above = os.path.join(pool.tmp, "above")
    os.mkdir(above)
    os.rename(pool.root, os.path.join(above, "stacks"))
    pool.server.stack_root = os.path.join(above, "stacks")
    os.chmod(above, 0o1777)  # as /tmp: nobody else can rename or remove what it holds
    pool.start()
    pool.x.pool.enable_ha([pool.create_sr("lvm")], {}, "xhad")
    assert pool.x.pool.get_ha_enabled(pool.x.pool.get_all()[0]) is True


def test_a_stack_that_is_a_link_to_a_root_owned_directory_elsewhere_is_refused(pool, tmp_path):
    real = os.path.join(str(tmp_path), "elsewhere")
    os.rename(os.path.join(pool.root, "xhad"), real)
    os.symlink(real, os.path.join(pool.root, "xhad"))
    assert os.path.join(pool.root, "xhad") + ": a symbolic link" in enable_refusal(pool)


def test_a_script_linked_into_a_user_owned_directory_is_refused(pool, tmp_path):
    user_dir = os.path.join(str(tmp_path), "user")
    os.mkdir(user_dir, 0o755)
    os.chown(user_dir, NOBODY, NOBODY)
    script = os.path.join(pool.root, "xhad", "ha_start_daemon")
    moved = os.path.join(user_dir, "ha_start_daemon")
    os.rename(script, moved)  # still root's file, 0755: only its directory is the user's
    os.symlink(moved, script)
    assert user_dir + ": owned by uid %d" % NOBODY in enable_refusal(pool)


def test_a_driver_another_user_owns_in_a_world_writable_sm_dir_is_never_run(pool):
    os.chmod(pool.sm_dir, 0o777)
    evil = os.path.join(pool.sm_dir, "EvilSR")
    with open(os.path.join(pool.sm_dir, "LvmSR")) as f:
        text = f.read().replace("/lvm'", "/evil'")
    os.makedirs(os.path.join(pool.tmp, "ctl", "evil"))
    with open(evil, "w") as f:
        f.write(text)
    os.chmod(evil, 0o777)
    os.chown(evil, NOBODY, NOBODY)
    pool.start()
    assert pool.x.SM.get_all_records() == {}  # every driver is in the world-writable sm-dir
    assert calls(os.path.join(pool.tmp, "ctl", "evil")) == []
    with open(pool.server.log.name) as f:
        log = f.read()
    assert "skipping driver %s: unsafe: " % evil in log and "%s: owned by uid %d" % (evil, NOBODY) in log


def test_a_driver_made_writable_after_the_scan_is_refused_when_it_would_run(pool):
    pool.start()
    sr = pool.x.SR.introduce("", "l", "", "lvm", "user", False, {})
    pbd = pool.x.PBD.create({"host": pool.master(), "SR": sr, "device_config": {}})
    driver = os.path.join(pool.sm_dir, "LvmSR")
    os.chmod(driver, 0o777)
    details = failure(pool.x.PBD.plug, pbd)
    assert details[:2] == ["SR_BACKEND_FAILURE", "unsafe driver: %s: group or world writable (mode 0777)" % driver]
    assert [c[0] for c in calls(pool.ctl["lvm"])] == ["sr_get_driver_info"]
    assert pool.x.PBD.get_currently_attached(pbd) is False
