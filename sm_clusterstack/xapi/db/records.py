"""Every query the shim makes, by name, with the typed records it hands out: the only SQL outside the store.

A function here takes the connection of a transaction the caller opened
(``store.read()`` or ``store.write()``), so a caller composes several into
one consistent snapshot or one atomic change.  What a row means is
decided once here: a host's liveness (``host_metrics.live``), "the
master's attached PBD of an SR", the PBDs that count as attached for the
one-stack rule (``active``), the HA plan (``HAPlan``) and the disable
journal.  ``store`` keeps the generic row helpers (insert, update,
delete, row by ref).
"""

import sqlite3
import time
import typing

from sm_clusterstack.xapi.db import store as store_mod

Row = sqlite3.Row
PBD_BUSY_STATES = ("plugging", "unplugging", "destroying")


# -- pool ---------------------------------------------------------------------------------------------------------

def pool_row(conn: sqlite3.Connection) -> typing.Optional[Row]:
    """The pool's row (None before the pool is created)."""
    return conn.execute("SELECT * FROM pool").fetchone()


def master(conn: sqlite3.Connection) -> str:
    """The master host's ref."""
    return pool_row(conn)["master"]


def set_pool(conn: sqlite3.Connection, **fields: typing.Any) -> None:
    """Set ``fields`` on the pool's row."""
    store_mod.update(conn, "pool", pool_row(conn)["ref"], **fields)


def clear_ha_operation(conn: sqlite3.Connection) -> None:
    """Forget the HA operation a dead instance was running (its plan or journal stays)."""
    conn.execute("UPDATE pool SET ha_operation = ''")


def pool_stacks(conn: sqlite3.Connection) -> typing.List[str]:
    """``ha_cluster_stack`` of every pool row (one in a healthy store)."""
    return [r[0] for r in conn.execute("SELECT ha_cluster_stack FROM pool")]


def pools_without_stack(conn: sqlite3.Connection) -> int:
    """How many pool rows have no ``ha_cluster_stack`` (a store from before the field)."""
    return conn.execute("SELECT COUNT(*) FROM pool WHERE ha_cluster_stack = ''").fetchone()[0]


def default_empty_stack(conn: sqlite3.Connection, stack: str) -> None:
    """Set ``ha_cluster_stack`` to ``stack`` where it is empty (the upgrade's migration)."""
    conn.execute("UPDATE pool SET ha_cluster_stack = ? WHERE ha_cluster_stack = ''", (stack,))


# -- the HA plan and the disable journal ----------------------------------------------------------------------------

class HAPlan(object):
    """What enable_ha decided and has done so far, kept in ``pool.ha_plan`` until it commits or rolls back.

    ``attached_on`` maps a VDI ref to the hosts it is attached on;
    ``paths`` a host ref to its statefile's path there; ``hosts_started``
    lists the hosts whose daemon was started.  Stored as the JSON object
    of these fields (the format earlier versions wrote).
    """

    FIELDS = ("stack", "heartbeat_sr", "configuration", "timeout", "generation", "statefile", "metadata",
              "attached_on", "paths", "hosts_started")
    __slots__ = FIELDS

    def __init__(self, stack: str, heartbeat_sr: str = "",
                 configuration: typing.Optional[typing.Dict[str, str]] = None, timeout: int = 0,
                 generation: str = "", statefile: typing.Optional[str] = None, metadata: typing.Optional[str] = None,
                 attached_on: typing.Optional[typing.Dict[str, typing.List[str]]] = None,
                 paths: typing.Optional[typing.Dict[str, str]] = None,
                 hosts_started: typing.Optional[typing.List[str]] = None) -> None:
        self.stack = stack
        self.heartbeat_sr = heartbeat_sr
        self.configuration = dict(configuration or {})
        self.timeout = timeout
        self.generation = generation
        self.statefile = statefile
        self.metadata = metadata
        self.attached_on = dict(attached_on or {})
        self.paths = dict(paths or {})
        self.hosts_started = list(hosts_started or [])

    def to_json(self) -> typing.Dict[str, typing.Any]:
        return {name: getattr(self, name) for name in self.FIELDS}

    @classmethod
    def from_json(cls, value: typing.Any) -> typing.Optional["HAPlan"]:
        """The plan stored as ``value`` (a decoded JSON object), or None for no plan."""
        if not value:
            return None
        return cls(**{name: value.get(name) for name in cls.FIELDS if name in value})


