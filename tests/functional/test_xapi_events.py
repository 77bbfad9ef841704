"""event.* against a running shim, over XML-RPC (the PyPI client) and JSON-RPC (a plain client).

``ocaml/xapi/xapi_event.ml``: ``from`` (one event per object changed after
the token, the token of the newest, a wait up to the timeout, never empty
before it, SESSION_INVALID when the session ends), ``next`` (every
change, after ``register``), ``inject`` (the token just before a change of
the object).  Across a restart xapi keeps its generation count and each
row's generations (``ocaml/database/db_xml.ml``), so a token stays valid;
the shim's record is in the store, in the change's own transaction.
"""

import random
import sqlite3
import threading
import time
import uuid

import pytest

from helpers.jsonrpc_client import JsonRpc, Failure as JsonFailure
from helpers.shim import failure

pytestmark = pytest.mark.pool(hosts=2, sandbox=False)


def event_from(x, classes, token, timeout):
    return getattr(x.event, "from")(classes, token, float(timeout))


def json_client(pool):
    return JsonRpc(pool.server.url).login(pool.server.password)


def record_since(pool, generation):
    """(id, class, ref, op) of every change the store recorded after ``generation``."""
    conn = sqlite3.connect("file:%s/pool.db?mode=ro" % pool.server.state, uri=True)
    try:
        return conn.execute("SELECT id, cls, ref, op FROM event WHERE id > ? ORDER BY id", (generation,)).fetchall()
    finally:
        conn.close()


def generation(x):
    return int(x.event.get_current_id())


def shape(events):
    return [(e["class"], e["operation"], e["ref"], e["id"]) for e in events]


def test_event_from_answers_the_same_events_over_xml_rpc_and_json_rpc(pool):
    x, j = pool.x, json_client(pool)
    token = x.event.inject("pool", x.pool.get_all()[0])
    sr = x.SR.introduce("", "one", "", "lvm", "user", True, {})
    x.host.set_name_label(x.host.get_all()[0], "renamed")
    over_xml = event_from(x, ["*"], token, 5)
    over_json = j.xenapi("event.from", ["*"], token, 5)
    assert shape(over_xml["events"]) == shape(over_json["events"])
    assert [e[:2] for e in shape(over_json["events"])] == [("pool", "mod"), ("sr", "add"), ("host", "mod")]
    assert over_xml["token"] == over_json["token"] and over_json["valid_ref_counts"]["sr"] == 1
    snapshot = [e["snapshot"] for e in over_json["events"] if e["ref"] == sr][0]
    assert snapshot["physical_size"] == 0  # int64: a number in JSON (a string over XML-RPC)
    assert [e["snapshot"] for e in over_xml["events"] if e["ref"] == sr][0]["physical_size"] == "0"


def test_a_waiting_event_from_wakes_on_another_clients_change_at_once(pool):
    x = pool.x
    token = event_from(x, ["pool"], "", 1)["token"]
    other = pool.server.session().xenapi
    threading.Timer(0.5, other.pool.set_name_label, (other.pool.get_all()[0], "woken")).start()
    started = time.monotonic()
    found = event_from(x, ["pool"], token, 30)
    assert time.monotonic() - started < 30  # woken by the change, not by its timeout
    assert [e["snapshot"]["name_label"] for e in found["events"]] == ["woken"]


def test_an_unknown_class_waits_out_the_timeout_and_answers_nothing(pool):
    """xapi: a class no table has selects nothing; event.from returns empty only at the timeout."""
    started = time.monotonic()
    found = event_from(pool.x, ["nosuchclass"], "", 1)
    assert found["events"] == [] and time.monotonic() - started >= 1


@pytest.mark.parametrize("token", ["bogus", "1,2,3", "12"])
def test_a_bogus_token_is_event_from_token_parse_failure(pool, token):
    assert failure(event_from, pool.x, ["*"], token, 1) == ["EVENT_FROM_TOKEN_PARSE_FAILURE", token]


