"""The explanations of the four cluster-stack errors name what is in the way and the next step."""

import pytest

from sm_clusterstack import explain
from sm_clusterstack.explain import PoolView, SRView

OCFS2 = SRView("OpaqueRef:1", "u-ocfs2", "shared", "ocfs2", ["corosync"], True)
MELIO = SRView("OpaqueRef:2", "u-melio", "m", "melio", ["melio"], True)
LVM = SRView("OpaqueRef:3", "u-lvm", "l", "lvm", [], True)
DUAL = SRView("OpaqueRef:4", "u-dual", "d", "dual", ["corosync", "melio"], True)
INSTALLED = {"xhad": ["lvm", "nfs"], "corosync": ["ocfs2"], "melio": ["melio"]}


def why(code, params, view, request=None):
    found = explain.explain(code, params, view, request)
    assert found[0].startswith("Why: ") and found[-1].startswith("Next: ") or len(found) == 1
    return " ".join(found)


def test_active_stack_while_ha_is_off_names_the_attached_sr_in_the_way():
    text = why("INCOMPATIBLE_CLUSTER_STACK_ACTIVE", ["melio"], PoolView([OCFS2, LVM], False, "xhad"))
    assert "SR u-ocfs2 (shared, type ocfs2) is attached and needs corosync" in text
    assert "xe pbd-list sr-uuid=u-ocfs2 params=uuid --minimal" in text


def test_active_stack_while_ha_runs_names_the_stack():
    text = why("INCOMPATIBLE_CLUSTER_STACK_ACTIVE", ["corosync"], PoolView([LVM], True, "xhad"))
    assert "HA is enabled on cluster stack xhad" in text and "xe pool-ha-disable" in text


def test_active_stack_from_several_srs_together():
    a = SRView("OpaqueRef:5", "u-a", "a", "a", ["x", "y"], True)
    b = SRView("OpaqueRef:6", "u-b", "b", "b", ["y", "z"], True)
    text = why("INCOMPATIBLE_CLUSTER_STACK_ACTIVE", ["x,z"], PoolView([a, b], False, "xhad"))
    assert "the attached SRs (u-a, u-b) together allow only y" in text


OCFS2_WHY = "SR u-ocfs2 (shared, type ocfs2) is attached and needs corosync"
DUAL_WHY = "SR u-dual (d, type dual) is attached and needs corosync or melio"


@pytest.mark.parametrize("view, requested, expected", [
    (PoolView([OCFS2], False, "xhad", INSTALLED, "xhad"), "", ("corosync", OCFS2_WHY)),
    (PoolView([LVM], False, "xhad", INSTALLED, "xhad"), "",
     ("xhad", "no attached SR requires a cluster stack, so it is xhad")),
    (PoolView([DUAL], False, "xhad", {"melio": None}, "xhad"), "", ("melio", DUAL_WHY)),  # the first installed
    (PoolView([DUAL], False, "xhad"), "", (None, DUAL_WHY)),  # installed stacks unknown: not guessed
    (PoolView([OCFS2], False, "xhad"), "corosync", ("corosync", "it was requested (cluster-stack=corosync)")),
])
def test_chosen_stack_and_why(view, requested, expected):
    assert explain.chosen_stack(view, requested) == expected


def test_statefile_sr_says_which_stack_why_and_which_sr_is_not_one():
    text = why("INCOMPATIBLE_STATEFILE_SR", ["ocfs2"], PoolView([OCFS2, LVM], False, "xhad", INSTALLED, "xhad"),
               {"heartbeat_srs": ["OpaqueRef:3"]})
    assert "enable_ha chose cluster stack corosync because SR u-ocfs2" in text
    assert "and SR u-lvm (l, type lvm) is not one" in text and "xe sr-list type=ocfs2" in text


def test_constraint_names_the_sr_and_its_stack():
    text = why("CLUSTER_STACK_CONSTRAINT", ["OpaqueRef:1", "corosync"], PoolView([OCFS2], False, "xhad"))
    assert "SR u-ocfs2 (shared, type ocfs2) is attached and requires cluster stack corosync" in text
    assert "cluster-stack=corosync" in text


def test_unknown_stack_lists_what_is_installed():
    text = why("UNKNOWN_CLUSTER_STACK", ["foo"], PoolView([], False, "xhad", INSTALLED, "xhad"),
               {"cluster_stack": "foo"})
    assert "no directory foo under the cluster-stack root. Installed stacks: corosync, melio, xhad." in text
    assert "Installed" not in why("UNKNOWN_CLUSTER_STACK", ["foo"], PoolView([], False, "xhad"))  # unknown: unsaid
    assert "not a cluster stack name" in why("UNKNOWN_CLUSTER_STACK", ["../x"], PoolView([], False, "xhad"))


def test_other_errors_have_no_explanation():
    assert explain.explain("HA_NOT_ENABLED", [], PoolView([], False, "xhad")) == []


HOSTS = {"OpaqueRef:h1": "host1", "OpaqueRef:h2": "host2", "OpaqueRef:h3": "host3"}
GIB = 1 << 30


def heartbeat_sr(pbds, size=8 * GIB, used=0, ref="OpaqueRef:7"):
    return SRView(ref, "u-hb", "hb", "lvm", [], True, size=size, used=used, pbds=pbds)


def test_no_pbds_names_the_hosts_where_the_sr_is_not_plugged():
    """xha_statefile.ml check_sr_can_host_statefile: SR_HAS_NO_PBDS [sr] only; the hosts are ours to say."""
    sr = heartbeat_sr([("OpaqueRef:h1", True, "p1"), ("OpaqueRef:h2", False, "p2")])
    text = why("SR_HAS_NO_PBDS", [sr.ref], PoolView([sr], False, "xhad", hosts=HOSTS))
    assert "not plugged on host2, host3 (plugged on host1)" in text
    assert "xe pbd-plug uuid=p2" in text and "xe pbd-create sr-uuid=u-hb host-uuid=" in text


