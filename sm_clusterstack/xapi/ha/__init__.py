"""HA as ``ocaml/xapi/xapi_ha.ml`` runs it, with membership from the pool's cluster stack.

``checks`` runs enable_ha's checks in xapi's order; ``steps`` makes and
attaches the statefile and metadata VDIs and writes xhad.conf; ``enable``
and ``disable`` are the two operations (one at a time, rolled back on
failure); ``monitor`` runs a liveset monitor per host and fails the
master over; ``lifecycle`` is a host's clean shutdown, reboot and rejoin;
``progress`` reports an operation's steps to whoever listens (the task
running it).
"""
