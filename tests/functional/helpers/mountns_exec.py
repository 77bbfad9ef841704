"""Run a command as xapi would on a host whose root holds an installed tree.

Usage (under ``unshare --mount --propagation private``, as root)::

    python mountns_exec.py --bind SRC DST [--bind SRC DST ...] --path PATH -- ARGV...

Each ``--bind`` mounts the installed directory SRC over DST, inside this
private mount namespace only, so that the system interpreter finds what
``make install DESTDIR=...`` or ``rpm --root`` put there as if installed
on ``/``.  Then ARGV is executed with exactly one environment variable,
``PATH`` (as xapi runs drivers and stack scripts), its ``#!`` line choosing
the interpreter.
"""

import os
import subprocess
import sys


def main(argv):
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1:]
    binds, path = [], "/usr/sbin:/usr/bin:/sbin:/bin"
    while options:
        if options[0] == "--bind":
            binds.append((options[1], options[2]))
            options = options[3:]
        elif options[0] == "--path":
            path, options = options[1], options[2:]
        else:
            sys.exit("mountns_exec: unknown option %r" % options[0])
    for source, target in binds:
        subprocess.run(["mount", "--bind", source, target], check=True, timeout=30)
    os.execve(command[0], command, {"PATH": path})


if __name__ == "__main__":
    main(sys.argv[1:])
