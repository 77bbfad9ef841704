"""``sm-clusterstack db``: back the pool's store up while the shim serves it, and restore a backup."""

import argparse
import os
import sqlite3
import sys

from sm_clusterstack import cli
from sm_clusterstack.cli import options

HELP = "back the pool database up (while the shim serves it) or restore a backup (the shim stopped)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The actions of ``db``: backup, restore."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    backup_parser = sub.add_parser("backup", help="copy the pool database into FILE (SQLite's online backup)")
    options.add(backup_parser, "db", options.STATE)
    backup_parser.add_argument("file", metavar="FILE", help="the backup to write (must not exist)")
    restore_parser = sub.add_parser("restore", help="make the backup FILE the pool database (the shim stopped)")
    options.add(restore_parser, "db", options.STATE)
    restore_parser.add_argument("file", metavar="FILE", help="a backup made by db backup")


def run(args: argparse.Namespace) -> int:
    """Back up or restore; one line saying what was done, or why not."""
    from sm_clusterstack.xapi.db import backup, durable
    from sm_clusterstack.xapi import service
    try:
        if args.action == "backup":
            found = backup.backup(args.state, args.file)
            sys.stdout.write("backed up pool %s at generation %d into %s\n"
                             % (found.pool_uuid, found.generation, args.file))
            return cli.EXIT_OK
        service.check_state_dir(args.state)
        os.makedirs(args.state, mode=0o700, exist_ok=True)
        fd = service.lock(args.state)  # StateInUse while a shim serves it
        try:
            found, moved = backup.restore(args.state, args.file)
        finally:
            os.close(fd)
    except (OSError, ValueError, sqlite3.Error, durable.Refused) as e:
        sys.stderr.write("sm-clusterstack db %s: %s\n" % (args.action, e))
        return cli.EXIT_FAILED
    sys.stdout.write("restored pool %s at generation %d from %s%s\n" % (
        found.pool_uuid, found.generation, args.file, "; set aside: " + " ".join(moved) if moved else ""))
    return cli.EXIT_OK
