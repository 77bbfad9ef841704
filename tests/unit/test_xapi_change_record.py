"""The change record and what event.from makes of it.

``ocaml/xapi/xapi_event.ml``: ``Token.of_string``/``to_string``,
``Subscription.of_string``, ``collect_events`` (add when created after the
token, else mod, del when deleted after and created before);
``ocaml/database/db_cache_impl.ml`` ``write_field_locked`` (a write of the
same value is no change); ``ocaml/xapi/eventgen.ml`` (a child's reference
changes its parent's record: events for both).
"""

import sqlite3

import pytest

from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.db import changes, records, schema, store
from sm_clusterstack.xapi.rpc import context


@pytest.mark.parametrize("text,value", [
    ("0", 0), ("00000000000000000042", 42), ("-3", -3), ("+3", 3), ("1_000", 1000), ("0x1F", 31), ("0o17", 15),
    ("0b101", 5), ("0u18446744073709551615", -1), ("9223372036854775807", (1 << 63) - 1),
    ("-9223372036854775808", -(1 << 63)),
])
def test_int64_of_string_reads_what_ocaml_reads(text, value):
    assert changes.int64_of_string(text) == value


@pytest.mark.parametrize("text", ["", " 1", "1 ", "_1", "1.0", "9223372036854775808", "0x", "abc", "\u0661"])
def test_int64_of_string_refuses_what_ocaml_refuses(text):
    with pytest.raises(ValueError):
        changes.int64_of_string(text)


def test_a_token_is_two_zero_padded_generations_and_empty_is_zero():
    assert changes.format_token(42) == "00000000000000000042,00000000000000000000"
    assert changes.parse_token(changes.format_token(42, 7)) == (42, 7)
    assert changes.parse_token("") == (0, 0)


@pytest.mark.parametrize("token", ["bogus", "1", "1,2,3", ",", "1,", "a,b", "1;2", " 1,2"])
def test_a_bogus_token_is_event_from_token_parse_failure_with_the_token(token):
    with pytest.raises(XenAPIError) as e:
        changes.parse_token(token)
    assert e.value.description == ["EVENT_FROM_TOKEN_PARSE_FAILURE", token]


def test_subscriptions_compare_classes_in_lower_case_and_select_objects():
    subs = changes.Subscription(["SR", "host/OpaqueRef:a"])
    assert subs.matches("SR", "x") and subs.matches("sr", "y")
    assert subs.matches("host", "OpaqueRef:a") and not subs.matches("host", "OpaqueRef:b")
    assert subs.table_matches("host") and not subs.table_matches("pool")
    assert changes.Subscription(["*"]).matches("anything", "x")
    assert changes.Subscription(["task"]).is_task_only() and not changes.Subscription(["*"]).is_task_only()


class C(object):
    def __init__(self, change_id, cls, ref, op):
        self.id, self.cls, self.ref, self.op = change_id, cls, ref, op


def collect(rows, since=0, names=("*",)):
    entries, last = changes.collect_events([C(*r) for r in rows], since, changes.Subscription(names))
    return [(e.op, e.ref, e.id) for e in entries], last


def test_one_event_per_object_add_when_created_since_else_mod_with_its_generation():
    rows = [(1, "SR", "a", "add"), (2, "SR", "b", "mod"), (3, "SR", "a", "mod"), (4, "SR", "b", "mod")]
    assert collect(rows) == ([("add", "a", 1), ("mod", "b", 4)], 4)
    assert collect(rows, since=1) == ([("mod", "a", 3), ("mod", "b", 4)], 4)


def test_created_and_deleted_since_the_token_is_no_event_and_deleted_only_is_del():
    rows = [(5, "SR", "a", "add"), (6, "SR", "a", "del"), (7, "SR", "b", "mod"), (8, "SR", "b", "del")]
    assert collect(rows, since=4) == ([("del", "b", 8)], 8)


def test_the_new_generation_is_the_newest_selected_change_or_the_token():
    rows = [(5, "SR", "a", "mod"), (6, "host", "h", "mod")]
    assert collect(rows, since=4, names=["sr"]) == ([("mod", "a", 5)], 5)
    assert collect(rows, since=4, names=["pool"]) == ([], 4)


def test_events_come_in_generation_order():
    rows = [(1, "host", "h", "add"), (2, "SR", "s", "add"), (3, "host", "h", "mod"), (4, "pool", "p", "mod")]
    assert [r for _, r, _ in collect(rows, since=0)[0]] == ["h", "s", "p"]


