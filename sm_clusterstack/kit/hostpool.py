"""The pool the kit plays: host sandboxes holding what xapi would have put on each host.

Each host is a ``hostsandbox.HostSandbox`` of one ``SandboxPool`` (its own
network and mount namespaces, ``xenbr0`` holding its address, the pool's
stack root at ``/usr/libexec/xapi/cluster-stack``).  On each host the kit
writes ``/etc/xensource/xhad.conf`` as xapi's ``write_config_file`` does
(``ocaml/xapi/xha_interface.ml`` ``DaemonConfiguration``: UDP port 694, every
host, the twelve parameters of ``Timeouts.derive t``, the management bridge
and PIF, the statefile) and stands in for xapi's health check
(``/opt/xensource/libexec/xapi-health-check`` exits 0: the kit is the host's
xapi, and it is healthy).  The statefile is one file all hosts see, as a
shared SR's VDI is.  ``host_paths`` (``--host-path INSIDE=LOCAL``) lays a
file or directory of this machine at INSIDE on every host, e.g. xhad's
tools at their legacy ``/opt/xensource/xha``.

Fencing must never reboot the machine the kit runs on: each host has a
PID namespace of its own, so a reboot(2) in it ends only that host (the
kit's power switch, ``power_switch``, powers it on again); on each host,
``/proc/sysrq-trigger`` and the watchdog devices (where the machine has
them) are the host's own regular files (``hostsandbox.KERNEL_FENCES``), and
a stack of this project finds its settings file
(``/etc/sm-clusterstack/<stack>.conf``) with a fence action that only
touches ``/run/sm-clusterstack-kit-fenced``.  ``fences`` says which host
fenced itself in any of these ways.
"""

import os
import shutil
import typing
import uuid

from sm_clusterstack import hostsandbox
from sm_clusterstack.stacks import xhadconf

XHAD_PORT = xhadconf.DEFAULT_UDP_PORT  # Xapi_globs.xha_udp_port
STATEFILE_SIZE = 4 * 1024 * 1024  # xapi's statefile VDI is 266,240 bytes; an SR rounds it up
HEALTH_CHECK = "/opt/xensource/libexec/xapi-health-check"
MOUNT_TIMEOUT = 10.0  # seconds
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
INVENTORY = "/etc/xensource-inventory"
SETTINGS = "/etc/sm-clusterstack/%s.conf"  # a project stack's settings file (xapi passes scripts no env)
FENCED = "/run/sm-clusterstack-kit-fenced"  # what a project stack's fence action touches on a kit host


class HostPoolError(Exception):
    """The kit could not make its host sandboxes; the text says why."""


class KitHosts(object):
    """``count`` sandboxed hosts over ``state_dir`` running the stack at ``stack_path``."""

    def __init__(self, state_dir: str, count: int, prefix: str, stack_path: str, ha_timeout: int,
                 host_paths: typing.Optional[typing.Dict[str, str]] = None, ipv6: bool = False) -> None:
        self.state_dir = state_dir
        self.ipv6 = ipv6
        self.stack_root, self.stack_name = os.path.split(os.path.abspath(stack_path).rstrip("/"))
        self.stack_inside = os.path.join(hostsandbox.STACK_ROOT_INSIDE, self.stack_name)
        self.count = count
        self.prefix = prefix
        self.parameters = xhadconf.derive_timeouts(ha_timeout)
        self.host_ids = [str(uuid.uuid4()) for _ in range(count)]
        self.generation = str(uuid.uuid4())
        self.statefile = os.path.join(state_dir, "statefile")
        self.host_paths = dict(host_paths or {})
        self.pool = None  # type: typing.Optional[hostsandbox.SandboxPool]
        self.reboots = []  # type: typing.List[str]  # hosts the power switch found rebooted, and how

    @property
    def hosts(self) -> typing.List[hostsandbox.HostSandbox]:
        """The host sandboxes, the master first."""
        return self.pool.hosts if self.pool is not None else []

    def create(self) -> "KitHosts":
        """Make the sandboxes and write each host's files; HostPoolError says what failed."""
        try:
            self.pool = hostsandbox.SandboxPool.create(self.state_dir, self.count, self.prefix, self.stack_root,
                                                       ipv6=self.ipv6)
            with open(self.statefile, "wb") as f:
                f.truncate(STATEFILE_SIZE)
            for index, host in enumerate(self.hosts):
                self._write_host(index, host)
        except (hostsandbox.SandboxError, OSError, ValueError) as e:
            self.teardown()
            raise HostPoolError(str(e))
        return self

    def config(self, index: int) -> xhadconf.XhadConfig:
        """The xhad.conf xapi writes on host ``index``."""
        members = [xhadconf.Host(host_id, host.address) for host_id, host in zip(self.host_ids, self.hosts)]
        host = self.hosts[index]
        return xhadconf.XhadConfig(self.generation, members, self.host_ids[index], self.statefile,
                                   udp_port=XHAD_PORT, parameters=self.parameters,
                                   heartbeat_interface=host.bridge, heartbeat_physical_interface=host.device)

    def _write_host(self, index: int, host: hostsandbox.HostSandbox) -> None:
        _write(host.path(xhadconf.DEFAULT_PATH), self.config(index).to_xml(), 0o644)
        write_inventory(host, self.host_ids[index])
        _write(host.path(HEALTH_CHECK), b"#!/bin/sh\n# the kit is this host's xapi, and it is healthy\nexit 0\n",
               0o755)
        fence = 'fence-action = "touch %s"\nfence-escalation = "touch %s"\nwatchdog-device = none\n' % (FENCED, FENCED)
        _write(host.path(SETTINGS % self.stack_name),
               ("# written by the conformance kit: a fence only touches a file on this host\n" + fence).encode(), 0o644)
        for inside, local in sorted(self.host_paths.items()):
            lay(host, inside, local)

    def power_switch(self) -> None:
        """The kit's power switch: a host whose init is gone (a reboot(2) in it) rebooted; it is powered on again."""
        for index, host in enumerate(self.hosts):
            if not host.powered():
                self.reboots.append("h%d rebooted: %s (a reboot(2) in its PID namespace)"
                                    % (index + 1, host.power_loss()))
                host.power_on()

    def fences(self) -> typing.List[str]:
        """The hosts that fenced themselves in a way the kit turned into a file or a reboot, and how."""
        self.power_switch()
        found = list(self.reboots)
        for index, host in enumerate(self.hosts):
            if os.path.exists(host.path(FENCED)):
                found.append("h%d ran its fence action (touched %s)" % (index + 1, FENCED))
            for device in host.kernel_fences():
                found.append("h%d wrote to %s (a kernel fence: reboot)" % (index + 1, device))
        return found

    def teardown(self) -> typing.List[str]:
        """Remove the sandboxes (what runs in them is killed); what could not be removed."""
        if self.pool is None:
            return []
        failed = self.pool.teardown()
        self.pool = None
        return failed


