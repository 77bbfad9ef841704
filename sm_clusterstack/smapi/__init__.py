"""SMAPIv1, both sides: the call model, the driver-info model and the driver dispatcher.

Modules on a driver's start-up path (``call``, ``driver``) import only the
standard library's C-backed pieces (expat, syslog) and never ``typing``,
lxml, sqlite3 or XenAPI, so ``sr_get_driver_info`` answers about as fast as
the interpreter starts.  Heavier modules (``pool``, the storage layers) are
imported by the commands that need them.
"""
