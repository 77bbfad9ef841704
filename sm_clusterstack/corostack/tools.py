"""Membership, quorum and link latency from corosync's own tools, parsed strictly: for operators and diagnostics.

The stack itself learns them from corosync's libraries (``corolib``,
``corowatch``); these parsers serve the kit, benchmarks and tests.

``corosync-quorumtool -s -p`` gives quorum, the local node id and the
members of this partition; ``corosync-cmapctl nodelist`` gives each node
id's name (the HostID, as ``conf.render`` writes it); ``corosync-cmapctl -m
stats stats.knet.`` gives each knet link's state and heartbeat latency;
``corosync-quorumtool -e N`` lowers the expected votes.  ``link_up`` asks
the kernel whether an interface has carrier (in this network namespace).
"""

import fcntl
import re
import socket
import struct
import typing

from sm_clusterstack import runner
from sm_clusterstack.corostack import corolib, find_tool
from sm_clusterstack.digits import is_digits
from sm_clusterstack.stacks.xhadconf import is_uuid

TOOL_TIMEOUT = 10.0  # seconds; the tools answer in milliseconds when corosync runs
_MEMBER = re.compile(r"\s*(\d+)\s+(\d+)\s+(\S+)(?:\s+(.*?))?\s*\Z")
_CMAP = re.compile(r"nodelist\.node\.(\d+)\.(\w+) \((\w+)\) = (.*?)\s*\Z")
_KNET = re.compile(r"(stats\.knet\.node\d+\.link\d+\.\w+) \(\w+\) = (\d+)\s*\Z")
SIOCGIFFLAGS = 0x8913
IFF_RUNNING = 0x40  # RFC 2863 operational: the link has carrier


class ToolOutputError(Exception):
    """A tool said something we cannot read (MTC 2)."""


class DaemonAbsent(Exception):
    """corosync does not run here: its tools cannot connect (MTC 14)."""


class Membership(object):
    """This partition as corosync sees it."""

    def __init__(self, quorate: bool, local_node: int, members: typing.List[int]) -> None:
        self.quorate = quorate
        self.local_node = local_node
        self.members = sorted(members)

    def __repr__(self):
        return "Membership(quorate=%r, local=%r, members=%r)" % (self.quorate, self.local_node, self.members)


def parse_quorumtool(text: str) -> Membership:
    """Parse ``corosync-quorumtool -s -p`` output."""
    fields = {}
    members = []
    in_members = False
    for line in text.splitlines():
        if in_members and line.strip():
            match = _MEMBER.match(line)
            if not match:
                raise ToolOutputError("corosync-quorumtool: unreadable member line %r" % line[:80])
            members.append(int(match.group(1)))
        elif line.strip().startswith("Nodeid") and "Votes" in line:
            in_members = True
        elif ":" in line and not in_members:
            key, _sep, value = line.partition(":")
            fields[key.strip()] = value.strip()
    quorate = fields.get("Quorate")
    node = fields.get("Node ID", "")
    if quorate not in ("Yes", "No") or not is_digits(node):
        raise ToolOutputError("corosync-quorumtool: no Quorate or Node ID line")
    if int(node) not in members:
        raise ToolOutputError("corosync-quorumtool: local node %s is not in its own membership" % node)
    return Membership(quorate == "Yes", int(node), members)


def parse_nodelist(text: str) -> typing.Dict[int, str]:
    """Parse ``corosync-cmapctl nodelist``: node id -> HostID (lower case)."""
    nodes = {}  # type: typing.Dict[str, typing.Dict[str, str]]
    for line in text.splitlines():
        match = _CMAP.match(line)
        if match:
            nodes.setdefault(match.group(1), {})[match.group(2)] = match.group(4)
        elif line.strip() and not line.startswith("nodelist.local_node_pos"):
            raise ToolOutputError("corosync-cmapctl: unreadable line %r" % line[:80])
    result = {}
    for pos, keys in nodes.items():
        node, name = keys.get("nodeid", ""), keys.get("name", "")
        if not is_digits(node) or not is_uuid(name):
            raise ToolOutputError("corosync-cmapctl: node %s has nodeid %r and name %r" % (pos, node, name))
        result[int(node)] = name.lower()
    return result


