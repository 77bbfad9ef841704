"""Helpers of the shim's functional tests: fixture drivers, fixture stacks, a server process.

The drivers made here are test doubles of SM drivers (``#!/bin/sh``): they
record each call in ``<ctl>/calls``, answer as SMAPIv1 says, and let a test
inject a fault (``<ctl>/fault_<command>`` holding the code), a delay
(``<ctl>/sleep_<command>``) or a crash.  The stacks are real directories of
``#!/bin/sh`` scripts speaking the xhad interface: they record their argv
(and the SHIM_HOST variable an exec-prefix may set) and print a valid
liveset.  Stack directories are 0755 and owned by root, as the shim's
safety check demands.
"""

import os
import re
import select
import signal
import subprocess
import sys
import time

import XenAPI

DRIVER = r"""#!/bin/sh
# Test double of an SM driver of type @TYPE@ (see tests/functional/shim_helpers.py).
CTL='@CTL@'
cmd=$(printf '%s' "$1" | sed -n 's:.*<methodName>\([a-z_]*\)</methodName>.*:\1:p')
sr=$(printf '%s' "$1" | sed -n 's:.*<name>sr_uuid</name><value>\([^<]*\)</value>.*:\1:p')
host=$(printf '%s' "$1" | sed -n 's:.*<name>host_ref</name><value>\([^<]*\)</value>.*:\1:p')
printf '%s %s %s %s\n' "$cmd" "$sr" "$host" "$SM_CLUSTERSTACK_XAPI" >> "$CTL/calls"
[ -f "$CTL/sleep_$cmd" ] && sleep "$(cat "$CTL/sleep_$cmd")"
if [ -f "$CTL/fault_$cmd" ]; then
  echo "stderr of $cmd" >&2
  printf '<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>%s</int></value></member><member><name>faultString</name><value><string>%s</string></value></member></struct></value></fault></methodResponse>' "$(cat "$CTL/fault_$cmd")" "injected fault [@STACKS@]"
  exit 0
fi
[ -f "$CTL/garbage_$cmd" ] && { echo 'this is not XML'; exit 3; }
ok() { printf '<?xml version="1.0"?><methodResponse><params><param><value>%s</value></param></params></methodResponse>' "$1"; }
case "$cmd" in
  sr_get_driver_info)
    ok '<struct><member><name>name</name><value><string>@TYPE@</string></value></member><member><name>description</name><value><string>test double</string></value></member><member><name>vendor</name><value><string>tests</string></value></member><member><name>copyright</name><value><string>none</string></value></member><member><name>driver_version</name><value><string>1.0</string></value></member><member><name>required_api_version</name><value><string>1.0</string></value></member><member><name>capabilities</name><value><array><data><value><string>SR_PROBE</string></value><value><string>VDI_CREATE</string></value></data></array></value></member><member><name>configuration</name><value><array><data><value><struct><member><name>key</name><value><string>device</string></value></member><member><name>description</name><value><string>a device</string></value></member></struct></value></data></array></value></member><member><name>required_cluster_stack</name><value><array><data>@STACKVALUES@</data></array></value></member></struct>' ;;
  vdi_create)
    u=$(cat /proc/sys/kernel/random/uuid)
    ok "<struct><member><name>uuid</name><value><string>$u</string></value></member><member><name>location</name><value><string>$u</string></value></member></struct>" ;;
  vdi_attach)
    ok "<struct><member><name>params</name><value><string>$CTL/statefile</string></value></member><member><name>xenstore_data</name><value><struct></struct></value></member></struct>" ;;
  *) ok '<nil/>' ;;
esac
"""

STACK_SCRIPT = r"""#!/bin/sh
# Fixture cluster-stack script (tests/functional/shim_helpers.py): records, answers.
name=$(basename "$0")
printf '%s %s host=%s\n' "$name" "$*" "${SHIM_HOST:-}" >> '@LOG@'
[ -f '@CTL@'/fail_$name ] && { echo "$name: injected failure" >&2; exit "$(cat '@CTL@'/fail_$name)"; }
case "$name" in
  ha_query_liveset)
    printf '<ha_liveset_info version="1.0"><status>Online</status><localhost><HostID>00000000-0000-0000-0000-000000000001</HostID></localhost></ha_liveset_info>\n' ;;
  ha_propose_master) echo TRUE ;;
esac
exit 0
"""