# -- the record itself, in a real store --------------------------------------------------------------------------

@pytest.fixture
def db(tmp_path):
    pool_store = store.Store(str(tmp_path))
    context.initialise(pool_store, 2)
    return pool_store


def since(db, generation):
    with db.read() as conn:
        return [(c.cls, c.op) for c in records.changes_since(conn, generation)]


def now(db):
    with db.read() as conn:
        return records.current_generation(conn)


def test_every_table_either_records_its_changes_or_is_named_as_not_recording(db):
    """A table a later schema adds must be put in EVENT_CLASSES (and watched) or in NO_EVENTS: never forgotten."""
    with db.read() as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert tables - {"sqlite_sequence"} == set(schema.EVENT_CLASSES) | set(schema.NO_EVENTS)
    assert {"event_%s_%s" % (op, t) for op in ("add", "mod", "del") for t in schema.EVENT_CLASSES} <= triggers


def test_the_pool_made_at_start_is_recorded_as_added(db):
    assert sorted(since(db, 0)) == sorted([("host", "add")] * 2 + [("host_metrics", "add"), ("host", "mod")] * 2
                                          + [("pool", "add")])


def test_any_write_path_is_recorded_and_a_write_of_the_same_value_is_not(db):
    start = now(db)
    with db.write() as conn:
        conn.execute("UPDATE host SET name_label = 'x' WHERE name_label = 'host1'")  # raw SQL, no helper
        conn.execute("UPDATE host SET name_label = name_label")  # no change
        records.set_pool(conn, name_description="d")
    assert since(db, start) == [("host", "mod"), ("pool", "mod")]


def test_a_child_added_moved_or_deleted_changes_its_parents(db):
    with db.read() as conn:
        host1, host2 = records.host_refs(conn)
    start = now(db)
    with db.write() as conn:
        store.insert(conn, "SR", {"ref": "OpaqueRef:s", "uuid": "s", "type": "lvm", "name_label": "",
                                  "name_description": "", "content_type": "", "shared": True})
        store.insert(conn, "PBD", {"ref": "OpaqueRef:p", "uuid": "p", "host": host1, "SR": "OpaqueRef:s",
                                   "sr_type": "lvm"})
    assert since(db, start) == [("SR", "add"), ("PBD", "add"), ("host", "mod"), ("SR", "mod")]
    start = now(db)
    with db.write() as conn:
        records.set_pbd_state(conn, "OpaqueRef:p", "attached")  # not a reference: the PBD only
        store.update(conn, "PBD", "OpaqueRef:p", host=host2)
        store.delete(conn, "PBD", "OpaqueRef:p")
    assert since(db, start) == [("PBD", "mod"), ("PBD", "mod"), ("host", "mod"), ("host", "mod"),
                                ("PBD", "del"), ("host", "mod"), ("SR", "mod")]


def test_a_rolled_back_write_records_nothing_and_generations_have_no_gap(db):
    start = now(db)
    with pytest.raises(RuntimeError):
        with db.write() as conn:
            records.set_pool(conn, name_label="gone")
            raise RuntimeError()
    with db.write() as conn:
        records.set_pool(conn, name_label="kept")
    with db.read() as conn:
        assert [c.id for c in records.changes_since(conn, start)] == [start + 1]


def test_a_version_4_store_gets_its_objects_recorded_as_added(tmp_path):
    path = str(tmp_path / "pool.db")
    conn = sqlite3.connect(path)
    for version in schema.MIGRATIONS[:4]:
        for statement in version:
            conn.execute(statement)
    conn.execute("INSERT INTO host (ref, uuid, name_label, hostname, address) "
                 "VALUES ('OpaqueRef:h', 'h', 'h', 'h', 'a')")
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    assert since(store.Store(str(tmp_path)), 0) == [("host", "add")]


def test_the_record_keeps_its_last_changes_and_the_generation_never_goes_back(db):
    start = now(db)
    with db.write() as conn:
        conn.execute("DROP TRIGGER event_prune")
        conn.execute("CREATE TRIGGER event_prune AFTER INSERT ON event WHEN NEW.id % 10 = 0 BEGIN "
                     "DELETE FROM event WHERE id <= NEW.id - 5; END")
        for n in range(30):
            records.set_pool(conn, name_label=str(n))
    with db.read() as conn:
        assert records.current_generation(conn) - records.oldest_change(conn) < 15
        assert records.current_generation(conn) == start + 30
