"""The shim's store: schema versions, the ha_cluster_stack upgrade, records."""

import os
import sqlite3

import pytest

from sm_clusterstack.xapi.rpc import context
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
