"""Helpers of the shim's functional tests: fixture drivers, fixture stacks, a server process.

The drivers made here are test doubles of SM drivers (``#!/bin/sh``): they
record each call in ``<ctl>/calls``, answer as SMAPIv1 says, and let a test
inject a fault (``<ctl>/fault_<command>`` holding the code), a delay
(``<ctl>/sleep_<command>``) or a crash, or hold a command at its start until
the test lets it go (``Pool.held``: an order of events, where a delay would
be a race with the clock).  The stacks are real directories of
``#!/bin/sh`` scripts speaking the xhad interface: run as xapi runs them
(PATH only, in the host's sandbox), they record their argv, their host (from
the sandbox's /etc/xensource/xhad.conf) and a timestamp, and print a liveset
of every configured host; a test may delay a script (``delay_script``) or
hold it at its start until the test lets it go (``held_script``).  Stack
directories are 0755 and owned by root, as the shim's safety check demands.
"""

import contextlib
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time

import XenAPI

SCRIPT_TIMEOUT = 60  # seconds: serve's --script-timeout, the safety net for a hung stack script
SR_SIZE = 8 << 30  # bytes: room for the statefile and the 4 GB metadata VDI (xha_statefile.ml minimum_sr_size)
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim_fixtures")


def _template(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


DRIVER = _template("driver.sh")
STACK_SCRIPT = _template("stack_script.sh")


SCRIPTS = ("ha_set_pool_state", "ha_start_daemon", "ha_stop_daemon", "ha_query_liveset",
           "ha_propose_master", "ha_disarm_fencing", "ha_set_excluded", "ha_clear_excluded")


def make_driver(sm_dir, ctl_root, type_name, stacks, offline_attach=True):
    """Write ``<sm_dir>/<Type>SR``, a driver of ``type_name`` requiring ``stacks``; its control dir.

    ``offline_attach``: it declares VDI_ATTACH_OFFLINE (it may hold a statefile).
    """
    ctl = os.path.join(ctl_root, type_name)
    os.makedirs(ctl, exist_ok=True)
    os.makedirs(sm_dir, exist_ok=True)
    text = (DRIVER.replace("@TYPE@", type_name).replace("@CTL@", ctl)
            .replace("@STACKS@", ",".join(stacks))
            .replace("@STACKVALUES@", "".join("<value><string>%s</string></value>" % s for s in stacks)))
    if not offline_attach:
        text = text.replace("<value><string>VDI_ATTACH_OFFLINE</string></value>", "")
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


def write_script(stack, name, body):
    """A ``#!/bin/sh`` script ``name`` of ``body`` in the stack directory ``stack`` (a pathlib path), both 0755."""
    stack.mkdir(parents=True, exist_ok=True)
    stack.chmod(0o755)
    path = stack / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def attached_markers(ctl):
    """What the fixture driver of ``ctl`` really attached: ``sr_uuid@host_ref`` for each SR attached on a host."""
    try:
        return sorted(os.listdir(os.path.join(ctl, "attached")))
    except FileNotFoundError:
        return []


def calls(ctl):
    """The calls a fixture driver recorded: lists of [command, sr_uuid, host_ref, xapi]."""
    try:
        with open(os.path.join(ctl, "calls")) as f:
            return [line.split() for line in f]
    except FileNotFoundError:
        return []


class Server(object):
    """A ``sm-clusterstack serve`` process on a free loopback port.

    ``command``: the argv that runs ``sm-clusterstack`` (default: this interpreter, the working tree).
    """

    def __init__(self, state, sm_dir, stack_root, hosts=1, password="secret", extra=(), env=None, sandbox=False,
                 prefix=None, command=None):
        self.command = list(command or [sys.executable, "-m", "sm_clusterstack.cli"])
        self.env = env
        self.sandbox = sandbox
        self.prefix = prefix  # the sandboxes' namespace prefix, kept over restarts when given
        self.state = state
        self.sm_dir = sm_dir
        self.stack_root = stack_root
        self.hosts = hosts
        self.extra = list(extra)
        os.makedirs(state, exist_ok=True)
        self.password_file = os.path.join(state, "..", os.path.basename(state) + ".password")
        with open(os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(password + "\n")
        self.password = password
        self.proc = None
        self.url = None

    def argv(self):
        """The command line of this server."""
        argv = self.command + ["serve", "--state", self.state, "--port", "0",
                               "--hosts", str(self.hosts), "--password-file", self.password_file,
                               "--sm-dir", self.sm_dir, "--cluster-stack-root", self.stack_root,
                               "--driver-timeout", "30", "--script-timeout", str(SCRIPT_TIMEOUT),
                               "--xapi-conf", os.devnull] + self.extra
        if self.sandbox:  # the prefix comes from the state dir, or is given: a restart adopts the sandboxes
            argv += ["--sandbox"] + (["--sandbox-prefix", self.prefix] if self.prefix else [])
        return argv

    def start(self, timeout=60):
        """Start the process and wait for its ready line."""
        argv = self.argv()
        self.log = open(os.path.join(self.state, "..", os.path.basename(self.state) + ".log"), "ab")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, env=self.env)
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
        """SIGKILL, as a crash (the host sandboxes stay, as hosts stay up when xapi dies)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def remove_sandboxes(self):
        """Tear down what a killed server left of its host sandboxes."""
        from sm_clusterstack import hostsandbox
        if self.sandbox:
            assert hostsandbox.SandboxPool.remove(self.state) == []

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


class Pool(object):
    """A test pool: fixture drivers (ocfs2 -> corosync, melio -> melio, lvm -> none, dual ->
    corosync or melio), fixture stacks xhad (any SR), corosync (any SR) and melio (melio SRs
    only), and a running server of ``hosts`` hosts."""

    DRIVERS = (("ocfs2", ["corosync"]), ("melio", ["melio"]), ("lvm", []), ("dual", ["corosync", "melio"]))

    def __init__(self, tmp, hosts=2, sandbox=True, prefix=None):
        self.tmp = str(tmp)
        self.sm_dir = os.path.join(self.tmp, "sm")
        self.ctl = {}
        for name, stacks in self.DRIVERS:
            self.add_driver(name, stacks)
        self.root = os.path.join(self.tmp, "stacks")
        self.stack_log = os.path.join(self.tmp, "stack.log")
        self.stack_ctl = os.path.join(self.tmp, "stack-ctl")
        for name, supported in (("xhad", None), ("corosync", None), ("melio", ["melio"])):
            make_stack(self.root, name, self.stack_log, self.stack_ctl, supported)
        self.server = Server(os.path.join(self.tmp, "state"), self.sm_dir, self.root, hosts=hosts, sandbox=sandbox,
                             prefix=prefix)

    def add_driver(self, type_name, stacks, offline_attach=True):
        """One more fixture driver (before start: the server scans the drivers as it starts)."""
        self.ctl[type_name] = make_driver(self.sm_dir, os.path.join(self.tmp, "ctl"), type_name, stacks,
                                          offline_attach)

    def start(self):
        self.server.start()
        self.session = self.server.session()
        self.x = self.session.xenapi
        return self

    def stop(self):
        try:
            self.session.xenapi.session.logout()
        except Exception:
            pass
        self.server.stop()
        if self.server.sandbox:
            self.server.remove_sandboxes()

    def master(self):
        return self.x.pool.get_master(self.x.pool.get_all()[0])

    def create_sr(self, sr_type, name=None, shared=True):
        """SR.create of a fixture type on the master."""
        return self.x.SR.create(self.master(), {"device": "/dev/fixture"}, str(SR_SIZE), name or sr_type, "",
                                sr_type, "user", shared, {})

    def stack_calls(self):
        """Lines the fixture stack scripts recorded: [stack, script, args..., host=UUID, t=SECONDS]."""
        try:
            with open(self.stack_log) as f:
                return [line.split() for line in f]
        except FileNotFoundError:
            return []

    def inject(self, sr_type, what, command, value):
        """Make the fixture driver of ``sr_type`` fault/sleep/garble on ``command``."""
        with open(os.path.join(self.ctl[sr_type], "%s_%s" % (what, command)), "w") as f:
            f.write(str(value))

    @contextlib.contextmanager
    def held(self, sr_type, command):
        """Hold the fixture driver of ``sr_type`` at the start of ``command`` until the block ends."""
        path = os.path.join(self.ctl[sr_type], "hold_" + command)
        open(path, "w").close()
        try:
            yield
        finally:
            os.unlink(path)

    def fail_script(self, script, code, host=""):
        """Make fixture stack script ``script`` exit ``code`` (only on the host of uuid ``host`` if given)."""
        with open(os.path.join(self.stack_ctl, "fail_" + script), "w") as f:
            f.write("%s %s\n" % (code, host))


@contextlib.contextmanager
def pool_for_test(tmp, pool_class=Pool, start=True, kill=False, drivers=(), **options):
    """``pool_class(tmp, **options)`` with ``drivers`` added, started if ``start``; then stopped.

    ``drivers``: (type_name, stacks, offline_attach) of drivers beyond the fixture four.
    ``kill``: end the server with SIGKILL, as a crash, and remove its sandboxes (for the
    tests that kill and restart the server themselves) rather than a clean ``stop()``.
    """
    pool = pool_class(tmp, **options)
    for type_name, stacks, offline_attach in drivers:
        pool.add_driver(type_name, stacks, offline_attach)
    if start:
        pool.start()
    try:
        yield pool
    finally:
        if kill:
            pool.server.kill()
            pool.server.remove_sandboxes()
        else:
            pool.stop()


@contextlib.contextmanager
def held_script(pool, script):
    """Hold fixture stack script ``script`` at its start until the block ends: an order of events, not a delay."""
    path = os.path.join(pool.stack_ctl, "hold_" + script)
    open(path, "w").close()
    try:
        yield
    finally:
        os.unlink(path)


def delay_script(pool, script, seconds):
    """Make fixture stack script ``script`` sleep ``seconds`` first."""
    with open(os.path.join(pool.stack_ctl, "sleep_" + script), "w") as f:
        f.write(str(seconds))


def introduce(pool, sr_type, name):
    """An SR of ``sr_type`` with a detached PBD on every host (SR.introduce + PBD.create)."""
    x = pool.x
    sr = x.SR.introduce("", name, "", sr_type, "user", True, {})
    for host in x.host.get_all():
        x.PBD.create({"host": host, "SR": sr, "device_config": {"device": "/dev/" + name}})
    return sr


def stacks_share_one(required_sets):
    """The invariant: the constrained SRs attached have at least one stack in common."""
    sets = [set(s) for s in required_sets if s]
    return not sets or bool(set.intersection(*sets))


def active_required_sets(db_path):
    """required_cluster_stack of every SR with a PBD not detached, read straight from the store."""
    import json
    import sqlite3
    conn = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT DISTINCT SM.required_cluster_stack FROM PBD JOIN SM ON SM.type = PBD.sr_type "
                            "WHERE PBD.state != 'detached'").fetchall()
    finally:
        conn.close()
    return [json.loads(r[0]) for r in rows]


def failure(fn, *args):
    """The ErrorDescription a XenAPI call fails with (the test fails if it succeeds)."""
    try:
        fn(*args)
    except XenAPI.Failure as e:
        return e.details
    raise AssertionError("call succeeded; a failure was expected")


def wait_for(predicate, timeout=20):
    """Poll ``predicate`` until true; AssertionError after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def write_version_1_store(state_dir):
    """A store as it was before multiple cluster managers (schema version 1, no ha_cluster_stack)."""
    from sm_clusterstack.xapi.db import schema
    os.makedirs(state_dir, exist_ok=True)
    conn = sqlite3.connect(os.path.join(state_dir, "pool.db"))
    for statement in schema.VERSION_1:
        conn.execute(statement)
    conn.execute("INSERT INTO host (ref, uuid, name_label, hostname, address) VALUES "
                 "('OpaqueRef:h', '5e0e57b0-5e1a-4b55-9c0e-000000000001', 'old', 'old', '127.0.0.1')")
    conn.execute("INSERT INTO pool (ref, uuid, master) VALUES ('OpaqueRef:p', 'u', 'OpaqueRef:h')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