def _tool(name: str) -> str:
    path = find_tool(name)
    if path is None:
        raise DaemonAbsent("%s is not installed" % name)
    return path


def query_membership(run: typing.Callable[..., runner.Result] = runner.run,
                     timeout: float = TOOL_TIMEOUT) -> Membership:
    """Run corosync-quorumtool; DaemonAbsent when corosync does not answer."""
    result = run([_tool("corosync-quorumtool"), "-s", "-p"], timeout=timeout)
    # 0: quorate, 2: not quorate (both print the status); 1: cannot reach corosync;
    # no answer within the timeout: corosync hangs, which is as good as gone
    if result.returncode == 1 or result.timed_out:
        raise DaemonAbsent("corosync does not answer: %s" % result.describe())
    if result.returncode not in (0, 2):
        raise ToolOutputError("corosync-quorumtool failed: %s" % result.describe())
    return parse_quorumtool(result.stdout)


def query_nodelist(run: typing.Callable[..., runner.Result] = runner.run) -> typing.Dict[int, str]:
    """Run corosync-cmapctl nodelist; DaemonAbsent when corosync does not answer."""
    result = run([_tool("corosync-cmapctl"), "nodelist"], timeout=TOOL_TIMEOUT)
    # 0: printed the keys; 1: cannot reach corosync (CS_ERR_LIBRARY); or it hangs
    if result.returncode == 1 or result.timed_out:
        raise DaemonAbsent("corosync does not answer: %s" % result.describe())
    if result.returncode != 0:
        raise ToolOutputError("corosync-cmapctl failed: %s" % result.describe())
    return parse_nodelist(result.stdout)


def parse_knet_stats(text: str) -> typing.Dict[int, typing.Tuple[bool, int]]:
    """Parse ``corosync-cmapctl -m stats stats.knet.``: node id -> (link connected, latency in us).

    As ``corolib.aggregate_links`` sums up the keys; lines of other keys (the handle's) are skipped.
    """
    values = []
    for line in text.splitlines():
        match = _KNET.match(line)
        if match:
            values.append((match.group(1), int(match.group(2))))
    return corolib.aggregate_links(values)


def query_knet_stats(run: typing.Callable[..., runner.Result] = runner.run,
                     timeout: float = TOOL_TIMEOUT) -> typing.Dict[int, typing.Tuple[bool, int]]:
    """Each node's knet link state and latency; DaemonAbsent when corosync does not answer."""
    result = run([_tool("corosync-cmapctl"), "-m", "stats", "stats.knet."], timeout=timeout)
    if result.returncode == 1 or result.timed_out:
        raise DaemonAbsent("corosync does not answer: %s" % result.describe())
    if result.returncode != 0:
        raise ToolOutputError("corosync-cmapctl -m stats failed: %s" % result.describe())
    return parse_knet_stats(result.stdout)


def set_expected_votes(votes: int, run: typing.Callable[..., runner.Result] = runner.run,
                       timeout: float = TOOL_TIMEOUT) -> runner.Result:
    """Lower (or raise) votequorum's expected votes to ``votes``; the tool's Result."""
    return run([_tool("corosync-quorumtool"), "-e", str(votes)], timeout=timeout)


def link_up(interface: str) -> bool:
    """True when ``interface`` has carrier here; True also when it is "" or unknown (no proof it is down)."""
    if not interface:
        return True
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            answer = fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, struct.pack("16sh", interface.encode()[:15], 0))
    except OSError:
        return True
    return bool(struct.unpack("16sh", answer[:18])[1] & IFF_RUNNING)
