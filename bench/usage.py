"""The command line of the benchmarks that take their settings from the environment, not from arguments.

``check(__doc__)`` first thing in such a benchmark's ``__main__``: ``-h`` or
``--help`` prints its docstring (which names its variables) and exits 0;
any other argument is refused with exit 2 before anything runs (a
benchmark starts pools and sandboxes: an operator's ``--help`` must not).
Not executable: ``make bench`` runs only the executables of bench/.
"""

import os
import sys


def check(doc: str) -> None:
    """Exit when ``sys.argv`` has arguments: 0 after the docstring for -h/--help, 2 otherwise."""
    args = sys.argv[1:]
    if not args:
        return
    prog = os.path.basename(sys.argv[0])
    if args in (["-h"], ["--help"]):
        print(doc.strip())
        sys.exit(0)
    sys.stderr.write("%s: takes no arguments (%s); its settings are environment variables, see %s --help\n"
                     % (prog, " ".join(args), prog))
    sys.exit(2)
