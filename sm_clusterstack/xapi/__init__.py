"""The xapi-side shim: a XenAPI server over an embedded SQLite pool, one package per role.

From the bottom up: ``db`` holds the pool (store, schema, model and the
named queries of ``db.records``, the only place with SQL); ``rpc`` speaks
XenAPI on the wire (HTTP framing, the method registry, the dispatcher,
sessions, the call log); ``hosts`` runs on a host what xapi runs there
(drivers, stack scripts, sandboxes, the sm-dir scan, PBD plugs); ``ha``
enables, disables and runs HA as ``xapi_ha.ml`` does; ``methods`` holds
one module per XenAPI class.  ``service`` starts the shim and
``recovery`` reconciles the store after a crash.  A lower layer never
imports a higher one (tests/unit/test_layering.py).
"""