def ha_plan(conn: sqlite3.Connection) -> typing.Optional[HAPlan]:
    """The enable_ha plan in progress, or None."""
    return HAPlan.from_json(store_mod.loads(pool_row(conn)["ha_plan"]))


def set_ha_plan(conn: sqlite3.Connection, plan: typing.Optional[HAPlan], **fields: typing.Any) -> None:
    """Store ``plan`` (None clears it), with other pool ``fields`` in the same write."""
    set_pool(conn, ha_plan=plan.to_json() if plan is not None else "", **fields)


def disable_journal(conn: sqlite3.Connection) -> typing.Optional[typing.Dict[str, typing.Any]]:
    """The journal of a disable_ha in progress (``pool.ha_disable_plan``), or None."""
    return store_mod.loads(pool_row(conn)["ha_disable_plan"]) or None


def set_disable_journal(conn: sqlite3.Connection, journal: typing.Optional[typing.Dict[str, typing.Any]],
                        **fields: typing.Any) -> None:
    """Store the disable journal (None clears it), with other pool ``fields`` in the same write."""
    set_pool(conn, ha_disable_plan=journal if journal else "", **fields)


def running_ha_operation(conn: sqlite3.Connection) -> str:
    """"enable" or "disable" while one runs or is left half-done, else ""."""
    pool = pool_row(conn)
    if pool["ha_operation"]:
        return pool["ha_operation"]
    if store_mod.loads(pool["ha_plan"]):
        return "enable"
    return "disable" if store_mod.loads(pool["ha_disable_plan"]) else ""


# -- hosts and their liveness -------------------------------------------------------------------------------------

def host_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM host").fetchone()[0]


def host_refs(conn: sqlite3.Connection) -> typing.List[str]:
    """Every host's ref, in ref order."""
    return [r[0] for r in conn.execute("SELECT ref FROM host ORDER BY ref")]


def hosts(conn: sqlite3.Connection) -> typing.List[Row]:
    """Every host row, in ref order."""
    return conn.execute("SELECT * FROM host ORDER BY ref").fetchall()


def hosts_in_database_order(conn: sqlite3.Connection) -> typing.List[Row]:
    """Every host row as xapi's ``Db.Host.get_all_records`` lists them: descending ref order.

    ``db_cache_impl.ml`` ``find_refs_with_filter_internal`` folds the table
    (a map, ascending by ref) prepending each ref, so the list comes out
    descending; xhad.conf lists the hosts in that order.
    """
    return conn.execute("SELECT * FROM host ORDER BY ref DESC").fetchall()


def hosts_master_first(conn: sqlite3.Connection) -> typing.List[Row]:
    """Every host row, the master first, then in ref order."""
    return conn.execute("SELECT * FROM host ORDER BY host.ref = ? DESC, ref", (master(conn),)).fetchall()


def hosts_in_creation_order(conn: sqlite3.Connection) -> typing.List[Row]:
    """Every host row in the order the pool created them (host1 first)."""
    return conn.execute("SELECT * FROM host ORDER BY rowid").fetchall()


def hosts_named(conn: sqlite3.Connection, key: str) -> typing.List[Row]:
    """The host rows whose uuid or name_label is ``key``."""
    return conn.execute("SELECT * FROM host WHERE uuid = ? OR name_label = ?", (key, key)).fetchall()


def is_live(conn: sqlite3.Connection, host: str) -> bool:
    """Whether ``host_metrics.live`` of ``host`` is true (False for no metrics)."""
    found = conn.execute("SELECT live FROM host_metrics WHERE host = ?", (host,)).fetchone()
    return bool(found and found[0])


def set_live(conn: sqlite3.Connection, host: str, live: bool, now: typing.Optional[float] = None) -> None:
    """Record ``host``'s liveness and when it changed; nothing when it is unchanged (xapi's
    ``process_liveset_on_master`` sets ``live`` only when it differs: no event every monitor tick)."""
    conn.execute("UPDATE host_metrics SET live = ?, last_updated = ? WHERE host = ? AND live IS NOT ?",
                 (bool(live), time.time() if now is None else now, host, bool(live)))


def set_host_statefiles(conn: sqlite3.Connection, statefiles: typing.List[str],
                        host: typing.Optional[str] = None) -> None:
    """``host.ha_statefiles`` of ``host`` (of every host when None)."""
    if host is None:
        conn.execute("UPDATE host SET ha_statefiles = ?", (store_mod.dumps(statefiles),))
    else:
        conn.execute("UPDATE host SET ha_statefiles = ? WHERE ref = ?", (store_mod.dumps(statefiles), host))


