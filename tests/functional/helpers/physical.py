"""What the fixture drivers and stacks really did, and the design's rule checked on it at every instant.

The fixture drivers (shim_fixtures/driver.sh) append to ``<ctl>/events``
``<time> open|close sr <type> <sr_uuid>@<host_ref>``: an SR is in use on a
host from the start of its ``sr_attach`` (or ``sr_delete``, which mounts
it) to the end of ``sr_detach`` (or of a refused attach).  The fixture
stacks (shim_fixtures/stack_script.sh) append to ``<stack ctl>/events``
``<time> open|close daemon <stack> <host_uuid>``: a daemon runs from
``ha_start_daemon`` to ``ha_stop_daemon`` or the invalid pool state.

The rule, at every instant: the SRs in use that require cluster stacks
share one, and the daemons running are of one stack, which every such SR
allows (DESIGN.md: no two SRs needing disjoint stacks attached together;
no SR attached whose stacks exclude the running HA stack).  And once the
shim is quiet (after a restart, say), what is in use is what the store
says: the attached PBDs, and a daemon on every host exactly when HA is on.
"""

import json
import os
import sqlite3


def events(pool):
    """Every event of the pool's fixture drivers and stacks, in time order: (time, action, kind, name, key)."""
    paths = [os.path.join(ctl, "events") for ctl in pool.ctl.values()] + [os.path.join(pool.stack_ctl, "events")]
    found = []
    for path in paths:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            when, action, kind, name, key = line.split()
            found.append((float(when), action, kind, name, key))
    return sorted(found)


def rule_problems(in_use, daemons, required):
    """Why the state (``in_use``: key -> SR type, ``daemons``: host -> stack) breaks the rule; [] if it holds."""
    sets = [set(required[t]) for t in in_use.values() if required.get(t)]
    problems = []
    if sets and not set.intersection(*sets):
        problems.append("SRs in use share no stack: %s" % sorted(set(in_use.values())))
    stacks = set(daemons.values())
    if len(stacks) > 1:
        problems.append("daemons of several stacks run: %s" % sorted(stacks))
    for stack in stacks:
        refused = sorted({t for t in in_use.values() if required.get(t) and stack not in required[t]})
        if refused:
            problems.append("SRs of %s in use while daemons of %s run" % (refused, stack))
    return problems


def replay(pool, required):
    """Replay the timeline: (violations, what is in use at the end, the daemons running at the end)."""
    in_use, daemons, violations = {}, {}, []
    for when, action, kind, name, key in events(pool):
        if action == "close":
            (in_use if kind == "sr" else daemons).pop(key, None)
            continue
        if kind == "sr":
            in_use[key] = name
        else:
            daemons[key] = name
        violations.extend("at %.6f, %s %s %s: %s" % (when, kind, name, key, p)
                          for p in rule_problems(in_use, daemons, required))
    return violations, in_use, daemons


def store_state(db_path):
    """What the store says: ({"<sr_uuid>@<host_ref>" attached}, {host uuid: stack} HA should run, in flight)."""
    conn = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=30)
    try:
        attached = {"%s@%s" % r for r in conn.execute(
            "SELECT SR.uuid, PBD.host FROM PBD JOIN SR ON SR.ref = PBD.SR WHERE PBD.state = 'attached'")}
        enabled, stack, plan, disable = conn.execute(
            "SELECT ha_enabled, ha_cluster_stack, ha_plan, ha_disable_plan FROM pool").fetchone()
        hosts = [r[0] for r in conn.execute("SELECT uuid FROM host")]
        busy = [r[0] for r in conn.execute("SELECT state FROM PBD WHERE state NOT IN ('attached', 'detached')")]
    finally:
        conn.close()
    running = {h: stack for h in hosts} if enabled else {}
    in_flight = busy + (["enable_ha"] if plan else []) + (["disable_ha"] if disable else [])
    return attached, running, in_flight


def disagreements(pool, db_path, required):
    """Where the quiet store and the physical state differ (and rule violations so far); [] if none."""
    violations, in_use, daemons = replay(pool, required)
    attached, running, in_flight = store_state(db_path)
    found = list(violations)
    if in_flight:
        found.append("still in flight: %s" % in_flight)
    if set(in_use) != attached:
        found.append("in use but not attached in the store: %s; attached in the store, not in use: %s"
                     % (sorted(set(in_use) - attached), sorted(attached - set(in_use))))
    if daemons != running:
        found.append("daemons running %s; the store says %s" % (json.dumps(daemons), json.dumps(running)))
    return found
