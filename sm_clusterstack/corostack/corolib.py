"""corosync's client libraries through ctypes: membership as events, the node list, knet links, expected votes.

Debian's corosync 3.1.7 brings libquorum.so.5, libcmap.so.4 and
libvotequorum.so.8 (no headers: the layouts, constants and signatures
below are those of corosync's own ``include/corosync/`` at v3.1.7, each
cited where it is used).  As sbd (``sbd-cluster.c``), dlm_controld and
pacemaker do it: ``Quorum`` starts tracking (``quorum_trackstart`` with
CS_TRACK_CHANGES), hands out its notification fd to select on, and
``dispatch`` (CS_DISPATCH_ALL) delivers each new membership to a callback.
Every call returns a cs_error_t; anything but CS_OK raises CorosyncError,
whose ``dead`` says the connection is gone (corosync stopped or restarted:
CS_ERR_LIBRARY, CS_ERR_BAD_HANDLE).  The libraries' calls block without a
timeout (corotypes.h ``CS_IPC_TIMEOUT_MS -1``): a caller that must not
hang with a stopped corosync makes them from a thread of their own
(``corowatch``).
"""

import collections
import ctypes
import re
import struct
import typing

# corotypes.h: cs_error_t (CS_OK = 1; 29 is not used)
CS_ERRORS = {
    1: "CS_OK", 2: "CS_ERR_LIBRARY", 3: "CS_ERR_VERSION", 4: "CS_ERR_INIT", 5: "CS_ERR_TIMEOUT",
    6: "CS_ERR_TRY_AGAIN", 7: "CS_ERR_INVALID_PARAM", 8: "CS_ERR_NO_MEMORY", 9: "CS_ERR_BAD_HANDLE",
    10: "CS_ERR_BUSY", 11: "CS_ERR_ACCESS", 12: "CS_ERR_NOT_EXIST", 13: "CS_ERR_NAME_TOO_LONG",
    14: "CS_ERR_EXIST", 15: "CS_ERR_NO_SPACE", 16: "CS_ERR_INTERRUPT", 17: "CS_ERR_NAME_NOT_FOUND",
    18: "CS_ERR_NO_RESOURCES", 19: "CS_ERR_NOT_SUPPORTED", 20: "CS_ERR_BAD_OPERATION",
    21: "CS_ERR_FAILED_OPERATION", 22: "CS_ERR_MESSAGE_ERROR", 23: "CS_ERR_QUEUE_FULL",
    24: "CS_ERR_QUEUE_NOT_AVAILABLE", 25: "CS_ERR_BAD_FLAGS", 26: "CS_ERR_TOO_BIG", 27: "CS_ERR_NO_SECTIONS",
    28: "CS_ERR_CONTEXT_NOT_FOUND", 30: "CS_ERR_TOO_MANY_GROUPS", 100: "CS_ERR_SECURITY",
}
CS_OK, CS_ERR_LIBRARY, CS_ERR_TRY_AGAIN, CS_ERR_BAD_HANDLE, CS_ERR_NOT_EXIST, CS_ERR_EXIST = 1, 2, 6, 9, 12, 14
CS_ERR_NO_SECTIONS = 27  # cmap_iter_next: no more keys
DEAD = (CS_ERR_LIBRARY, CS_ERR_BAD_HANDLE)  # the IPC connection is gone: finalize and connect again
CS_DISPATCH_ALL = 2  # corotypes.h cs_dispatch_flags_t: every pending message, without waiting
CS_TRACK_CURRENT, CS_TRACK_CHANGES = 0x01, 0x02  # corotypes.h
CMAP_MAP_DEFAULT, CMAP_MAP_STATS = 0, 1  # cmap.h cmap_map_t
CMAP_KEYNAME_MAXLEN = 255  # cmap.h
CMAP_VALUETYPE_STRING = 11  # cmap.h cmap_value_types_t
CMAP_INTEGERS = {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "q", 8: "Q"}  # cmap_value_types_t: struct codes
LIBRARIES = {"quorum": "libquorum.so.5", "cmap": "libcmap.so.4", "votequorum": "libvotequorum.so.8"}
_KNET = re.compile(r"stats\.knet\.node(\d+)\.link(\d+)\.(\w+)\Z")
_NODE = re.compile(r"nodelist\.node\.(\d+)\.(\w+)\Z")