def set_network_peers(conn: sqlite3.Connection, host: str, peers: typing.List[str]) -> None:
    conn.execute("UPDATE host SET ha_network_peers = ? WHERE ref = ?", (store_mod.dumps(peers), host))


def management_pif(conn: sqlite3.Connection, host: str) -> typing.Optional[Row]:
    """The management PIF row of ``host``, or None."""
    return conn.execute("SELECT * FROM PIF WHERE host = ? AND management = 1 ORDER BY ref", (host,)).fetchone()


# -- SM -----------------------------------------------------------------------------------------------------------

def sm_row(conn: sqlite3.Connection, sr_type: str) -> typing.Optional[Row]:
    """The SM row of SR type ``sr_type``, or None."""
    return conn.execute("SELECT * FROM SM WHERE type = ?", (sr_type,)).fetchone()


def sm_features(conn: sqlite3.Connection, sr_type: str) -> typing.Dict[str, typing.Any]:
    """The SM features of ``sr_type`` ({} when unknown)."""
    row = sm_row(conn, sr_type)
    return (store_mod.loads(row["features"]) or {}) if row is not None else {}


def required_of(conn: sqlite3.Connection, sr_type: str) -> typing.List[str]:
    """The required_cluster_stack of SM type ``sr_type`` ([] when none or unknown)."""
    row = sm_row(conn, sr_type)
    return store_mod.loads(row["required_cluster_stack"]) if row is not None else []


def sm_refs_by_type(conn: sqlite3.Connection) -> typing.Dict[str, str]:
    return {r["type"]: r["ref"] for r in conn.execute("SELECT type, ref FROM SM")}


def constrained_sm_types(conn: sqlite3.Connection) -> typing.List[typing.Tuple[str, typing.List[str]]]:
    """(type, required stacks) of every SM type that requires a stack, by type."""
    return [(r[0], store_mod.loads(r[1])) for r in conn.execute(
        "SELECT type, required_cluster_stack FROM SM WHERE required_cluster_stack != '[]' ORDER BY type")]


# -- SRs ------------------------------------------------------------------------------------------------------------

def sr_refs(conn: sqlite3.Connection) -> typing.List[str]:
    return [r[0] for r in conn.execute("SELECT ref FROM SR ORDER BY ref")]


def sr_uuid_taken(conn: sqlite3.Connection, uuid: str) -> bool:
    return conn.execute("SELECT 1 FROM SR WHERE uuid = ?", (uuid,)).fetchone() is not None


def sr_type_in_use(conn: sqlite3.Connection, sr_type: str) -> bool:
    return conn.execute("SELECT 1 FROM SR WHERE type = ?", (sr_type,)).fetchone() is not None


def srs_being_created(conn: sqlite3.Connection) -> typing.List[str]:
    """The SRs whose SR.create did not finish."""
    return [r[0] for r in conn.execute("SELECT ref FROM SR WHERE creating = 1")]


def srs_with_stacks(conn: sqlite3.Connection) -> typing.List[Row]:
    """(ref, uuid, name_label, type, required_cluster_stack JSON or None, physical_size, physical_utilisation)
    of every SR, by ref."""
    return conn.execute("SELECT SR.ref, SR.uuid, SR.name_label, SR.type, SM.required_cluster_stack, "
                        "SR.physical_size, SR.physical_utilisation "
                        "FROM SR LEFT JOIN SM ON SM.type = SR.type ORDER BY SR.ref").fetchall()


def delete_sr_children(conn: sqlite3.Connection, sr: str) -> None:
    """Delete the VDIs and PBDs of ``sr`` (before the SR itself)."""
    conn.execute("DELETE FROM VDI WHERE SR = ?", (sr,))
    conn.execute("DELETE FROM PBD WHERE SR = ?", (sr,))


# -- PBDs -----------------------------------------------------------------------------------------------------------

def pbd_of(conn: sqlite3.Connection, host: str, sr: str) -> typing.Optional[Row]:
    """The PBD row joining ``host`` and ``sr``, or None."""
    return conn.execute("SELECT * FROM PBD WHERE host = ? AND SR = ?", (host, sr)).fetchone()


def pbds_master_first(conn: sqlite3.Connection, sr: str) -> typing.List[Row]:
    """Every PBD row of ``sr``, the master's first."""
    return conn.execute("SELECT * FROM PBD WHERE SR = ? ORDER BY host = ? DESC, ref", (sr, master(conn))).fetchall()


