"""The pool's SQLite schema, versioned in ``PRAGMA user_version``.

Each entry of MIGRATIONS brings the store from version n-1 to n; opening a
store runs the missing ones in one transaction.  Version 1 is a pool as it
was before multiple cluster managers; version 2 adds ``pool.ha_cluster_stack``
(set to ``xhad`` on upgrade, as the design says) and
``SM.required_cluster_stack``.
"""

import sqlite3
import typing

VERSION_1 = [
    """CREATE TABLE pool (ref TEXT PRIMARY KEY, uuid TEXT UNIQUE NOT NULL,
        name_label TEXT NOT NULL DEFAULT '', name_description TEXT NOT NULL DEFAULT '',
        master TEXT NOT NULL, ha_enabled INTEGER NOT NULL DEFAULT 0,
        ha_configuration TEXT NOT NULL DEFAULT '{}', ha_statefiles TEXT NOT NULL DEFAULT '[]',
        ha_plan TEXT NOT NULL DEFAULT '', other_config TEXT NOT NULL DEFAULT '{}')""",
    """CREATE TABLE host (ref TEXT PRIMARY KEY, uuid TEXT UNIQUE NOT NULL,
        name_label TEXT NOT NULL, name_description TEXT NOT NULL DEFAULT '',
        hostname TEXT NOT NULL, address TEXT NOT NULL, other_config TEXT NOT NULL DEFAULT '{}')""",
    """CREATE TABLE SM (ref TEXT PRIMARY KEY, uuid TEXT UNIQUE NOT NULL, type TEXT UNIQUE NOT NULL,
        name_label TEXT NOT NULL, name_description TEXT NOT NULL, vendor TEXT NOT NULL,
        copyright TEXT NOT NULL, version TEXT NOT NULL, required_api_version TEXT NOT NULL,
        capabilities TEXT NOT NULL, features TEXT NOT NULL, configuration TEXT NOT NULL,
        driver_filename TEXT NOT NULL, other_config TEXT NOT NULL DEFAULT '{}')""",
    """CREATE TABLE SR (ref TEXT PRIMARY KEY, uuid TEXT UNIQUE NOT NULL, type TEXT NOT NULL,
        name_label TEXT NOT NULL, name_description TEXT NOT NULL, content_type TEXT NOT NULL,
        shared INTEGER NOT NULL, physical_size INTEGER NOT NULL DEFAULT 0,
        physical_utilisation INTEGER NOT NULL DEFAULT 0, virtual_allocation INTEGER NOT NULL DEFAULT 0,
        sm_config TEXT NOT NULL DEFAULT '{}', other_config TEXT NOT NULL DEFAULT '{}',
        creating INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE PBD (ref TEXT PRIMARY KEY, uuid TEXT UNIQUE NOT NULL,
        host TEXT NOT NULL REFERENCES host(ref), SR TEXT NOT NULL REFERENCES SR(ref),
        sr_type TEXT NOT NULL, device_config TEXT NOT NULL DEFAULT '{}',
        state TEXT NOT NULL DEFAULT 'detached', active INTEGER NOT NULL DEFAULT 0,
        other_config TEXT NOT NULL DEFAULT '{}',
        UNIQUE (host, SR))""",
    "CREATE INDEX pbd_sr ON PBD(SR)",
    # active = state is not 'detached'; a plain index, as SQLite 3.7 (CentOS 7 dom0s) has no partial ones
    "CREATE INDEX pbd_active_type ON PBD(sr_type, active, SR)",
    """CREATE TABLE VDI (ref TEXT PRIMARY KEY, uuid TEXT UNIQUE NOT NULL,
        SR TEXT NOT NULL REFERENCES SR(ref), name_label TEXT NOT NULL,
        name_description TEXT NOT NULL DEFAULT '', type TEXT NOT NULL DEFAULT 'user',
        virtual_size INTEGER NOT NULL DEFAULT 0, physical_utilisation INTEGER NOT NULL DEFAULT 0,
        location TEXT NOT NULL DEFAULT '', sm_config TEXT NOT NULL DEFAULT '{}',
        other_config TEXT NOT NULL DEFAULT '{}', managed INTEGER NOT NULL DEFAULT 1,
        read_only INTEGER NOT NULL DEFAULT 0, sharable INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX vdi_sr ON VDI(SR)",
    """CREATE TABLE session (ref TEXT PRIMARY KEY, uuid TEXT UNIQUE NOT NULL,
        this_host TEXT NOT NULL, this_user TEXT NOT NULL, originator TEXT NOT NULL DEFAULT '',
        last_active REAL NOT NULL, internal INTEGER NOT NULL DEFAULT 0)""",
]

VERSION_2 = [
    "ALTER TABLE pool ADD COLUMN ha_cluster_stack TEXT NOT NULL DEFAULT ''",
    "UPDATE pool SET ha_cluster_stack = 'xhad' WHERE ha_cluster_stack = ''",
    "ALTER TABLE SM ADD COLUMN required_cluster_stack TEXT NOT NULL DEFAULT '[]'",
]

# Version 3: what xapi's HA needs of a host: its management PIF (xhad.conf's interfaces and
# address), host_metrics (liveness from the cluster stack), the host's HA fields, pool
# messages, and the pool's current HA operation and its disable journal.
VERSION_3 = [
    """CREATE TABLE PIF (ref TEXT PRIMARY KEY, uuid TEXT UNIQUE NOT NULL, host TEXT NOT NULL REFERENCES host(ref),
        device TEXT NOT NULL, bridge TEXT NOT NULL, IP TEXT NOT NULL DEFAULT '',
        netmask TEXT NOT NULL DEFAULT '', management INTEGER NOT NULL DEFAULT 0,
        currently_attached INTEGER NOT NULL DEFAULT 1, other_config TEXT NOT NULL DEFAULT '{}')""",
    "CREATE INDEX pif_host ON PIF(host)",
    """CREATE TABLE host_metrics (ref TEXT PRIMARY KEY, uuid TEXT UNIQUE NOT NULL,
        host TEXT UNIQUE NOT NULL REFERENCES host(ref), live INTEGER NOT NULL DEFAULT 0,
        last_updated REAL NOT NULL DEFAULT 0, other_config TEXT NOT NULL DEFAULT '{}')""",
    "ALTER TABLE host ADD COLUMN ha_statefiles TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE host ADD COLUMN ha_network_peers TEXT NOT NULL DEFAULT '[]'",
    """CREATE TABLE message (ref TEXT PRIMARY KEY, uuid TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
        priority INTEGER NOT NULL, cls TEXT NOT NULL, obj_uuid TEXT NOT NULL, timestamp REAL NOT NULL,
        body TEXT NOT NULL)""",
    "ALTER TABLE pool ADD COLUMN ha_operation TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE pool ADD COLUMN ha_disable_plan TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE pool ADD COLUMN ha_host_failures_to_tolerate INTEGER NOT NULL DEFAULT 0",
    # host metrics of the hosts a version-2 store already has: live (no HA ran them yet)
    """INSERT INTO host_metrics (ref, uuid, host, live, last_updated)
        SELECT 'OpaqueRef:' || lower(hex(randomblob(16))), lower(hex(randomblob(16))), ref, 1, 0 FROM host""",
]

# Version 4: the processes the shim runs (``runs``): a restart ends those of a dead instance.
VERSION_4 = [
    """CREATE TABLE run (token TEXT PRIMARY KEY, what TEXT NOT NULL, started REAL NOT NULL,
        pgid INTEGER, leader_start INTEGER)""",
]

# Version 5: the change record, xapi's event generations (``ocaml/database/db_cache_types.ml`` ``Stat``): one
# row per change, its id the generation; the objects a store already holds are recorded as added.
EVENT_CLASSES = ("pool", "host", "PIF", "host_metrics", "message", "SM", "SR", "PBD", "VDI")  # table = class
VERSION_5 = [
    """CREATE TABLE event (id INTEGER PRIMARY KEY AUTOINCREMENT, cls TEXT NOT NULL, ref TEXT NOT NULL,
        op TEXT NOT NULL, ts REAL NOT NULL)""",
] + ["INSERT INTO event (cls, ref, op, ts) SELECT '%s', ref, 'add', %s FROM %s ORDER BY rowid"
     % (table, "(julianday('now') - 2440587.5) * 86400.0", table) for table in EVENT_CLASSES]

# Version 6: the store's generation, one more at every write transaction; the pool's marker outside the
# database (``durable``) holds the last one acknowledged, so that a store that lost writes is found out.
VERSION_6 = [
    "CREATE TABLE generation (n INTEGER NOT NULL)",
    "INSERT INTO generation (n) VALUES (0)",
]

# Version 7: host.enabled (xapi's Host.disable and Host.enable; a host is disabled before its shutdown or reboot)
# and whether its reboot enables it again (xapi's local database key host_auto_enable; not a field).
VERSION_7 = [
    "ALTER TABLE host ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE host ADD COLUMN auto_enable INTEGER NOT NULL DEFAULT 1",
]

MIGRATIONS = [VERSION_1, VERSION_2, VERSION_3, VERSION_4, VERSION_5, VERSION_6, VERSION_7]  # [n - 1]: n - 1 to n
LATEST = len(MIGRATIONS)


class SchemaError(Exception):
    """A store this program cannot use (newer than it knows, or corrupt)."""


def version(conn: sqlite3.Connection) -> int:
    """The schema version of the open store."""
    return conn.execute("PRAGMA user_version").fetchone()[0]


def columns_of(conn: sqlite3.Connection) -> typing.Dict[str, typing.List[str]]:
    """{table: its column names} of the open store."""
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: [r[1] for r in conn.execute("PRAGMA table_info(%s)" % t)] for t in tables}


def expected_columns(number: int) -> typing.Dict[str, typing.List[str]]:
    """{table: columns} a store of schema version ``number`` has (the migrations run on an empty store)."""
    conn = sqlite3.connect(":memory:")
    try:
        for statements in MIGRATIONS[:number]:
            for statement in statements:
                conn.execute(statement)
        return columns_of(conn)
    finally:
        conn.close()


def problems(conn: sqlite3.Connection) -> typing.List[str]:
    """How the open store differs from the schema its version says: a version out of range, a table or
    column missing; [] when it has all of them."""
    number = version(conn)
    if not 1 <= number <= LATEST:
        return ["schema version %d (this program knows 1 to %d)" % (number, LATEST)]
    found = columns_of(conn)
    wrong = []
    for table, wanted in sorted(expected_columns(number).items()):
        if table not in found:
            wrong.append("table %s missing" % table)
        elif set(wanted) - set(found[table]):
            wrong.append("table %s lacks %s" % (table, ", ".join(sorted(set(wanted) - set(found[table])))))
    return wrong


def migrate(conn: sqlite3.Connection, target: int = LATEST) -> typing.List[int]:
    """Bring the store up to ``target`` in one transaction; return the versions applied."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = version(conn)
        if current > LATEST:
            raise SchemaError("store has schema version %d; this program knows up to %d"
                              % (current, LATEST))
        applied = []
        for number in range(current + 1, target + 1):
            for statement in MIGRATIONS[number - 1]:
                conn.execute(statement)
            applied.append(number)
        if max(current, target) >= 5:
            install_event_triggers(conn)
        conn.execute("PRAGMA user_version = %d" % max(current, target))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applied


# -- the change record's triggers ----------------------------------------------------------------------------------

# Tables with no events: a session (``gen_events:false`` in xapi's datamodel.ml), the shim's runs, the record
# itself, the store's generation counter.
NO_EVENTS = ("session", "run", "event", "generation")
# A child's reference column -> the parent whose record lists it (host.PBDs, SR.PBDs, SR.VDIs, host.PIFs,
# host.metrics): a child added, removed or moved changes its parents too (xapi's ``Eventgen`` relations).
RELATED = {"PBD": ("host", "SR"), "VDI": ("SR",), "PIF": ("host",), "host_metrics": ("host",)}
KEEP_EVENTS = 100000  # changes the record keeps; older ones are pruned, 1,000 at a time
NOW = "(julianday('now') - 2440587.5) * 86400.0"


def install_event_triggers(conn: sqlite3.Connection) -> None:
    """(Re)create the triggers that record every change of every event table, from its columns now.

    Run at each migration, so a column a later version adds is watched too.
    An update that changes no column is no change (xapi's ``write_field``
    writes nothing when the value is the same).
    """
    for table in EVENT_CLASSES:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(%s)" % table)]
        for statement in event_trigger_sql(table, columns):
            conn.execute(statement)
    conn.execute("DROP TRIGGER IF EXISTS event_prune")
    conn.execute("CREATE TRIGGER event_prune AFTER INSERT ON event WHEN NEW.id %% 1000 = 0 BEGIN "
                 "DELETE FROM event WHERE id <= NEW.id - %d; END" % KEEP_EVENTS)


def event_trigger_sql(table: str, columns: typing.List[str]) -> typing.List[str]:
    """The statements that (re)create ``table``'s add, mod and del triggers."""
    def note(cls, ref, op, when=""):
        return "INSERT INTO event (cls, ref, op, ts) SELECT '%s', %s, '%s', %s%s; " % (
            cls, ref, op, NOW, " WHERE " + when if when else "")

    parents = RELATED.get(table, ())
    changed = " OR ".join("OLD.%s IS NOT NEW.%s" % (c, c) for c in columns)
    add = note(table, "NEW.ref", "add") + "".join(note(p, "NEW.%s" % p, "mod") for p in parents)
    mod = (note(table, "NEW.ref", "mod")
           + "".join(note(p, "OLD.%s" % p, "mod", "OLD.%s IS NOT NEW.%s" % (p, p))
                     + note(p, "NEW.%s" % p, "mod", "OLD.%s IS NOT NEW.%s" % (p, p)) for p in parents))
    delete = note(table, "OLD.ref", "del") + "".join(note(p, "OLD.%s" % p, "mod") for p in parents)
    statements = []
    for op, when, body in (("add", "AFTER INSERT", add), ("mod", "AFTER UPDATE", mod), ("del", "AFTER DELETE", delete)):
        name = "event_%s_%s" % (op, table)
        condition = " WHEN %s" % changed if op == "mod" else ""
        statements.append("DROP TRIGGER IF EXISTS %s" % name)
        statements.append("CREATE TRIGGER %s %s ON %s%s BEGIN %sEND" % (name, when, table, condition, body))
    return statements