SCRIPTS = ("ha_set_pool_state", "ha_start_daemon", "ha_stop_daemon", "ha_query_liveset",
           "ha_propose_master", "ha_disarm_fencing", "ha_set_excluded", "ha_clear_excluded")


def make_driver(sm_dir, ctl_root, type_name, stacks):
    """Write ``<sm_dir>/<Type>SR``, a driver of ``type_name`` requiring ``stacks``; its control dir."""
    ctl = os.path.join(ctl_root, type_name)
    os.makedirs(ctl, exist_ok=True)
    os.makedirs(sm_dir, exist_ok=True)
    text = (DRIVER.replace("@TYPE@", type_name).replace("@CTL@", ctl)
            .replace("@STACKS@", ",".join(stacks))
            .replace("@STACKVALUES@", "".join("<value><string>%s</string></value>" % s for s in stacks)))
    path = os.path.join(sm_dir, type_name.capitalize() + "SR")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return ctl


def make_stack(root, name, log, ctl, supported=None):
    """Write stack ``name`` under ``root`` (0755, root-owned); scripts log to ``log``."""
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)
    path = os.path.join(root, name)
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)
    os.makedirs(ctl, exist_ok=True)
    for script in SCRIPTS:
        target = os.path.join(path, script)
        with open(target, "w") as f:
            f.write(STACK_SCRIPT.replace("@LOG@", log).replace("@CTL@", ctl))
        os.chmod(target, 0o755)
    if supported is not None:
        with open(os.path.join(path, "ha_supported_srs"), "w") as f:
            f.write(" ".join(supported) + "\n")
        os.chmod(os.path.join(path, "ha_supported_srs"), 0o644)
    return path


def calls(ctl):
    """The calls a fixture driver recorded: lists of [command, sr_uuid, host_ref, xapi]."""
    try:
        with open(os.path.join(ctl, "calls")) as f:
            return [line.split() for line in f]
    except FileNotFoundError:
        return []


class Server(object):
    """A ``sm-clusterstack serve`` process on a free loopback port."""

    def __init__(self, state, sm_dir, stack_root, hosts=1, password="secret", extra=()):
        self.state = state
        self.sm_dir = sm_dir
        self.stack_root = stack_root
        self.hosts = hosts
        self.extra = list(extra)
        os.makedirs(state, exist_ok=True)
        self.password_file = os.path.join(state, "..", os.path.basename(state) + ".password")
        with open(self.password_file, "w") as f:
            f.write(password + "\n")
        self.password = password
        self.proc = None
        self.url = None

    def start(self, timeout=60):
        """Start the process and wait for its ready line."""
        argv = [sys.executable, "-m", "sm_clusterstack.cli", "serve", "--state", self.state, "--port", "0",
                "--hosts", str(self.hosts), "--password-file", self.password_file, "--sm-dir", self.sm_dir,
                "--cluster-stack-root", self.stack_root, "--driver-timeout", "30",
                "--script-timeout", "30", "--xapi-conf", os.devnull] + self.extra
        self.log = open(os.path.join(self.state, "..", os.path.basename(self.state) + ".log"), "ab")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log)
        line = _readline(self.proc, timeout)
        match = re.search(r"url=(\S+)", line)
        if not match:
            self.kill()
            raise RuntimeError("serve did not start: %r" % line)
        self.url = match.group(1)
        return self

    def session(self):
        """A logged-in PyPI XenAPI session."""
        session = XenAPI.Session(self.url)
        session.login_with_password("root", self.password, "2.0", "tests")
        return session

    def stop(self):
        """SIGTERM and wait."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def kill(self):
        """SIGKILL, as a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self):
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None


def _readline(proc, timeout):
    deadline = time.time() + timeout
    data = b""
    while not data.endswith(b"\n") and time.time() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            data += chunk
    return data.decode("utf-8", "replace")
