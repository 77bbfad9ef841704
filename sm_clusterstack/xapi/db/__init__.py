"""The pool's stored state: the SQLite store, its schema, the XenAPI model and the named queries.

``store`` opens the one SQLite file (WAL) and runs read and write
transactions; ``schema`` migrates it; ``model`` maps rows to XenAPI
records; ``records`` holds every query the shim makes by name, with typed
records (``HAPlan``, a host's liveness, an SR's attached PBD), so that no
module outside this package writes SQL; ``where`` parses the expressions
of ``get_all_records_where``.  Nothing here imports another layer of the
shim.
"""
