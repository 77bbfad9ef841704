"""What the functional tests share besides their fixtures (those are in ``tests/functional/conftest.py``).

One module per area: ``shim`` (fixture drivers and stacks, a ``serve``
process, the fixture pool), ``xe`` (sandboxed pools, xe as a process),
``drivers`` (a real driver run as xapi runs it, loop devices, the
``fakebin`` emulators), ``xapi_recorder`` (a recording xapi for the
drivers), ``kit`` and ``xhad_build`` (the kit as a process, the real xhad
built), ``ha_pools``, ``corosync_pool`` and ``corosync_trials`` (pools of
sandboxed hosts running a real stack), ``fuse_statefile`` (a statefile whose
I/O blocks, served over /dev/fuse), ``load`` and ``physical`` (the stress
and crash tests' clients and what really ran).  ``mountns_exec.py`` and
``fakebin/*`` run as programs, by path; ``shim_fixtures/*`` are the
templates of the fixture driver and stack scripts.  The tests import these
as ``helpers.<module>``: pytest puts ``tests/functional`` on ``sys.path``
(it has no ``__init__.py``), and the bench scripts put it there themselves.
"""

import itertools
import os

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
MOUNTNS_EXEC = os.path.join(HERE, "mountns_exec.py")  # a program: argv as its docstring says
_PREFIXES = itertools.count(1)


def sandbox_prefix(area):
    """A namespace prefix no other live test has: ``area``, this process's pid and a counter (``s12-4711-3``).

    Unique by construction across the workers of a parallel run and across
    runs at the same time: no two live processes share a pid.  ``area`` must
    not contain ``-h`` (a host's netns is ``<prefix>-h<N>``).
    """
    return "%s-%d-%d" % (area, os.getpid(), next(_PREFIXES))