handle_t = ctypes.c_uint64  # quorum.h quorum_handle_t, cmap.h cmap_handle_t, votequorum.h votequorum_handle_t
# quorum.h quorum_notification_fn_t (QUORUM_MODEL_V0): handle, quorate, ring_seq, view_list_entries, view_list
QUORUM_NOTIFY = ctypes.CFUNCTYPE(None, handle_t, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_uint32,
                                 ctypes.POINTER(ctypes.c_uint32))


class QuorumCallbacks(ctypes.Structure):
    """quorum.h ``quorum_callbacks_t``."""
    _fields_ = [("quorum_notify_fn", QUORUM_NOTIFY)]


class VotequorumCallbacks(ctypes.Structure):
    """votequorum.h ``votequorum_callbacks_t`` (three notification pointers; NULL: none wanted)."""
    _fields_ = [("votequorum_quorum_notify_fn", ctypes.c_void_p),
                ("votequorum_expectedvotes_notify_fn", ctypes.c_void_p),
                ("votequorum_nodelist_notify_fn", ctypes.c_void_p)]


class VotequorumInfo(ctypes.Structure):
    """votequorum.h ``struct votequorum_info`` (VOTEQUORUM_QDEVICE_MAX_NAME_LEN 255)."""
    _fields_ = [(name, ctypes.c_uint) for name in (
        "node_id", "node_state", "node_votes", "node_expected_votes", "highest_expected", "total_votes",
        "quorum", "flags", "qdevice_votes")] + [("qdevice_name", ctypes.c_char * 255)]


class CorosyncError(Exception):
    """A corosync library call returned ``code`` (a cs_error_t), not CS_OK."""

    def __init__(self, call: str, code: int) -> None:
        super(CorosyncError, self).__init__("%s: %s" % (call, error_name(code)))
        self.call, self.code = call, code

    @property
    def dead(self) -> bool:
        """True when the connection to corosync is gone (corosync stopped, or restarted)."""
        return self.code in DEAD


class LibraryMissing(Exception):
    """corosync's client libraries cannot be loaded here."""


def error_name(code: int) -> str:
    """cs_error_t ``code``'s name (corotypes.h), or "cs_error_t N" for a code it lacks."""
    return CS_ERRORS.get(code, "cs_error_t %d" % code)


def check(call: str, code: int, *accepted: int) -> int:
    """``code`` if it is CS_OK or one of ``accepted``; CorosyncError otherwise."""
    if code != CS_OK and code not in accepted:
        raise CorosyncError(call, code)
    return code


_loaded = {}  # type: typing.Dict[str, ctypes.CDLL]


def library(name: str) -> ctypes.CDLL:
    """The loaded library ``name`` (a key of LIBRARIES) with its functions declared; LibraryMissing if absent."""
    if name not in _loaded:
        try:
            lib = ctypes.CDLL(LIBRARIES[name])
        except OSError as e:
            raise LibraryMissing("corosync's %s cannot be loaded: %s" % (LIBRARIES[name], e))
        for function, argtypes in SIGNATURES[name].items():
            getattr(lib, function).argtypes = argtypes
            getattr(lib, function).restype = ctypes.c_int
        _loaded[name] = lib
    return _loaded[name]


def load_all() -> None:
    """Load every library the stack uses (LibraryMissing saying which cannot be)."""
    for name in LIBRARIES:
        library(name)


_P = ctypes.POINTER
SIGNATURES = {  # each header's prototypes (the return type is always cs_error_t)
    "quorum": {  # quorum.h
        "quorum_initialize": [_P(handle_t), _P(QuorumCallbacks), _P(ctypes.c_uint32)],
        "quorum_finalize": [handle_t],
        "quorum_fd_get": [handle_t, _P(ctypes.c_int)],
        "quorum_dispatch": [handle_t, ctypes.c_int],
        "quorum_getquorate": [handle_t, _P(ctypes.c_int)],
        "quorum_trackstart": [handle_t, ctypes.c_uint],
    },
    "cmap": {  # cmap.h
        "cmap_initialize_map": [_P(handle_t), ctypes.c_int],
        "cmap_finalize": [handle_t],
        "cmap_get": [handle_t, ctypes.c_char_p, ctypes.c_void_p, _P(ctypes.c_size_t), _P(ctypes.c_int)],
        "cmap_iter_init": [handle_t, ctypes.c_char_p, _P(handle_t)],
        "cmap_iter_next": [handle_t, handle_t, ctypes.c_char_p, _P(ctypes.c_size_t), _P(ctypes.c_int)],
        "cmap_iter_finalize": [handle_t, handle_t],
    },
    "votequorum": {  # votequorum.h
        "votequorum_initialize": [_P(handle_t), _P(VotequorumCallbacks)],
        "votequorum_finalize": [handle_t],
        "votequorum_getinfo": [handle_t, ctypes.c_uint, _P(VotequorumInfo)],
        "votequorum_setexpected": [handle_t, ctypes.c_uint],
    },
}