def attached_pbd(conn: sqlite3.Connection, sr: str) -> typing.Optional[Row]:
    """The master's attached PBD of ``sr``, else another attached one, else None (where xapi runs SR ops)."""
    return conn.execute("SELECT * FROM PBD WHERE SR = ? AND state = 'attached' ORDER BY host = ? DESC, ref",
                        (sr, master(conn))).fetchone()


def sr_has_pbd_in(conn: sqlite3.Connection, sr: str, state: str) -> bool:
    return conn.execute("SELECT 1 FROM PBD WHERE SR = ? AND state = ?", (sr, state)).fetchone() is not None


def sr_has_pbd_not_detached(conn: sqlite3.Connection, sr: str) -> bool:
    return conn.execute("SELECT 1 FROM PBD WHERE SR = ? AND state != 'detached'", (sr,)).fetchone() is not None


def pbd_refs_in(conn: sqlite3.Connection, sr: str, state: str) -> typing.List[str]:
    return [r[0] for r in conn.execute("SELECT ref FROM PBD WHERE SR = ? AND state = ?", (sr, state))]


def busy_pbds(conn: sqlite3.Connection) -> typing.List[Row]:
    """The PBDs some operation was plugging, unplugging or destroying."""
    return conn.execute("SELECT * FROM PBD WHERE state IN (?, ?, ?)", PBD_BUSY_STATES).fetchall()