def test_a_negative_timeout_waits_as_xapis_24_hours_until_a_change(pool):
    """``Clock.Timer.s_to_span`` of a negative timeout is None: xapi waits 24 hours, not 0."""
    x = pool.x
    token = event_from(x, ["host"], "", 1)["token"]
    other = pool.server.session().xenapi
    threading.Timer(1.0, other.host.set_name_label, (other.host.get_all()[0], "late")).start()
    started = time.monotonic()
    assert len(event_from(x, ["host"], token, -1)["events"]) == 1 and time.monotonic() - started >= 0.9


def test_logout_ends_a_waiting_event_from_with_session_invalid(pool):
    j = json_client(pool)
    token = j.xenapi("event.from", ["pool"], "", 1)["token"]
    other = json_client(pool)
    other.session = j.session
    threading.Timer(0.5, other.xenapi, ("session.logout",)).start()
    with pytest.raises(JsonFailure) as e:
        j.xenapi("event.from", ["pool"], token, 30)
    assert e.value.details == ["SESSION_INVALID", j.session]


def test_event_next_needs_register_first(pool):
    details = failure(pool.x.event.next)
    assert details[0] == "SESSION_NOT_REGISTERED" and details[1].startswith("trackid=")


def random_run(x, operations, seed=20):
    """``operations`` random writes: SRs introduced and forgotten, PBDs made and removed, names, tasks."""
    rng = random.Random(seed)
    hosts, pool_ref = x.host.get_all(), x.pool.get_all()[0]
    srs, pbds, tasks = [], {}, []
    for n in range(operations):
        choice = rng.randrange(8)
        if choice == 0 or not srs:
            srs.append(x.SR.introduce(str(uuid.uuid4()), "sr%d" % n, "", "lvm", "user", True, {}))
        elif choice == 1 and len(srs) > 1:
            sr = srs.pop(rng.randrange(len(srs)))
            x.SR.forget(sr)
            pbds = {k: v for k, v in pbds.items() if k[1] != sr}
        elif choice == 2:
            key = (rng.choice(hosts), rng.choice(srs))
            if key in pbds:
                x.PBD.destroy(pbds.pop(key))
            else:
                pbds[key] = x.PBD.create({"host": key[0], "SR": key[1], "device_config": {}})
        elif choice == 3:
            x.SR.set_name_label(rng.choice(srs), "label%d" % n)
        elif choice == 4:
            x.host.set_name_label(rng.choice(hosts), "host-%d" % n)
        elif choice == 5:
            x.pool.set_name_label(pool_ref, "pool-%d" % n)
        elif choice == 6 or not tasks:
            tasks.append(x.task.create("t%d" % n, ""))
        else:
            x.task.destroy(tasks.pop(rng.randrange(len(tasks))))


def follow_from(j, token, until, answers):
    """event.from from ``token`` until the token reaches generation ``until()``: each answer kept."""
    while True:
        answer = j.xenapi("event.from", ["*"], token, 2.0)
        answers.append((token, answer))
        token = answer["token"]
        end = until()
        if end is not None and int(token.split(",")[0]) >= end:
            return


def test_every_change_of_a_1000_operation_run_is_seen_once_and_in_commit_order(pool):
    """event.next gives exactly the store's record, change by change; event.from one event per object
    per answer, in generation order, none twice, none lost, the cache it builds equal to the store."""
    x = pool.x
    watcher = pool.server.session().xenapi
    watcher.event.register(["*"])
    start = generation(x)
    j = json_client(pool)
    end, answers, seen_next = [], [], []

    def follow_next():
        while not end or not seen_next or int(seen_next[-1]["id"]) < end[0]:
            seen_next.extend(watcher.event.next())
    first_token = x.event.inject("pool", x.pool.get_all()[0])
    readers = [threading.Thread(target=follow_from, args=(j, first_token, lambda: end[0] if end else None, answers)),
               threading.Thread(target=follow_next)]
    for reader in readers:
        reader.start()
    random_run(x, 1000)
    end.append(generation(x) + 1)  # the inject just below, the last change, wakes both readers
    x.event.inject("pool", x.pool.get_all()[0])
    for reader in readers:
        reader.join(60)
    assert not any(reader.is_alive() for reader in readers)
    record = [r for r in record_since(pool, start) if r[0] <= end[0]]
    assert len(record) > 1000 and len(answers) > 1
    assert [int(e["id"]) for e in seen_next] == [r[0] for r in record]
    assert [(e["class"], e["ref"], e["operation"]) for e in seen_next] == [(r[1].lower(), r[2], r[3]) for r in record]
    check_from_answers(answers, record, start)  # the first token is the inject's: just before its change
    check_cache(j, answers)


