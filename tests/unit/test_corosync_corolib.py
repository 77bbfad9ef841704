"""The pure parts of the ctypes binding to corosync's libraries, held to corosync 3.1.7's headers.

Sizes and values from ``include/corosync/`` of corosync/corosync at v3.1.7:
``corotypes.h`` (cs_error_t, CS_DISPATCH_ALL, CS_TRACK_*), ``quorum.h``
(quorum_callbacks_t, quorum_notification_fn_t), ``votequorum.h``
(struct votequorum_info, votequorum_callbacks_t), ``cmap.h``
(cmap_value_types_t, cmap_map_t).
"""

import ctypes
import struct

import pytest

from sm_clusterstack.corostack import corolib


def test_structures_have_the_headers_sizes_on_this_abi():
    pointer = ctypes.sizeof(ctypes.c_void_p)
    assert ctypes.sizeof(corolib.QuorumCallbacks) == pointer  # one notification pointer
    assert ctypes.sizeof(corolib.VotequorumCallbacks) == 3 * pointer
    # nine unsigned ints and char qdevice_name[VOTEQUORUM_QDEVICE_MAX_NAME_LEN = 255], padded to 4
    assert ctypes.sizeof(corolib.VotequorumInfo) == 9 * 4 + 255 + 1
    assert corolib.VotequorumInfo.qdevice_name.offset == 36
    assert ctypes.sizeof(corolib.handle_t) == 8  # quorum_handle_t, cmap_handle_t, votequorum_handle_t: uint64_t


def test_constants_are_the_headers():
    assert (corolib.CS_OK, corolib.CS_ERR_LIBRARY, corolib.CS_ERR_BAD_HANDLE, corolib.CS_ERR_EXIST) == (1, 2, 9, 14)
    assert (corolib.CS_DISPATCH_ALL, corolib.CS_TRACK_CURRENT, corolib.CS_TRACK_CHANGES) == (2, 1, 2)
    assert (corolib.CMAP_MAP_DEFAULT, corolib.CMAP_MAP_STATS, corolib.CMAP_VALUETYPE_STRING) == (0, 1, 11)
    assert corolib.CS_ERRORS[100] == "CS_ERR_SECURITY" and 29 not in corolib.CS_ERRORS


@pytest.mark.parametrize("code, dead", [(2, True), (9, True), (6, False), (12, False), (77, False)])
def test_an_error_code_raises_saying_its_name_and_whether_the_connection_is_dead(code, dead):
    with pytest.raises(corolib.CorosyncError) as caught:
        corolib.check("quorum_dispatch", code)
    assert (caught.value.code, caught.value.dead) == (code, dead)
    assert str(caught.value) == "quorum_dispatch: %s" % corolib.error_name(code)
    assert corolib.error_name(77) == "cs_error_t 77"


def test_cs_ok_and_an_accepted_code_pass():
    assert corolib.check("quorum_trackstart", corolib.CS_OK) == corolib.CS_OK
    assert corolib.check("quorum_trackstart", corolib.CS_ERR_EXIST, corolib.CS_ERR_EXIST) == corolib.CS_ERR_EXIST


@pytest.mark.parametrize("kind, raw, value", [
    (2, struct.pack("B", 1), 1), (6, struct.pack("I", 250), 250), (8, struct.pack("Q", 1 << 40), 1 << 40),
    (5, struct.pack("i", -3), -3), (11, b"10.0.0.1\0", "10.0.0.1"), (12, b"\1\2", None), (6, b"\1", None),
])
def test_cmap_values_are_decoded_by_their_type(kind, raw, value):
    assert corolib.decode_value(kind, raw) == value


def test_knet_links_give_each_node_a_connected_link_and_its_lowest_latency():
    values = [("stats.knet.node2.link0.connected", 1), ("stats.knet.node2.link0.latency_ave", 250),
              ("stats.knet.node3.link0.connected", 0), ("stats.knet.node3.link0.latency_ave", 900),
              ("stats.knet.node3.link1.connected", 1), ("stats.knet.node3.link1.latency_ave", 700),
              ("stats.knet.node4.link0.connected", 0), ("stats.knet.handle.tx_crypt_time_min", 7)]
    assert corolib.aggregate_links(values) == {2: (True, 250), 3: (True, 700), 4: (False, 0)}


def test_a_quorum_notification_reaches_the_callback_as_plain_values():
    seen = []
    quorum = corolib.Quorum(lambda *args: seen.append(args))
    members = (ctypes.c_uint32 * 3)(30, 10, 20)
    quorum.callbacks.quorum_notify_fn(1, 1, 9, 3, members)  # as quorum_dispatch calls it
    assert seen == [(True, 9, [10, 20, 30])]
    assert not quorum.open
