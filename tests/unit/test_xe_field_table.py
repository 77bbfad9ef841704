"""The xe classes' field tables (cli/xe/records.py ``field_table``): each row's kind of field, as records.ml's."""

import pytest

from sm_clusterstack.cli.xe import classes, records


class Calls(object):
    """A XenAPI proxy that records each call: ``api.pool.set_name_label(ref, v)`` as ("pool.set_name_label", ref, v)."""

    def __init__(self, log=None, path=()):
        self.log = [] if log is None else log
        self.path = path

    def __getattr__(self, name):
        return Calls(self.log, self.path + (name,))

    def __call__(self, *args):
        self.log.append((".".join(self.path),) + args)


def test_settable_and_writable_map_rows_go_through_their_class():
    name, config = records.field_table("pool", """
        name-label      settable   name_label
        other-config    map-rw     other_config
    """)
    api = Calls()
    name.set(api, "OpaqueRef:p", "new")
    config.add(api, "OpaqueRef:p", "k", "v")
    config.remove(api, "OpaqueRef:p", "k")
    assert api.log == [("pool.set_name_label", "OpaqueRef:p", "new"),
                       ("pool.add_to_other_config", "OpaqueRef:p", "k", "v"),
                       ("pool.remove_from_other_config", "OpaqueRef:p", "k")]
    assert (name.label, config.label) == ("name-label ( RW)", "other-config (MRW)")


def test_sm_rows_join_as_records_ml_does():
    """records.ml sm_record: required-cluster-stack joined by ", ", capabilities deprecated and by "; "."""
    record = {"required_cluster_stack": ["corosync", "xhad"], "capabilities": ["SR_PROBE", "VDI_CREATE"]}
    stacks, capabilities = classes.SM.field("required-cluster-stack"), classes.SM.field("capabilities")
    assert stacks.get(None, "OpaqueRef:sm", record) == "corosync, xhad"
    assert capabilities.get(None, "OpaqueRef:sm", record) == "SR_PROBE; VDI_CREATE"
    assert capabilities.label == "capabilities ( RO) [DEPRECATED]"


def test_operations_are_a_set_on_sr_and_text_on_task():
    record = {"current_operations": {"OpaqueRef:t1": "scan"}}
    on_sr, on_task = classes.SR.field("current-operations"), classes.TASK.field("current_operations")
    assert (on_sr.kind, on_sr.values(None, "r", record)) == (records.SET, ["scan"])
    assert (on_task.kind, on_task.get(None, "r", record)) == (records.NORMAL, "scan")


@pytest.mark.parametrize("row, complaint", [
    ("a  nokind  k", "no kind of field 'nokind'"),
    ("a  ref     k", "ref takes the class of its refs"),
    ("a  text    k  host", "text takes no argument"),
    ("a  refs    k  VDI  PBD", "refs takes the class of its refs"),
])
def test_a_row_that_says_too_little_or_too_much_is_refused(row, complaint):
    with pytest.raises(ValueError) as e:
        records.field_table("SR", row)
    assert complaint in str(e.value)


def test_every_class_names_each_field_once():
    for cls in classes.CLASSES.values():
        names = [f.name for f in cls.fields]
        assert len(names) == len(set(names)), cls.xe
        assert all(cls.field(name) for name in cls.default_params), cls.xe
