"""The kit's sandbox never lets a stack under test fence (reboot) the machine."""

import shlex
import shutil
import subprocess
import threading

from sm_clusterstack.kit import sandbox


def test_sandbox_fence_action_only_records_inside_the_sandbox(tmp_path):
    box = sandbox.StackSandbox(parent=str(tmp_path))
    try:
        argv = shlex.split(box.env[sandbox.FENCE_ACTION])
        assert argv == ["touch", box.fence_record]
        assert box.fence_record.startswith(box.path + "/")
    finally:
        shutil.rmtree(box.path)


def test_sandbox_points_corosync_runtime_into_itself(tmp_path):
    box = sandbox.StackSandbox(parent=str(tmp_path))
    try:
        assert box.env[sandbox.COROSYNC_DIR].startswith(box.path + "/")
    finally:
        shutil.rmtree(box.path)


def test_leftovers_are_the_marked_processes_and_are_named(tmp_path):
    box = sandbox.StackSandbox(parent=str(tmp_path))
    child = subprocess.Popen(["sleep", "30"], env=box.env)
    try:
        assert box.wait_leftovers(0.0) == [child.pid]
        assert sandbox.describe_pids([child.pid]) == "pid %d (sleep 30)" % child.pid
        assert box.cleanup() == [child.pid]
        child.wait(10)
        assert sandbox.describe_pids([child.pid]) == "pid %d (gone)" % child.pid
    finally:
        child.kill()
        child.wait(10)


def test_leftovers_that_exit_within_the_grace_are_not_reported(tmp_path):
    box = sandbox.StackSandbox(parent=str(tmp_path))
    child = subprocess.Popen(["sleep", "0.3"], env=box.env)
    reaper = threading.Thread(target=child.wait)
    reaper.start()
    try:
        assert box.wait_leftovers(20.0) == []
    finally:
        child.kill()
        reaper.join(10)
        box.cleanup()


def test_fenced_only_once_the_fence_action_ran(tmp_path):
    box = sandbox.StackSandbox(parent=str(tmp_path))
    try:
        assert not box.fenced()
        subprocess.check_call(shlex.split(box.env[sandbox.FENCE_ACTION]), env=box.env)
        assert box.fenced()
    finally:
        box.cleanup()
