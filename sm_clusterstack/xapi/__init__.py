"""The xapi-side shim: a XenAPI server over an embedded SQLite pool.

``schema``/``store`` hold the pool, ``model`` maps rows to XenAPI records,
``api`` dispatches calls (arity, types, refs, sessions), the ``m_*``
modules are the methods, ``plug`` and ``ha`` apply the cluster-stack rules
where xapi does, ``recovery`` reconciles after a crash and ``server`` speaks
XML-RPC over a unix socket and loopback TCP.
"""
