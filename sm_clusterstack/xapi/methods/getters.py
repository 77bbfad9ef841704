"""The generated readers of every class: get_all, get_record, get_<field>, ...

As xapi generates them: ``<cls>.get_all``, ``get_all_records``,
``get_all_records_where(expr)``, ``get_record(ref)``, ``get_by_uuid(uuid)``,
``get_by_name_label(label)`` where the class has a name, and one
``get_<field>(ref)`` per field.
"""

from sm_clusterstack.xapi.db import model
from sm_clusterstack.xapi.db import where
from sm_clusterstack.xapi.rpc.registry import method
from sm_clusterstack.xapi.db import records


def _register(cls: str) -> None:
    table = model.table_of(cls)

    @method(cls + ".get_all")
    def get_all(ctx, session):
        with ctx.store.read() as conn:
            return records.refs_of(conn, table)

    @method(cls + ".get_all_records")
    def get_all_records(ctx, session):
        with ctx.store.read() as conn:
            return model.records(conn, cls)

    @method(cls + ".get_all_records_where", "expr:str")
    def get_all_records_where(ctx, session, expr):
        predicate = where.compile_expr(expr)
        with ctx.store.read() as conn:
            found = model.records(conn, cls)
        return {ref: rec for ref, rec in found.items() if predicate(rec)}

    @method(cls + ".get_record", "self:ref:" + cls)
    def get_record(ctx, session, self):
        with ctx.store.read() as conn:
            return model.record(conn, cls, self)

    @method(cls + ".get_by_uuid", "uuid:str")
    def get_by_uuid(ctx, session, uuid):
        with ctx.store.read() as conn:
            return model.ref_by_uuid(conn, cls, uuid)

    if "name_label" in model.field_names(cls):
        @method(cls + ".get_by_name_label", "label:str")
        def get_by_name_label(ctx, session, label):
            with ctx.store.read() as conn:
                return records.refs_named(conn, table, label)

    for field in model.field_names(cls):
        _register_field(cls, field)


def _register_field(cls: str, field: str) -> None:
    @method("%s.get_%s" % (cls, field), "self:ref:" + cls)
    def get_field(ctx, session, self):
        with ctx.store.read() as conn:
            return model.record(conn, cls, self)[field]


for _cls in sorted(model.STORED):
    _register(_cls)
