"""The XenAPI methods, one module per class, registered into ``rpc.registry``.

``getters`` generates every class's readers (get_all, get_record,
get_<field>, ...); ``pool``, ``host``, ``sr``, ``pbd``, ``session`` and
``task`` hold each class's own methods; ``pool_ha`` the shim's own HA
status and preflight queries.  A method checks its arguments, then calls
the layers below (db, hosts, ha); it holds no rule of its own.
"""

MODULES = ("system", "session", "getters", "pool", "host", "sr", "pbd", "task", "event", "pool_ha")


def load() -> None:
    """Import every method module, so that the registry's table is complete (idempotent)."""
    import importlib
    for module in MODULES:
        importlib.import_module(__name__ + "." + module)
