"""Issue 22 items 2 and 3: nothing acknowledged is lost silently, and a full disk leaves the pool readable.

A real ``serve`` (one host, no sandbox) takes 30 acknowledged writes; then
its store is damaged as the issue's adversarial run did it, and the next
``serve`` must print one line (what is wrong, what to do), exit 1 and
write nothing.  Before: each of them started, most as a new pool.
"""

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest
import XenAPI

from helpers.shim import Pool, Server
from sm_clusterstack.xapi.db import durable

WRITES = 30
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the full-disk tests mount a tmpfs")


@contextlib.contextmanager
def served(tmp_path, state=None):
    """A one-host pool (no sandbox) in ``tmp_path`` (its state dir: ``state``); SIGKILLed at the end, as a crash."""
    pool = Pool(tmp_path, hosts=1, sandbox=False)
    if state is not None:
        pool.server = Server(state, pool.sm_dir, pool.root, hosts=1)
    pool.start()
    try:
        yield pool
    finally:
        pool.server.kill()


def acknowledged_writes(pool, count=WRITES):
    """``count`` writes the shim answered Success to; the name they leave."""
    host = pool.x.host.get_all()[0]
    for n in range(count):
        pool.x.host.set_name_label(host, "name-%d" % n)
    return "name-%d" % (count - 1)


def files(server):
    """{path: sha1} of the state dir and the marker beside it (the -shm index left out: SQLite may rebuild it)."""
    found = {}
    paths = [os.path.join(server.state, n) for n in sorted(os.listdir(server.state))] \
        if os.path.isdir(server.state) else []
    for path in paths + durable.marker_paths(server.state)[1:]:
        if os.path.isfile(path) and not path.endswith("-shm"):
            with open(path, "rb") as f:
                found[path] = hashlib.sha1(f.read()).hexdigest()
    return found


