"""The cluster-stack rules of REFERENCE.md section 2, from tables of plain data."""

import pytest

from sm_clusterstack import constraints, errors
from sm_clusterstack.constraints import SR
from sm_clusterstack.errors import XenAPIError

OCFS2 = SR("OpaqueRef:ocfs2-1", "ocfs2", ["corosync"])
OCFS2_B = SR("OpaqueRef:ocfs2-2", "ocfs2", ["corosync"])
MELIO = SR("OpaqueRef:melio-1", "melio", ["melio"])
LVM = SR("OpaqueRef:lvm-1", "lvm", [])
AB = SR("OpaqueRef:ab", "vendorab", ["a", "b"])
BC = SR("OpaqueRef:bc", "vendorbc", ["b", "c"])
AC = SR("OpaqueRef:ac", "vendorac", ["a", "c"])
ALL = {"xhad", "corosync", "melio", "a", "b", "c"}


def raised(fn, *args, **kwargs):
    with pytest.raises(XenAPIError) as info:
        fn(*args, **kwargs)
    return (info.value.code,) + info.value.params


@pytest.mark.parametrize("attached, installed, expected", [
    ([], ALL, "xhad"),
    ([LVM], ALL, "xhad"),
    ([OCFS2], ALL, "corosync"),
    ([OCFS2, OCFS2_B, LVM], ALL, "corosync"),
    ([MELIO], ALL, "melio"),
    ([AB], {"xhad", "a", "b"}, "a"),
    ([AB], {"xhad", "b"}, "b"),
    ([AB, BC], ALL, "b"),
    ([BC, AB], ALL, "b"),
])
def test_choose_stack_without_request(attached, installed, expected):
    assert constraints.choose_stack(attached, installed) == expected


def test_choose_stack_prefers_active_cluster_when_unconstrained():
    assert constraints.choose_stack([LVM], ALL, active_stack="corosync") == "corosync"


def test_choose_stack_ignores_active_cluster_when_constrained():
    assert constraints.choose_stack([MELIO], ALL, active_stack="corosync") == "melio"


def test_choose_stack_uses_configured_default():
    assert constraints.choose_stack([], {"foo"}, default="foo") == "foo"


def test_choose_stack_default_not_installed_is_unknown():
    assert raised(constraints.choose_stack, [], {"corosync"}) == (errors.UNKNOWN_CLUSTER_STACK, "xhad")


def test_choose_stack_no_alternative_installed_names_first_one():
    assert raised(constraints.choose_stack, [AB], {"xhad"}) == (errors.UNKNOWN_CLUSTER_STACK, "a")


def test_choose_stack_tie_broken_by_lowest_ref_order():
    first = SR("OpaqueRef:0", "x", ["b", "a"])
    second = SR("OpaqueRef:1", "y", ["a", "b"])
    assert constraints.choose_stack([second, first], ALL) == "b"


def test_requested_stack_absent_is_unknown():
    assert raised(constraints.choose_stack, [], ALL, requested="foo") == (errors.UNKNOWN_CLUSTER_STACK, "foo")


def test_requested_stack_not_allowed_by_attached_sr_is_constraint():
    assert raised(constraints.choose_stack, [LVM, OCFS2], ALL, requested="xhad") == (
        errors.CLUSTER_STACK_CONSTRAINT, OCFS2.ref, "corosync")


def test_requested_stack_constraint_names_installed_alternative():
    assert raised(constraints.choose_stack, [AB], {"xhad", "b"}, requested="xhad") == (
        errors.CLUSTER_STACK_CONSTRAINT, AB.ref, "b")


def test_requested_stack_allowed_by_every_attached_sr_is_used():
    assert constraints.choose_stack([AB, BC], ALL, requested="b") == "b"


def test_requested_stack_wins_over_default_when_unconstrained():
    assert constraints.choose_stack([LVM], ALL, requested="melio") == "melio"


BAD_NAMES = ["../x", "a/b", ".", "..", "", "x" * 65, "caf\u00e9", "-x", ".hidden", "a b", "a\0b", "a\n",
             "/etc", None, 7]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_stack_name_is_unknown_cluster_stack(name):
    assert raised(constraints.check_stack_name, name) == (errors.UNKNOWN_CLUSTER_STACK, str(name))


@pytest.mark.parametrize("name", [n for n in BAD_NAMES if n])
def test_requested_stack_with_bad_name_is_unknown_even_if_a_path_exists(name):
    installed = ALL | {str(name)}
    assert raised(constraints.choose_stack, [], installed, requested=name) == (
        errors.UNKNOWN_CLUSTER_STACK, str(name))


def test_empty_request_lets_the_rules_choose():
    assert constraints.choose_stack([OCFS2], ALL, requested="") == "corosync"


@pytest.mark.parametrize("name", ["xhad", "corosync", "a", "A9", "vendor.stack-2_0", "x" * 64])
def test_valid_stack_names(name):
    assert constraints.check_stack_name(name) == name


@pytest.mark.parametrize("attached, expected", [
    ([], None),
    ([LVM], None),
    ([AB], ["a", "b"]),
    ([AB, BC], ["b"]),
    ([AB, BC, AC], []),
    ([SR("OpaqueRef:d", "d", ["a", "a", "b"])], ["a", "b"]),
])
def test_required_stacks_is_intersection(attached, expected):
    assert constraints.required_stacks(attached) == expected