class Quorum(object):
    """A quorum service connection tracking membership; ``notify(quorate, ring_seq, members)`` on each change."""

    def __init__(self, notify: typing.Callable[[bool, int, typing.List[int]], None]) -> None:
        self.lib = library("quorum")
        self.notify = notify
        self.handle = handle_t(0)
        self.open = False
        # kept on the instance: ctypes must not collect a callback the library still holds
        self.callbacks = QuorumCallbacks(QUORUM_NOTIFY(self._notified))

    def _notified(self, _handle, quorate, ring_seq, entries, view_list):
        self.notify(bool(quorate), int(ring_seq), sorted(view_list[i] for i in range(entries)))

    def connect(self) -> int:
        """Connect and track changes (the current membership comes as the first event); the fd to select on."""
        quorum_type = ctypes.c_uint32(0)
        check("quorum_initialize", self.lib.quorum_initialize(
            ctypes.byref(self.handle), ctypes.byref(self.callbacks), ctypes.byref(quorum_type)))
        self.open = True
        check("quorum_trackstart", self.lib.quorum_trackstart(self.handle, CS_TRACK_CHANGES))
        fd = ctypes.c_int(-1)
        check("quorum_fd_get", self.lib.quorum_fd_get(self.handle, ctypes.byref(fd)))
        return fd.value

    def dispatch(self) -> None:
        """Deliver every pending notification to ``notify``."""
        check("quorum_dispatch", self.lib.quorum_dispatch(self.handle, CS_DISPATCH_ALL))

    def resync(self) -> None:
        """Ask for the current membership again: one round trip proving corosync answers.

        corosync sends the current state as a notification and answers
        CS_ERR_EXIST to a connection already tracking (``exec/vsf_quorum.c``
        ``message_handler_req_lib_quorum_trackstart``): a notification that
        was missed is delivered again.
        """
        check("quorum_trackstart", self.lib.quorum_trackstart(self.handle, CS_TRACK_CURRENT), CS_ERR_EXIST)

    def quorate(self) -> bool:
        """Whether this partition is quorate: the cheapest round trip (no notification follows)."""
        quorate = ctypes.c_int(0)
        check("quorum_getquorate", self.lib.quorum_getquorate(self.handle, ctypes.byref(quorate)))
        return bool(quorate.value)

    def close(self) -> None:
        """Finalize the connection (its errors ignored: it may be dead already)."""
        if self.open:
            self.lib.quorum_finalize(self.handle)
            self.open = False


class Cmap(object):
    """A connection to one of corosync's maps (CMAP_MAP_DEFAULT: the configuration; CMAP_MAP_STATS)."""

    def __init__(self, which: int = CMAP_MAP_DEFAULT) -> None:
        self.lib = library("cmap")
        self.handle = handle_t(0)
        check("cmap_initialize_map", self.lib.cmap_initialize_map(ctypes.byref(self.handle), which))

    def get(self, key: str) -> typing.Optional[typing.Union[int, str]]:
        """The integer or string value of ``key``; None when the map has no such key."""
        buf = ctypes.create_string_buffer(CMAP_KEYNAME_MAXLEN + 1)
        size, kind = ctypes.c_size_t(len(buf)), ctypes.c_int(0)
        code = check("cmap_get", self.lib.cmap_get(self.handle, key.encode(), buf, ctypes.byref(size),
                                                   ctypes.byref(kind)), CS_ERR_NOT_EXIST)
        if code == CS_ERR_NOT_EXIST:
            return None
        return decode_value(kind.value, buf.raw[:size.value])

    def keys(self, prefix: str) -> typing.List[str]:
        """The names of the keys starting with ``prefix``."""
        iterator = handle_t(0)
        check("cmap_iter_init", self.lib.cmap_iter_init(self.handle, prefix.encode(), ctypes.byref(iterator)))
        names = []
        name = ctypes.create_string_buffer(CMAP_KEYNAME_MAXLEN + 1)
        size, kind = ctypes.c_size_t(0), ctypes.c_int(0)
        try:
            while check("cmap_iter_next", self.lib.cmap_iter_next(self.handle, iterator, name, ctypes.byref(size),
                                                                  ctypes.byref(kind)), CS_ERR_NO_SECTIONS) == CS_OK:
                names.append(name.value.decode("utf-8", "replace"))
        finally:
            self.lib.cmap_iter_finalize(self.handle, iterator)
        return names

    def close(self) -> None:
        """Finalize the connection."""
        self.lib.cmap_finalize(self.handle)