def test_space_insufficient_says_needed_and_free_in_bytes_and_units():
    """xha_statefile.ml ha_fits_sr: free (physical_size - physical_utilisation) < minimum_sr_size."""
    sr = heartbeat_sr([("OpaqueRef:h1", True, "p1")], size=2 * GIB, used=4 << 20)
    text = why("SR_SOURCE_SPACE_INSUFFICIENT", [sr.ref], PoolView([sr], False, "xhad", hosts=HOSTS))
    assert "needs 3,992,977,408 bytes (3.7 GiB) free" in text
    assert "has 2,143,289,344 bytes (2.0 GiB) free (size 2,147,483,648, used 4,194,304)" in text
    assert "sr-scan" not in text


def test_space_of_an_sr_never_measured_says_to_scan_it():
    sr = heartbeat_sr([("OpaqueRef:h1", True, "p1")], size=0)
    text = why("SR_SOURCE_SPACE_INSUFFICIENT", [sr.ref], PoolView([sr], False, "xhad", hosts=HOSTS))
    assert "its size was never measured" in text and "xe sr-scan uuid=u-hb" in text


def test_cannot_create_state_file_says_why_each_sr_cannot_hold_it():
    """xha_statefile.ml list_srs_which_can_host_statefile drops each SR's reason; the explanation gives them."""
    small = heartbeat_sr([("OpaqueRef:h1", True, "p1"), ("OpaqueRef:h2", True, "p2")], size=2 * GIB)
    half = SRView("OpaqueRef:8", "u-half", "half", "lvm", [], True, size=8 * GIB, pbds=[("OpaqueRef:h1", True, "q")])
    hosts = {"OpaqueRef:h1": "host1", "OpaqueRef:h2": "host2"}
    text = why("CANNOT_CREATE_STATE_FILE", [], PoolView([small, half], False, "xhad", hosts=hosts))
    assert ("SR u-hb (hb, type lvm): has 2,147,483,648 bytes (2.0 GiB) free (size 2,147,483,648, used 0), "
            "needs 3,992,977,408") in text
    assert "SR u-half (half, type lvm): not plugged on host2" in text


def test_cannot_create_state_file_without_any_sr():
    assert "there is no SR" in why("CANNOT_CREATE_STATE_FILE", [], PoolView([], False, "xhad", hosts=HOSTS))


def test_active_stack_while_ha_runs_names_the_attached_sr_that_blocks_not_disable_and_reattach():
    """HA on corosync, its statefile on an attached ocfs2 SR: disabling HA alone would not let a melio SR attach."""
    text = why("INCOMPATIBLE_CLUSTER_STACK_ACTIVE", ["melio"], PoolView([OCFS2, LVM], True, "corosync"))
    assert "SR u-ocfs2 (shared, type ocfs2) is attached and needs corosync" in text
    assert "attach the SR, then enable HA again" not in text
    assert "xe pool-ha-disable" in text and "xe pbd-list sr-uuid=u-ocfs2" in text


def test_not_sharable_names_the_host_where_the_sr_is_attached_and_its_pbd():
    """xapi_pbd.ml check_sharing_constraint: SR_NOT_SHARABLE [sr, host attached elsewhere]."""
    sr = SRView("OpaqueRef:9", "u-local", "local", "lvm", [], True, size=GIB,
                pbds=[("OpaqueRef:h1", True, "p1"), ("OpaqueRef:h2", False, "p2")])
    text = why("SR_NOT_SHARABLE", [sr.ref, "OpaqueRef:h1"], PoolView([sr], False, "xhad", hosts=HOSTS))
    assert "SR u-local (local, type lvm) is not shared and is attached on host1" in text
    assert "xe pbd-unplug uuid=p1" in text and "shared=true" in text


def test_operation_not_supported_for_a_heartbeat_sr_names_the_features_its_driver_lacks():
    """xha_statefile.ml check_sr_can_host_statefile: neither VDI_GENERATE_CONFIG nor VDI_ATTACH_OFFLINE."""
    sr = SRView("OpaqueRef:9", "u-plain", "plain", "plain", [], True, size=8 * GIB, features=["SR_PROBE"],
                pbds=[("OpaqueRef:h1", True, "p1")])
    text = why("SR_OPERATION_NOT_SUPPORTED", [sr.ref], PoolView([sr], False, "xhad", hosts=HOSTS))
    assert "SM plain declares neither VDI_GENERATE_CONFIG nor VDI_ATTACH_OFFLINE" in text
    assert "xe sm-list params=type,features" in text
    assert "neither VDI_GENERATE_CONFIG" in why("CANNOT_CREATE_STATE_FILE", [], PoolView(
        [sr], False, "xhad", hosts={"OpaqueRef:h1": "host1"}))
    able = SRView("OpaqueRef:9", "u-lvm", "l", "lvm", [], True, features=["VDI_ATTACH_OFFLINE"])
    assert explain.explain("SR_OPERATION_NOT_SUPPORTED", [able.ref], PoolView([able], False, "xhad")) == []


def test_host_offline_names_the_host_and_how_to_bring_it_back():
    text = why("HOST_OFFLINE", ["OpaqueRef:h2"], PoolView([], False, "xhad", hosts=HOSTS))
    assert "host2 is not live" in text and "xe host-reboot host=host2" in text


def test_ha_is_enabled_names_the_stack_and_the_way_out():
    text = why("HA_IS_ENABLED", [], PoolView([], True, "corosync", hosts=HOSTS))
    assert "HA is enabled on cluster stack corosync" in text and "xe pool-ha-disable" in text