def refused_start(server, extra=()):
    """Run ``serve`` once more on the same state; (exit status, stderr). A start that is not refused fails."""
    proc = subprocess.Popen(server.argv() + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("serve started on the damaged store")
    return proc.returncode, err.decode("utf-8", "replace")


def _overwrite(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def damage(server, kind):
    """Damage the (killed) server's store as ``kind`` says."""
    db = os.path.join(server.state, "pool.db")
    if kind == "db deleted, its WAL kept":
        os.unlink(db)
    elif kind == "state dir deleted":
        shutil.rmtree(server.state)
    elif kind == "WAL truncated":
        os.truncate(db + "-wal", os.path.getsize(db + "-wal") // 3)
    elif kind == "WAL tail overwritten":
        _overwrite(db + "-wal", os.path.getsize(db + "-wal") - 4096, os.urandom(4096))
    elif kind == "db truncated":
        os.truncate(db, os.path.getsize(db) // 2)
    elif kind == "header zeroed":
        _overwrite(db, 0, b"\0" * 100)
    elif kind == "garbage in the middle":  # four whole pages, headers included
        _overwrite(db, os.path.getsize(db) // 2 // 4096 * 4096, os.urandom(4 * 4096))
    elif kind == "password file deleted":
        os.unlink(os.path.join(server.state, "password"))


def checkpointed(server):
    """Fold the WAL into the database (as a clean stop would), so that damage to pool.db is damage to the pool."""
    conn = sqlite3.connect(os.path.join(server.state, "pool.db"))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


IN_THE_WAL = ["db deleted, its WAL kept", "WAL truncated", "WAL tail overwritten", "state dir deleted"]
IN_THE_DB = ["db truncated", "header zeroed", "garbage in the middle"]


@pytest.mark.parametrize("kind", IN_THE_WAL + IN_THE_DB)
def test_serve_on_a_damaged_store_says_so_in_one_line_exits_1_and_writes_nothing(tmp_path, kind):
    with served(tmp_path) as pool:
        acknowledged_writes(pool)
    if kind in IN_THE_DB:
        checkpointed(pool.server)
    damage(pool.server, kind)
    before = files(pool.server)
    status, err = refused_start(pool.server)
    lines = err.strip().splitlines()
    assert status == 1 and len(lines) == 1 and "Traceback" not in err, err
    assert "db restore" in lines[0] and "--new-pool" in lines[0]
    assert files(pool.server) == before


def test_a_default_password_file_deleted_under_an_existing_pool_is_refused_not_replaced(tmp_path):
    pool = Pool(tmp_path, hosts=1, sandbox=False)
    argv = pool.server.argv()
    at = argv.index("--password-file")
    del argv[at:at + 2]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert b"ready" in proc.stdout.readline()
    proc.kill()
    proc.wait()
    proc.stdout.close()
    os.unlink(os.path.join(pool.server.state, "password"))
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 1 and b"password file is missing" in out.stderr
    assert not os.path.exists(os.path.join(pool.server.state, "password"))


def test_new_pool_sets_the_damaged_store_aside_and_starts_a_new_pool(tmp_path):
    with served(tmp_path) as pool:
        acknowledged_writes(pool, 3)
        old_uuid = pool.x.pool.get_uuid(pool.x.pool.get_all()[0])
    damage(pool.server, "WAL truncated")
    pool.server.extra = ["--new-pool"]
    pool.start()
    try:
        assert pool.x.pool.get_uuid(pool.x.pool.get_all()[0]) != old_uuid
        assert [n for n in os.listdir(pool.server.state) if n.startswith("pool.db-wal.set-aside-")]
    finally:
        pool.server.kill()
    pool.server.extra = []
    status, err = refused_start(pool.server, ["--new-pool"])  # the new pool is sound: never replaced
    assert status == 1 and "nothing to replace" in err


def test_every_acknowledged_write_survives_a_sigkill(tmp_path):
    with served(tmp_path) as pool:
        last = acknowledged_writes(pool)
    pool.start()
    try:
        assert pool.x.host.get_name_label(pool.x.host.get_all()[0]) == last
    finally:
        pool.server.kill()


def test_writes_are_refused_loudly_once_the_state_dir_is_deleted_under_the_shim(tmp_path):
    """Before: every later write answered Success, into a file nobody would read again."""
    with served(tmp_path) as pool:
        acknowledged_writes(pool, 2)
        host = pool.x.host.get_all()[0]
        shutil.rmtree(pool.server.state)
        with pytest.raises(XenAPI.Failure) as info:
            pool.x.host.set_name_label(host, "lost")
        assert info.value.details[0] == "INTERNAL_ERROR" and "removed or replaced" in info.value.details[1]
        assert pool.x.host.get_name_label(host) == "name-1"  # reads go on
    with open(os.path.join(os.path.dirname(pool.server.state), "state.log")) as f:
        assert "every write is refused from now on" in f.read()


def db(args):
    """``sm-clusterstack db ARGS`` as a process."""
    return subprocess.run([sys.executable, "-m", "sm_clusterstack.cli", "db"] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


@contextlib.contextmanager
def small_disk(tmp_path, size="3m"):
    """A tmpfs of ``size`` (mode 0700) at tmp_path/disk; unmounted at the end."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)])


def fill(disk):
    """Take every free byte of ``disk``; the filler's path."""
    filler = os.path.join(str(disk), "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_on_a_full_disk_reads_and_logins_go_on_and_writes_say_the_disk_is_full(tmp_path):
    """Before: every write, login included, answered INTERNAL_ERROR ["OperationalError: database or disk is full"]."""
    with small_disk(tmp_path) as disk, served(tmp_path, state=str(disk / "state")) as pool:
        host = pool.x.host.get_all()[0]
        filler = fill(disk)
        refusal, last = None, "host1"
        for n in range(2000):  # the WAL may have room for a few more: until it has none
            try:
                pool.x.host.set_name_label(host, "x" * 1000 + str(n))
                last = "x" * 1000 + str(n)
            except XenAPI.Failure as e:
                refusal = e.details
                break
        assert refusal is not None and refusal[0] == "INTERNAL_ERROR" and "disk" in refusal[1] \
            and "is full" in refusal[1], refusal
        session = pool.server.session()  # a login
        assert session.xenapi.host.get_name_label(host) == last  # nothing of the refused write
        assert session.xenapi.session.get_this_host(session.handle) == host
        os.unlink(filler)
        pool.x.host.set_name_label(host, "space again")
        assert session.xenapi.host.get_name_label(host) == "space again"


def test_serve_on_a_full_disk_says_so_in_one_line(tmp_path):
    with small_disk(tmp_path) as disk:
        with served(tmp_path, state=str(disk / "state")) as pool:
            acknowledged_writes(pool, 2)
        checkpointed(pool.server)
        fill(disk)
        status, err = refused_start(pool.server)
        assert status == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert "full" in err


def test_a_backup_taken_while_serving_is_restored_once_the_shim_stopped(tmp_path):
    backup = str(tmp_path / "pool.backup")
    with served(tmp_path) as pool:
        acknowledged_writes(pool, 5)
        taken = db(["backup", "--state", pool.server.state, backup])
        assert taken.returncode == 0 and "backed up pool" in taken.stdout, taken.stderr
        pool.x.host.set_name_label(pool.x.host.get_all()[0], "after the backup")
        busy = db(["restore", "--state", pool.server.state, backup])
        assert busy.returncode == 1 and "served by another shim" in busy.stderr
    done = db(["restore", "--state", pool.server.state, backup])
    assert done.returncode == 0 and "restored pool" in done.stdout, done.stderr
    pool.start()
    try:
        assert pool.x.host.get_name_label(pool.x.host.get_all()[0]) == "name-4"
    finally:
        pool.server.kill()


def test_the_marker_is_written_after_each_acknowledged_write(tmp_path):
    with served(tmp_path) as pool:
        acknowledged_writes(pool, 3)
        first = durable.read_marker(pool.server.state)
        acknowledged_writes(pool, 3)
        time.sleep(0.1)
        second = durable.read_marker(pool.server.state)
    assert first.pool_uuid == second.pool_uuid and second.generation >= first.generation + 3