def decode_value(kind: int, raw: bytes) -> typing.Optional[typing.Union[int, str]]:
    """A cmap value of type ``kind`` (cmap_value_types_t) from its bytes; None for a type not used here."""
    if kind in CMAP_INTEGERS and len(raw) == struct.calcsize(CMAP_INTEGERS[kind]):
        return struct.unpack(CMAP_INTEGERS[kind], raw)[0]
    if kind == CMAP_VALUETYPE_STRING:
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    return None


Node = collections.namedtuple("Node", ["nodeid", "name", "address"])
Node.__doc__ = "One node of corosync's nodelist: its id, name (the HostID) and ring0_addr."


def nodelist(cmap: Cmap) -> typing.Dict[int, Node]:
    """corosync's configured nodes by node id (``nodelist.node.X.nodeid``, ``.name``, ``.ring0_addr``)."""
    found = {}  # type: typing.Dict[str, typing.Dict[str, typing.Any]]
    for key in cmap.keys("nodelist.node."):
        match = _NODE.match(key)
        if match and match.group(2) in ("nodeid", "name", "ring0_addr"):
            found.setdefault(match.group(1), {})[match.group(2)] = cmap.get(key)
    return {int(n["nodeid"]): Node(int(n["nodeid"]), str(n.get("name", "")), str(n.get("ring0_addr", "")))
            for n in found.values() if isinstance(n.get("nodeid"), int)}


def knet_links(cmap_stats: Cmap, nodes: typing.Iterable[int],
               links: int = 1) -> typing.Dict[int, typing.Tuple[bool, int]]:
    """Each node's knet link state and latency in us, read key by key from the stats map."""
    values = []
    for node in nodes:
        for link in range(links):
            for field in ("connected", "latency_ave"):
                key = "stats.knet.node%d.link%d.%s" % (node, link, field)
                value = cmap_stats.get(key)
                if isinstance(value, int):
                    values.append((key, value))
    return aggregate_links(values)


def aggregate_links(values: typing.Iterable[typing.Tuple[str, int]]) -> typing.Dict[int, typing.Tuple[bool, int]]:
    """node id -> (a link connected, latency in us) from ``stats.knet.nodeN.linkM.FIELD`` values.

    Several links to one node: connected if any is, the lowest latency of
    the connected ones.  Keys of other fields are ignored.
    """
    links = {}  # type: typing.Dict[typing.Tuple[int, int], typing.Dict[str, int]]
    for key, value in values:
        match = _KNET.match(key)
        if match:
            links.setdefault((int(match.group(1)), int(match.group(2))), {})[match.group(3)] = value
    nodes = {}  # type: typing.Dict[int, typing.Tuple[bool, int]]
    for (node, _link), keys in sorted(links.items()):
        up = keys.get("connected") == 1
        latency = keys.get("latency_ave", 0) if up else 0
        was_up, was = nodes.get(node, (False, 0))
        nodes[node] = (up or was_up, min(latency, was) if up and was_up else (latency if up else was))
    return nodes


def set_expected_votes(votes: int) -> None:
    """votequorum_setexpected on a connection of its own (CorosyncError when refused)."""
    lib = library("votequorum")
    handle = handle_t(0)
    callbacks = VotequorumCallbacks()
    check("votequorum_initialize", lib.votequorum_initialize(ctypes.byref(handle), ctypes.byref(callbacks)))
    try:
        check("votequorum_setexpected", lib.votequorum_setexpected(handle, votes))
    finally:
        lib.votequorum_finalize(handle)