def lay(host: hostsandbox.HostSandbox, inside: str, local: str) -> None:
    """Put ``local`` at ``inside`` in ``host``: a copy under a private path, else a bind mount."""
    try:
        private = host.path(inside)
    except hostsandbox.SandboxError:
        private = ""
    if private:
        _copy(local, private)
        return
    _mount_point(inside, os.path.isdir(local))
    mount = shutil.which("mount", path=SYSTEM_PATH + os.pathsep + os.environ.get("PATH", "")) or "mount"
    result = host.run([mount, "--bind", os.path.abspath(local), inside], timeout=MOUNT_TIMEOUT,
                      env={"PATH": SYSTEM_PATH})
    if not result.ok:
        raise HostPoolError("cannot lay %s at %s on %s: %s" % (local, inside, host.netns, result.describe()))


def write_inventory(host: hostsandbox.HostSandbox, host_uuid: str) -> None:
    """The host's ``/etc/xensource-inventory``, where stock SM drivers read who they run on.

    (``libs/sm/core/util.py`` ``get_this_host``: INSTALLATION_UUID.)  The
    kit's hosts have no control-domain VM record: CONTROL_DOMAIN_UUID names none.
    """
    text = ("PRODUCT_BRAND='sm-clusterstack kit'\nINSTALLATION_UUID='%s'\nCONTROL_DOMAIN_UUID='%s'\n"
            "MANAGEMENT_INTERFACE='%s'\nMANAGEMENT_ADDRESS_TYPE='%s'\n"
            % (host_uuid, uuid.uuid4(), host.bridge, "IPv6" if host.ipv6 else "IPv4"))
    stand_in = host.path("/etc/xensource/kit-inventory")
    _write(stand_in, text.encode("utf-8"), 0o644)
    lay(host, INVENTORY, stand_in)


def _write(path: str, data: bytes, mode: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _copy(local: str, target: str) -> None:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.isdir(local):
        shutil.copytree(local, target, symlinks=True)
    else:
        shutil.copy2(local, target)


def _mount_point(inside: str, directory: bool) -> None:
    """The mount point a real host has, made on this machine where missing (left in place)."""
    if directory:
        os.makedirs(inside, mode=0o755, exist_ok=True)
    elif not os.path.exists(inside):
        os.makedirs(os.path.dirname(inside), mode=0o755, exist_ok=True)
        open(inside, "a").close()


def check_host_paths(pairs: typing.Dict[str, str]) -> None:
    """ValueError unless each INSIDE is absolute and each LOCAL exists."""
    for inside, local in pairs.items():
        if not os.path.isabs(inside) or os.path.normpath(inside) == "/":
            raise ValueError("--host-path %s: the path inside a host must be absolute (and not /)" % inside)
        if not os.path.exists(local):
            raise ValueError("--host-path %s=%s: %s does not exist" % (inside, local, local))