def check_from_answers(answers, record, start):
    """Each change is in exactly one answer's range (old token, new token], and that answer has an event
    of its object, unless the object was both created and deleted in that range (xapi: no event)."""
    ids = [int(e["id"]) for _, a in answers for e in a["events"]]
    assert ids == sorted(set(ids)), "an event seen twice or out of commit order"
    ranges = [(int(token.split(",")[0]), int(a["token"].split(",")[0]), a) for token, a in answers]
    assert ranges[0][0] == start and all(ranges[i][1] == ranges[i + 1][0] for i in range(len(ranges) - 1))
    for change_id, cls, ref, op in record:
        low, high, answer = [r for r in ranges if r[0] < change_id <= r[1]][0]
        mine = [e for e in answer["events"] if (e["class"], e["ref"]) == (cls.lower(), ref)]
        ops = [o for i, c, r, o in record if (c, r) == (cls, ref) and low < i <= high]
        if ops[0] == "add" and ops[-1] == "del":
            assert mine == [], (change_id, cls, ref)
        else:
            assert len(mine) == 1 and low < int(mine[0]["id"]) <= high, (change_id, cls, ref, op, mine)
            assert mine[0]["operation"] == ("del" if ops[-1] == "del" else "add" if ops[0] == "add" else "mod")


def check_cache(j, answers):
    cache = {}
    for _, answer in answers:
        for e in answer["events"]:
            key = (e["class"], e["ref"])
            if e["operation"] == "del":
                cache.pop(key, None)
            else:
                cache[key] = e["snapshot"]
    for cls in ("SR", "PBD", "host", "pool"):
        mine = {ref: rec for (c, ref), rec in cache.items() if c == cls.lower()}
        assert mine == j.xenapi(cls + ".get_all_records"), cls


def test_a_restart_neither_replays_nor_loses_a_change(pool):
    """A token from before a restart selects exactly the changes after it: made before the restart,
    while stopped nothing, after it the rest; deletions included."""
    x = pool.x
    doomed = x.SR.introduce("", "doomed", "", "lvm", "user", True, {})
    token = event_from(x, ["SR", "pool"], "", 1)["token"]
    kept = x.SR.introduce("", "before", "", "lvm", "user", True, {})
    x.SR.forget(doomed)
    pool.server.stop()
    pool.server.start()
    pool.session = pool.server.session()
    x = pool.x = pool.session.xenapi
    x.pool.set_name_label(x.pool.get_all()[0], "after")
    found = event_from(x, ["SR", "pool"], token, 5)
    assert [(e["class"], e["operation"], e["ref"]) for e in found["events"]] == [
        ("sr", "add", kept), ("sr", "del", doomed), ("pool", "mod", x.pool.get_all()[0])]
    assert event_from(x, ["SR", "pool"], found["token"], 0.5)["events"] == []


def test_xe_event_wait_returns_once_an_object_matches(pool):
    """``cli_operations.ml`` ``event_wait``: at once when a record matches now, else at the event that matches;
    ``field=/=value`` means not equal; a class it cannot list fails as xapi's."""
    import subprocess
    import sys
    from helpers.xe import xe_server
    x = pool.x
    assert xe_server(pool, "event-wait", "class=pool", "name-label=")[0] == 0
    argv = [sys.executable, "-m", "sm_clusterstack.cli", "xe", "-s", pool.server.url, "--password-file",
            pool.server.password_file, "event-wait", "class=sr", "name-label=later", "shared=/=false"]
    waiting = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.5)
        assert waiting.poll() is None
        sr = x.SR.introduce("", "later", "", "lvm", "user", False, {})
        time.sleep(1.5)
        assert waiting.poll() is None  # not shared yet
        x.SR.forget(sr)
        x.SR.introduce("", "later", "", "lvm", "user", True, {})
        assert waiting.wait(30) == 0
    finally:
        waiting.kill()
        waiting.communicate()
    rc, _, err = xe_server(pool, "event-wait", "class=vm")
    assert rc == 1 and "Cli listening for class 'vm' not currently implemented" in err