def srs_with_pbds_in(conn: sqlite3.Connection, state: str) -> typing.List[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT SR FROM PBD WHERE state = ? ORDER BY SR", (state,))]


def srs_not_detached(conn: sqlite3.Connection) -> typing.Set[str]:
    """The SRs with a PBD that is not detached."""
    return {r[0] for r in conn.execute("SELECT DISTINCT SR FROM PBD WHERE state != 'detached'")}


def first_active_sr_of_type(conn: sqlite3.Connection, sr_type: str) -> typing.Optional[str]:
    """The lowest ref of an SR of ``sr_type`` with a PBD that counts as attached (``active``), or None."""
    row = conn.execute("SELECT SR FROM PBD WHERE sr_type = ? AND active = 1 ORDER BY SR LIMIT 1",
                       (sr_type,)).fetchone()
    return row[0] if row is not None else None


def set_pbd_state(conn: sqlite3.Connection, pbd: str, now: str, was: typing.Optional[str] = None,
                  detached: str = "detached") -> None:
    """Set a PBD's state (and ``active``, its indexed "not detached"), if it is in ``was`` when given."""
    sql = "UPDATE PBD SET state = ?, active = ? WHERE ref = ?" + (" AND state = ?" if was else "")
    conn.execute(sql, (now, int(now != detached), pbd) + ((was,) if was else ()))


# -- VDIs -----------------------------------------------------------------------------------------------------------

def vdi_uuid_taken(conn: sqlite3.Connection, uuid: str) -> bool:
    return conn.execute("SELECT 1 FROM VDI WHERE uuid = ?", (uuid,)).fetchone() is not None


def unlocated_vdis(conn: sqlite3.Connection, types: typing.Sequence[str]) -> typing.List[Row]:
    """VDIs of ``types`` whose vdi_create never answered a location."""
    marks = ",".join("?" * len(types))
    return conn.execute("SELECT * FROM VDI WHERE location = '' AND type IN (%s)" % marks, tuple(types)).fetchall()


def reusable_vdi(conn: sqlite3.Connection, sr: str, vdi_type: str, minimum: int) -> typing.Optional[str]:
    """A created VDI of ``vdi_type`` on ``sr`` of at least ``minimum`` bytes (the lowest ref), or None."""
    found = conn.execute("SELECT ref FROM VDI WHERE SR = ? AND type = ? AND virtual_size >= ? AND location != '' "
                         "ORDER BY ref", (sr, vdi_type, minimum)).fetchone()
    return found[0] if found is not None else None


def sr_holds_any(conn: sqlite3.Connection, sr: str, vdis: typing.Sequence[str]) -> bool:
    """Whether any of ``vdis`` is on ``sr``."""
    if not vdis:
        return False
    marks = ",".join("?" * len(vdis))
    return conn.execute("SELECT 1 FROM VDI WHERE SR = ? AND ref IN (%s)" % marks,
                        [sr] + list(vdis)).fetchone() is not None


# -- sessions -------------------------------------------------------------------------------------------------------

def session_host(conn: sqlite3.Connection, session: str) -> str:
    return conn.execute("SELECT this_host FROM session WHERE ref = ?", (session,)).fetchone()[0]


def delete_internal_sessions(conn: sqlite3.Connection) -> None:
    """Forget the drivers' internal sessions (a dead instance's)."""
    conn.execute("DELETE FROM session WHERE internal = 1")


def expire_sessions(conn: sqlite3.Connection, idle_before: float, originator: str, keep: int) -> None:
    """Delete users' sessions idle since before ``idle_before``, then all but ``originator``'s ``keep`` last used."""
    conn.execute("DELETE FROM session WHERE internal = 0 AND last_active < ?", (idle_before,))
    conn.execute("DELETE FROM session WHERE ref IN (SELECT ref FROM session WHERE internal = 0 "
                 "AND originator = ? ORDER BY last_active DESC, rowid DESC LIMIT -1 OFFSET ?)",
                 (originator, keep))


# -- runs (processes of this instance) ------------------------------------------------------------------------------

def add_run(conn: sqlite3.Connection, token: str, what: str, started: float) -> None:
    conn.execute("INSERT INTO run (token, what, started) VALUES (?, ?, ?)", (token, what, started))


def remove_run(conn: sqlite3.Connection, token: str) -> None:
    conn.execute("DELETE FROM run WHERE token = ?", (token,))


def set_run_leader(conn: sqlite3.Connection, token: str, pgid: int, leader_start: typing.Any) -> None:
    conn.execute("UPDATE run SET pgid = ?, leader_start = ? WHERE token = ?", (pgid, leader_start, token))


def runs(conn: sqlite3.Connection) -> typing.List[Row]:
    return conn.execute("SELECT * FROM run").fetchall()


def clear_runs(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM run")


# -- generated readers ----------------------------------------------------------------------------------------------

def refs_of(conn: sqlite3.Connection, table: str) -> typing.List[str]:
    """Every ref of ``table`` (a model table name, never user input), in ref order."""
    return [r[0] for r in conn.execute("SELECT ref FROM %s ORDER BY ref" % table)]


def refs_named(conn: sqlite3.Connection, table: str, label: str) -> typing.List[str]:
    """The refs of ``table``'s rows whose name_label is ``label``, in ref order."""
    return [r[0] for r in conn.execute("SELECT ref FROM %s WHERE name_label = ? ORDER BY ref" % table, (label,))]


# -- the change record (events) -------------------------------------------------------------------------------------

class Change(object):
    """One recorded change: its generation (``id``), the class (table) and ref of the object, add/mod/del."""

    __slots__ = ("id", "cls", "ref", "op", "ts")

    def __init__(self, change_id: int, cls: str, ref: str, op: str, ts: float = 0.0) -> None:
        self.id = change_id
        self.cls = cls
        self.ref = ref
        self.op = op
        self.ts = ts

    def __repr__(self) -> str:
        return "Change(%d, %s, %s, %s)" % (self.id, self.cls, self.ref, self.op)


def current_generation(conn: sqlite3.Connection) -> int:
    """The generation of the last change ever recorded (0 for none; pruning does not lower it)."""
    found = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'event'").fetchone()
    return found[0] if found else 0


def oldest_change(conn: sqlite3.Connection) -> typing.Optional[int]:
    """The generation of the oldest change still recorded, or None when none is."""
    return conn.execute("SELECT MIN(id) FROM event").fetchone()[0]


def changes_since(conn: sqlite3.Connection, since: int, classes: typing.Optional[typing.Sequence[str]] = None,
                  ) -> typing.List[Change]:
    """The recorded changes after generation ``since``, in order; of ``classes`` (lower case) when given."""
    sql, args = "SELECT id, cls, ref, op, ts FROM event WHERE id > ?", [since]
    if classes is not None:
        sql += " AND lower(cls) IN (%s)" % ",".join("?" * len(classes))
        args += list(classes)
    return [Change(*row) for row in conn.execute(sql + " ORDER BY id", args)]


def note_change(conn: sqlite3.Connection, cls: str, ref: str, op: str) -> int:
    """Record a change the triggers cannot see (a task, event.inject); its generation."""
    cursor = conn.execute("INSERT INTO event (cls, ref, op, ts) VALUES (?, ?, ?, ?)", (cls, ref, op, time.time()))
    return cursor.lastrowid


def ref_counts(conn: sqlite3.Connection, tables: typing.Sequence[str]) -> typing.Dict[str, int]:
    """How many rows each of ``tables`` (model table names, never user input) holds."""
    return {table: conn.execute("SELECT COUNT(*) FROM %s" % table).fetchone()[0] for table in tables}
