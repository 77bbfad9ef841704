"""The kit's sandbox never lets a stack under test fence (reboot) the machine."""

import shlex
import shutil

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
