"""The shim's store: schema versions, the ha_cluster_stack upgrade, records."""

import os
import sqlite3

import pytest

from sm_clusterstack.xapi.rpc import context
from sm_clusterstack.xapi.db import durable
from sm_clusterstack.xapi.db import model
from sm_clusterstack.xapi.db import schema
from sm_clusterstack.xapi.db import store
from sm_clusterstack.xapi.db import records


def old_store(path):
    """A store as it was before multiple cluster managers (schema version 1), made by hand."""
    conn = sqlite3.connect(str(path / "pool.db"))
    for statement in schema.VERSION_1:
        conn.execute(statement)
    conn.execute("INSERT INTO host (ref, uuid, name_label, hostname, address) "
                 "VALUES ('OpaqueRef:h', 'hu', 'h', 'h', '127.0.0.1')")
    conn.execute("INSERT INTO pool (ref, uuid, master, ha_enabled) VALUES ('OpaqueRef:p', 'pu', 'OpaqueRef:h', 1)")
    conn.execute("INSERT INTO SM (ref, uuid, type, name_label, name_description, vendor, copyright, version, "
                 "required_api_version, capabilities, features, configuration, driver_filename) VALUES "
                 "('OpaqueRef:s', 'su', 'lvm', 'l', '', '', '', '', '1.0', '[]', '{}', '{}', '/x/LVMSR')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_upgrade_sets_ha_cluster_stack_to_xhad(tmp_path):
    old_store(tmp_path)
    db = store.Store(str(tmp_path))
    with db.read() as conn:
        assert schema.version(conn) == schema.LATEST
        pool = model.record(conn, "pool", "OpaqueRef:p")
        assert pool["ha_cluster_stack"] == "xhad" and pool["ha_enabled"] is True
        assert model.record(conn, "SM", "OpaqueRef:s")["required_cluster_stack"] == []


def test_upgrade_keeps_a_stack_already_recorded(tmp_path):
    db = store.Store(str(tmp_path))
    context.initialise(db, 1)
    with db.write() as conn:
        conn.execute("UPDATE pool SET ha_cluster_stack = 'corosync'")
    db.close()
    with store.Store(str(tmp_path)).read() as conn:
        assert records.pool_row(conn)["ha_cluster_stack"] == "corosync"


def test_new_store_is_latest_in_wal_mode_and_sound(tmp_path):
    db = store.Store(str(tmp_path))
    with db.read() as conn:
        assert schema.version(conn) == schema.LATEST
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.integrity_problems() == []


def test_store_files_are_private(tmp_path):
    db = store.Store(str(tmp_path / "state"))
    context.initialise(db, 1)
    assert os.stat(str(tmp_path / "state")).st_mode & 0o777 == 0o700
    for name in ("pool.db", "pool.db-wal"):
        assert os.stat(str(tmp_path / "state" / name)).st_mode & 0o777 == 0o600


def test_store_from_a_newer_program_is_refused(tmp_path):
    conn = sqlite3.connect(str(tmp_path / "pool.db"))
    conn.execute("PRAGMA user_version = %d" % (schema.LATEST + 1))
    conn.close()
    with pytest.raises(schema.SchemaError):
        store.Store(str(tmp_path))


def test_new_pool_has_master_first_and_default_stack(tmp_path):
    db = store.Store(str(tmp_path))
    assert context.initialise(db, 3) is True
    assert context.initialise(db, 3) is False
    with db.read() as conn:
        pool = model.records(conn, "pool")
        [record] = pool.values()
        hosts = model.records(conn, "host")
        assert record["master"] in hosts and len(hosts) == 3
        assert hosts[record["master"]]["name_label"] == "host1"
        assert record["ha_cluster_stack"] == "xhad" and record["ha_enabled"] is False
        assert all(ref.startswith("OpaqueRef:") and r["uuid"] for ref, r in hosts.items())


def test_pool_size_is_one_to_sixty_four(tmp_path):
    with pytest.raises(ValueError):
        context.initialise(store.Store(str(tmp_path)), 65)


def test_unknown_ref_is_handle_invalid_with_class(tmp_path):
    db = store.Store(str(tmp_path))
    with db.read() as conn:
        with pytest.raises(Exception) as e:
            model.record(conn, "PBD", "OpaqueRef:x")
    assert e.value.description == ["HANDLE_INVALID", "PBD", "OpaqueRef:x"]


def test_write_rolls_back_on_error(tmp_path):
    db = store.Store(str(tmp_path))
    context.initialise(db, 1)
    with pytest.raises(RuntimeError):
        with db.write() as conn:
            conn.execute("UPDATE pool SET name_label = 'changed'")
            raise RuntimeError("boom")
    with db.read() as conn:
        assert records.pool_row(conn)["name_label"] == ""


def test_hosts_in_database_order_are_in_descending_ref_order_as_xapi_lists_them(tmp_path):
    """``db_cache_impl.ml`` ``find_refs_with_filter_internal`` prepends while folding the ref map: descending."""
    db = store.Store(str(tmp_path))
    context.initialise(db, 5)
    with db.read() as conn:
        refs = [row["ref"] for row in records.hosts_in_database_order(conn)]
    assert refs == sorted(refs, reverse=True) and len(refs) == 5


# -- issue 22: durability ------------------------------------------------------------------------------------------

def test_every_connection_commits_with_synchronous_full(tmp_path):
    """SQLite's synchronous=FULL: a commit's WAL frames are on disk before it is acknowledged (NORMAL before)."""
    db = store.Store(str(tmp_path))
    with db.read() as conn:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_a_marked_store_counts_its_writes_and_marks_the_last_one_outside_the_database(tmp_path):
    db = store.Store(str(tmp_path / "state"), marked=True)
    context.initialise(db, 1)
    with db.write() as conn:
        conn.execute("UPDATE pool SET name_label = 'a'")
    with db.read() as conn:
        pool_uuid, generation = records.pool_row(conn)["uuid"], durable.generation_of(conn)
    assert generation == 2
    assert durable.read_marker(str(tmp_path / "state")) == durable.Marker(pool_uuid, 2)
    os.unlink(str(tmp_path / "state" / "pool.marker"))  # the one beside the state dir is enough
    assert durable.read_marker(str(tmp_path / "state")) == durable.Marker(pool_uuid, 2)


@pytest.mark.parametrize("record", [b"", b"garbage", durable.encode(durable.Marker("u", 7))[:-100] + b"x" * 100,
                                    durable.encode(durable.Marker("u", 7)).replace(b" 7 ", b" 8 ")])
def test_a_torn_or_altered_marker_record_is_no_marker(record):
    assert durable.decode(record) is None
    assert durable.decode(durable.encode(durable.Marker("u", 7))) == durable.Marker("u", 7)


def test_the_schema_check_names_a_missing_table_and_column(tmp_path):
    db = store.Store(str(tmp_path))
    with db.write() as conn:
        conn.execute("DROP TABLE message")
    with db.read() as conn:
        assert schema.problems(conn) == ["table message missing"]
    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA user_version = 99")
    assert schema.problems(conn) == ["schema version 99 (this program knows 1 to %d)" % schema.LATEST]


def test_check_refuses_a_store_behind_its_marker_and_a_missing_one(tmp_path):
    state = str(tmp_path / "state")
    db = store.Store(state, marked=True)
    context.initialise(db, 1)
    db.close()
    assert durable.check(state).generation == 1
    durable.MarkerWriter(state).write(durable.Marker(durable.read_marker(state).pool_uuid, 5))
    with pytest.raises(durable.Refused) as info:
        durable.check(state)
    assert "lost acknowledged writes" in str(info.value) and "--new-pool" in str(info.value)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(os.path.join(state, "pool.db" + suffix)):
            os.unlink(os.path.join(state, "pool.db" + suffix))
    with pytest.raises(durable.Refused) as info:
        durable.check(state)
    assert "is missing" in str(info.value)


def test_a_marked_store_refuses_writes_once_its_state_dir_is_replaced(tmp_path):
    state = tmp_path / "state"
    db = store.Store(str(state), marked=True)
    context.initialise(db, 1)
    state.rename(tmp_path / "moved")
    state.mkdir()
    with pytest.raises(store.StateReplaced):
        with db.write() as conn:
            conn.execute("UPDATE pool SET name_label = 'lost'")
    with db.read() as conn:  # reads go on
        assert records.pool_row(conn)["name_label"] == ""


def test_a_full_disk_is_disk_full_and_nothing_is_written(tmp_path):
    db = store.Store(str(tmp_path))
    context.initialise(db, 1)
    with pytest.raises(store.DiskFull) as info:
        with db.write() as conn:
            conn.execute("UPDATE pool SET name_label = 'half'")
            raise sqlite3.OperationalError("database or disk is full")
    assert info.value.code == "INTERNAL_ERROR" and "is full" in info.value.params[0]
    with db.read() as conn:
        assert records.pool_row(conn)["name_label"] == ""
