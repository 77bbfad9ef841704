"""``sm-clusterstack upgrade``: move xhad into the cluster-stack root; default the pool's stack.

Prints one line per path; exits 1 when a path conflicts or a step fails
(nothing after the failing step is done; running again resumes).
"""

import argparse
import os
import sqlite3
import sys
import typing

from sm_clusterstack import cli
from sm_clusterstack.cli import options
from sm_clusterstack.stacks import upgrade

HELP = "move xhad's scripts and tools into <root>/xhad and set pool.ha_cluster_stack to xhad where unset"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add(parser, "upgrade", options.XAPI_CONF, options.ROOT)
    parser.add_argument("--legacy-dir", metavar="DIR", default=upgrade.LEGACY_DIR,
                        help="where xhad's tools are now (default: %(default)s)")
    options.add(parser, "upgrade", options.STATE)
    parser.add_argument("--dry-run", action="store_true", help="print what would be done; change nothing")


def run(args: argparse.Namespace) -> int:
    """Plan, print, apply (unless --dry-run), then the store."""
    root = options.stack_root(args)
    try:
        steps = upgrade.plan(root, args.legacy_dir)
    except upgrade.UpgradeError as e:
        sys.stderr.write("sm-clusterstack upgrade: %s\n" % e)
        return cli.EXIT_FAILED
    status = render_and_apply(steps, args.dry_run, args.legacy_dir)
    if args.state:
        status = max(status, upgrade_store(args.state, args.dry_run))
    return status


def render_and_apply(steps: typing.List[upgrade.Step], dry_run: bool, legacy_dir: str) -> int:
    """Print the plan and carry it out; the exit status."""
    prefix = "would " if dry_run else ""
    for step in steps:
        sys.stdout.write(prefix + step.describe() + "\n" if step.action in upgrade.CHANGES
                         else step.describe() + "\n")
    if not any(step.action in upgrade.CHANGES for step in steps):
        sys.stdout.write("stack files: nothing to do (legacy directory %s)\n" % legacy_dir)
    conflicts = [step for step in steps if step.action == upgrade.CONFLICT]
    if dry_run:
        return cli.EXIT_FAILED if conflicts else cli.EXIT_OK
    try:
        upgrade.apply([step for step in steps if step.action != upgrade.CONFLICT])
    except upgrade.UpgradeError as e:
        sys.stderr.write("sm-clusterstack upgrade: %s\n" % e)
        return cli.EXIT_FAILED
    return cli.EXIT_FAILED if conflicts else cli.EXIT_OK


def upgrade_store(state_dir: str, dry_run: bool) -> int:
    """Migrate the shim's store and set ha_cluster_stack to xhad where empty."""
    from sm_clusterstack.xapi.db import records, schema, store
    path = os.path.join(state_dir, store.DB_NAME)
    if not os.path.isfile(path):
        sys.stderr.write("sm-clusterstack upgrade: no store at %s\n" % path)
        return cli.EXIT_FAILED
    try:
        if dry_run:
            sys.stdout.write(describe_store(path, schema) + "\n")
            return cli.EXIT_OK
        pool_store = store.Store(state_dir)
        try:
            with pool_store.write() as conn:
                records.default_empty_stack(conn, "xhad")
                stacks = records.pool_stacks(conn)
        finally:
            pool_store.close()
    except (sqlite3.Error, schema.SchemaError) as e:
        sys.stderr.write("sm-clusterstack upgrade: store %s: %s\n" % (path, e))
        return cli.EXIT_FAILED
    sys.stdout.write("store %s: schema version %d, pool ha_cluster_stack: %s\n"
                     % (path, schema.LATEST, " ".join(stacks) or "(no pool)"))
    return cli.EXIT_OK


def describe_store(path: str, schema: typing.Any) -> str:
    """What upgrading the store at ``path`` would do, read without changing it."""
    from sm_clusterstack.xapi.db import records, store
    with store.read_only(path) as conn:
        version = schema.version(conn)
        if version < schema.LATEST:
            return "would migrate store %s from schema version %d to %d (ha_cluster_stack defaults to xhad)" % (
                path, version, schema.LATEST)
        empty = records.pools_without_stack(conn)
    if empty:
        return "would set ha_cluster_stack to xhad on %d pool(s) of store %s" % (empty, path)
    return "store %s: nothing to do" % path