def test_plug_allowed_for_sr_without_constraint_even_under_ha():
    constraints.check_plug(LVM, [MELIO], True, "melio")


def test_plug_allowed_for_second_sr_of_same_stack():
    constraints.check_plug(OCFS2_B, [OCFS2, LVM], False, "xhad")


def test_plug_refused_when_attached_sr_needs_disjoint_stack():
    assert raised(constraints.check_plug, MELIO, [OCFS2], False, "xhad") == (
        errors.INCOMPATIBLE_CLUSTER_STACK_ACTIVE, "melio")


def test_plug_refused_when_sets_would_become_disjoint_together():
    assert raised(constraints.check_plug, AC, [AB, BC], False, "") == (
        errors.INCOMPATIBLE_CLUSTER_STACK_ACTIVE, "a,c")


def test_plug_allowed_when_sets_overlap():
    constraints.check_plug(BC, [AB], False, "")


def test_plug_refused_when_ha_runs_other_stack():
    assert raised(constraints.check_plug, OCFS2, [], True, "xhad") == (
        errors.INCOMPATIBLE_CLUSTER_STACK_ACTIVE, "corosync")


def test_plug_allowed_when_ha_runs_one_of_its_stacks():
    constraints.check_plug(AB, [], True, "b")


def test_plug_ignores_stale_stack_name_when_ha_disabled():
    constraints.check_plug(OCFS2, [], False, "xhad")


def test_replug_of_same_sr_is_not_a_conflict_with_itself():
    constraints.check_plug(MELIO, [MELIO], False, "")


def test_statefile_sr_of_listed_type_accepted():
    constraints.check_statefile_srs([SR("OpaqueRef:s", "lvm")], ["lvm", "nfs"])


def test_statefile_sr_of_unlisted_type_refused_with_listed_types():
    assert raised(constraints.check_statefile_srs, [SR("OpaqueRef:s", "nfs")], ["melio"]) == (
        errors.INCOMPATIBLE_STATEFILE_SR, "melio")


def test_statefile_refusal_joins_several_types():
    assert raised(constraints.check_statefile_srs, [SR("OpaqueRef:s", "ext")], ["lvm", "nfs"]) == (
        errors.INCOMPATIBLE_STATEFILE_SR, "lvm,nfs")


def test_statefile_without_supported_srs_file_accepts_any_type():
    constraints.check_statefile_srs([SR("OpaqueRef:s", "anything")], None)


def test_statefile_needs_at_least_one_heartbeat_sr():
    assert raised(constraints.check_statefile_srs, [], None) == (errors.CANNOT_CREATE_STATE_FILE,)


def test_heartbeat_sr_must_be_plugged_on_every_host():
    sr = SR("OpaqueRef:s", "lvm")
    plugged = [("OpaqueRef:h1", sr.ref)]
    assert raised(constraints.check_heartbeat_srs_plugged, [sr], ["OpaqueRef:h1", "OpaqueRef:h2"], plugged) == (
        errors.SR_NO_PBDS, sr.ref)
    constraints.check_heartbeat_srs_plugged([sr], ["OpaqueRef:h1"], plugged)


def test_heartbeat_sr_sizes_are_xapis():
    """xha_statefile.ml minimum_statefile_size and minimum_sr_size, redo_log.ml minimum_vdi_size."""
    assert constraints.STATEFILE_SIZE == 266240
    assert constraints.REDO_LOG_SIZE == 3988783104
    assert constraints.MINIMUM_SR_SIZE == 4194304 + 3988783104 == 3992977408


@pytest.mark.parametrize("size, used, refused", [
    (8 << 30, 0, False),
    (3992977408, 0, False),  # exactly enough
    (3992977408 + 4096, 8192, True),
    (2 << 30, 0, True),  # issue 21: a 2 GiB SR, sparse files or not
    (0, 0, True),  # never measured (SR.create without physical-size, before any sr_update)
    (-1, -1, True),  # SR.introduce's -1
])
def test_statefile_room_is_free_space_against_the_minimum_sr_size(size, used, refused):
    """xha_statefile.ml ha_fits_sr: Helpers.get_sr_free_space (size - utilisation) < minimum_sr_size."""
    if refused:
        assert raised(constraints.check_statefile_room, "OpaqueRef:s", size, used) == (
            errors.SR_SOURCE_SPACE_INSUFFICIENT, "OpaqueRef:s")
    else:
        constraints.check_statefile_room("OpaqueRef:s", size, used)


def test_hosts_without_an_attached_pbd_keep_the_pools_order():
    assert constraints.hosts_without_attached_pbd(["h1", "h2", "h3"], ["h2"]) == ["h1", "h3"]
    assert constraints.hosts_without_attached_pbd(["h1"], ["h1", "h9"]) == []


@pytest.mark.parametrize("features, refused", [
    (["VDI_GENERATE_CONFIG"], False), (["VDI_ATTACH_OFFLINE", "SR_PROBE"], False), (["SR_PROBE"], True), ([], True)])
def test_statefile_sr_needs_an_offline_attach_feature(features, refused):
    """xha_statefile.ml check_sr_can_host_statefile: VDI_GENERATE_CONFIG or VDI_ATTACH_OFFLINE."""
    if refused:
        assert raised(constraints.check_offline_attach, "OpaqueRef:s", features) == (
            errors.SR_OPERATION_NOT_SUPPORTED, "OpaqueRef:s")
    else:
        constraints.check_offline_attach("OpaqueRef:s", features)
