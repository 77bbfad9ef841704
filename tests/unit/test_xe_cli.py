"""``sm-clusterstack xe`` against xe's own semantics, on plain records (no server).

Each test names the upstream function it follows (xapi-project/xen-api,
``ocaml/xapi-cli-server/`` and ``ocaml/xe-cli/``).
"""

import pytest

from sm_clusterstack.cli.xe import classes as xe_classes, commands as xe_commands, connect as xe_connect
from sm_clusterstack.cli.xe import errors as xe_errors, help as xe_help, main as xe, records as xe_records
from sm_clusterstack.cli.xe import select as xe_select
from sm_clusterstack.cli.xe.errors import ClientError, CliFailure, UsageError

PBDS = {
    "OpaqueRef:p1": {"uuid": "u-p1", "host": "OpaqueRef:h1", "SR": "OpaqueRef:s1", "currently_attached": True,
                     "device_config": {"device": "/dev/a", "node_slots": "4"}, "other_config": {}},
    "OpaqueRef:p2": {"uuid": "u-p2", "host": "OpaqueRef:h2", "SR": "OpaqueRef:s1", "currently_attached": False,
                     "device_config": {"device": "/dev/b"}, "other_config": {}},
}
HOSTS = {"OpaqueRef:h1": {"uuid": "u-h1", "name_label": "host1"},
         "OpaqueRef:h2": {"uuid": "u-h2", "name_label": "host2"}}
SRS = {"OpaqueRef:s1": {"uuid": "u-s1", "name_label": "shared-ocfs2", "PBDs": list(PBDS), "VDIs": []}}


class Proxy(object):
    """The records of one class as XenAPI's proxy would answer get_record (HANDLE_INVALID otherwise)."""

    def __init__(self, records):
        self.records = records

    def get_record(self, ref):
        if ref not in self.records:
            raise KeyError(ref)
        return self.records[ref]

    def get_all_records_where(self, expr):
        assert expr == "true"  # cli_operations.ml make_param_funs: list asks for every record
        return self.records


class Api(object):
    host, SR, PBD = Proxy(HOSTS), Proxy(SRS), Proxy(PBDS)
    pool = SM = VDI = task = host_metrics = Proxy({})


def rows():
    lookup = xe_records.Lookup(Api())
    return xe_select.rows_of(Api(), xe_classes.PBD, lookup)


class Ctx(object):
    def __init__(self, minimal=False):
        self.out = []
        self.api = Api()
        self.lookup = xe_records.Lookup(self.api)
        self.printer = xe_select.Printer(self.out.append, minimal)


def listing(params, minimal=False):
    ctx = Ctx(minimal)
    xe_select.list_records(ctx, xe_classes.PBD, params)
    ctx.printer.flush()
    return "".join(ctx.out)


def test_params_selects_columns_in_record_order_and_is_not_a_filter():
    """cli_operations.ml choose_params/select_fields: params=a,b picks fields (record order)."""
    out = listing([("params", "sr-uuid,uuid")])
    assert out == ("uuid ( RO)       : u-p1\n    sr-uuid ( RO): u-s1\n\n\n"
                   "uuid ( RO)       : u-p2\n    sr-uuid ( RO): u-s1\n\n\n")


def test_default_columns_and_xe_alignment():
    """cli_printer.ml multi_line_record: 4 + the longest label; first left-, others right-aligned."""
    first = listing([("uuid", "u-p1")]).split("\n")
    assert first[:5] == ["uuid ( RO)                  : u-p1",
                         "             host-uuid ( RO): u-h1",
                         "               sr-uuid ( RO): u-s1",
                         "         device-config (MRO): device: /dev/a; node_slots: 4",
                         "    currently-attached ( RO): true"]


def test_minimal_prints_the_first_column_comma_joined():
    """cli_printer.ml make_printer minimal: first field of each record, escape_commas, one line."""
    assert listing([("minimal", "true")], minimal=True) == "u-p1,u-p2\n"
    assert listing([("params", "host-name-label")], minimal=True) == "host1,host2\n"
    assert listing([("uuid", "none")], minimal=True) == "\n"  # no record: an empty line


def test_escape_commas():
    assert xe_select.escape_commas("a,b\\c") == "a\\,b\\\\c"


def test_map_filter_uses_the_key():
    """cli_operations.ml filter_records_on_map_param: map:key=value (and the old map-key=value form)."""
    assert listing([("device-config:device", "/dev/b")], minimal=True) == "u-p2\n"
    assert listing([("device-config-device", "/dev/a")], minimal=True) == "u-p1\n"
    assert listing([("device-config:nosuchkey", "x")], minimal=True) == "\n"


def test_filters_compare_the_printed_value_and_refs_print_as_uuids():
    """filter_records_on_normal_param compares safe_get_field: refs as uuids (records.ml get_uuid_from_ref)."""
    assert listing([("currently-attached", "false")], minimal=True) == "u-p2\n"
    assert listing([("host-uuid", "u-h1"), ("sr-name-label", "shared-ocfs2")], minimal=True) == "u-p1\n"


def test_unknown_filter_field_is_an_error():
    """get_field_type: failwith "Unknown field '...'" (printed as INTERNAL_ERROR "Failure: ...")."""
    with pytest.raises(CliFailure) as e:
        listing([("no-such-field", "x")])
    assert str(e.value) == "Unknown field 'no-such-field'"
    with pytest.raises(CliFailure) as e:
        listing([("uuid:x", "y")])
    assert str(e.value) == "Field 'uuid' is not a set or map"


def test_unknown_filter_field_is_refused_even_when_there_is_no_record():
    """Issue 21: xe decides a filter's field from the first record (filter_records_on_fields), so with no
    record an unknown field passed (sr-list bogus=1 exit 0, host-list bogus=1 refused); here, always refused."""
    ctx = Ctx()
    with pytest.raises(CliFailure) as e:
        xe_select.list_records(ctx, xe_classes.SM, [("bogus", "1")])
    assert str(e.value) == "Unknown field 'bogus'"
    xe_select.list_records(ctx, xe_classes.SM, [("uuid", "x"), ("params", "uuid"), ("minimal", "true")])


def test_params_naming_no_field_is_refused_not_printed_as_blank_records():
    """Issue 21: select_fields drops an unknown name, so params=foo printed a blank record per object."""
    for params in ("foo", "uuid,foo"):
        with pytest.raises(CliFailure) as e:
            listing([("params", params)])
        assert str(e.value) == "Unknown field 'foo'"
    with pytest.raises(CliFailure):
        xe_select.list_records(Ctx(), xe_classes.SM, [("params", "foo")])
    assert listing([("params", "all")]).count("\nuuid ( RO)") + 1 == 2  # every field of both records


def test_set_filter_needs_contains():
    """filter_records_on_set_param: set:contains=member."""
    ctx = Ctx(True)
    xe_select.list_records(ctx, xe_classes.SR, [("PBDs:contains", "u-p2")])
    ctx.printer.flush()
    assert ctx.out == ["u-s1\n"]
    with pytest.raises(CliFailure) as e:
        xe_select.list_records(ctx, xe_classes.SR, [("PBDs:has", "u-p2")])
    assert "set-param:contains=key" in str(e.value)


def test_standard_params_are_not_filters():
    """cli_operations.ml stdparams: minimal, all, server, ... never filter a list."""
    params = [("minimal", "true"), ("username", "root"), ("database:vdi-uuid", "x")]
    assert listing(params, minimal=True) == "u-p1,u-p2\n"


def test_sr_host_is_shared_for_several_pbds():
    """records.ml sr_record host: "<shared>" when the SR has more than one PBD."""
    ctx = Ctx(True)
    xe_select.list_records(ctx, xe_classes.SR, [("params", "host")])
    ctx.printer.flush()
    assert ctx.out == ["<shared>\n"]


def test_pool_master_prints_a_uuid():
    """records.ml pool_record master: get_uuid_from_ref, never the OpaqueRef."""
    field = xe_classes.POOL.field("master")
    lookup = xe_records.Lookup(Api())
    assert field.get(lookup, "OpaqueRef:pool", {"master": "OpaqueRef:h2"}) == "u-h2"
    assert field.get(lookup, "OpaqueRef:pool", {"master": "OpaqueRef:gone"}) == "<not in database>"


def test_labels_carry_the_mode():
    """cli_operations.ml print_field: ( RO) ( RW) (MRO) (MRW) (SRO) (SRW), [DEPRECATED]."""
    labels = [f.label for f in xe_classes.PBD.fields]
    assert labels[:2] == ["uuid ( RO)", "host ( RO) [DEPRECATED]"]
    assert "device-config (MRO)" in labels and "other-config (MRW)" in labels
    assert xe_classes.SR.field("PBDs").label == "PBDs (SRO)"
    assert xe_classes.SR.field("name-label").label == "name-label ( RW)"


def test_parse_commandline():
    """cli_frontend.ml parse_params_2: --x is x=true, -u/-pw/-s/-h/-p take a value, '=' splits once."""
    assert xe.parse_commandline(["sr-list", "--minimal", "params=a=b", "nonsense", "-u", "me"]) == (
        "sr-list", [("minimal", "true"), ("params", "a=b"), ("nonsense", ""), ("username", "me")])
    with pytest.raises(UsageError) as e:
        xe.parse_commandline(["name-label=x"])
    assert (e.value.kind, e.value.text) == ("Syntax error", "command name is missing")
    with pytest.raises(UsageError) as e:
        xe.parse_commandline(["sr-list", "-z", "1"])
    assert (e.value.kind, e.value.text) == ("Syntax error", "")


def test_error_with_datamodel_text_and_named_params():
    """cli_util.ml get_server_error: the datamodel's doc, then name: value lines, refs resolved."""
    lookup = xe_records.Lookup(Api())
    assert xe_errors.render_failure(["HANDLE_INVALID", "SR", "OpaqueRef:s1"], lookup.convert) == (
        "You gave an invalid object reference. The object may have recently been deleted. The class parameter "
        "gives the type of reference given, and the handle parameter echoes the bad value given.\n"
        "class: SR\nhandle: u-s1 (shared-ocfs2)\n")
    assert xe_errors.render_failure(["HA_NOT_ENABLED"]) == (
        "The operation could not be performed because HA is not enabled on the Pool\n")
    assert xe_errors.render_failure(["SR_HAS_NO_PBDS"]) == "The SR has no attached PBDs\nsr: <unknown>\n"
    assert xe_errors.render_failure(["HA_IS_ENABLED", "x"]).endswith("\n<extra>: x\n")


def test_error_unknown_to_the_datamodel_prints_code_and_params():
    """newcli.ml Command (Error (code, params)): Error code / Error parameters, refs resolved (ref_convert)."""
    lookup = xe_records.Lookup(Api())
    assert xe_errors.render_failure(["CLUSTER_STACK_CONSTRAINT", "OpaqueRef:s1", "corosync"], lookup.convert) == (
        "Error code: CLUSTER_STACK_CONSTRAINT\nError parameters: u-s1 (shared-ocfs2), corosync\n")
    assert xe_errors.render_failure(["SR_BACKEND_FAILURE_607", "", "The SR is not available", ""]) == (
        "Error code: SR_BACKEND_FAILURE_607\nError parameters: , The SR is not available, \n")
    assert lookup.convert("OpaqueRef:p1") == "u-p1"  # a class without name_label: the uuid alone


def test_usage_errors_print_as_param_error():
    """xapi_cli.ml param_error: "<kind>: <text>" then the hint, exit 1."""
    assert xe_errors.usage_error("Required parameter not found", "uuid") == (
        "Required parameter not found: uuid\nFor usage run: 'xe help'\n")
    assert xe_errors.render_authentication("root") == "Authentication failed\nFor usage run: 'xe help'\n"
    assert xe_errors.render_authentication("").startswith("Username/password must be specified\n")


def test_rc_file_and_options(tmp_path):
    """newcli.ml parse_args: command line over $XE_EXTRA_ARGS over ~/.xe; other rc keys become params."""
    (tmp_path / ".xe").write_text("server=rc-host\nusername=rcuser\n\nminimal=true\n")
    env = {"HOME": str(tmp_path)}
    options, rest = xe_connect.parse(["sr-list", "-u", "cli-user", "params=uuid"], env)
    assert (options.get("server"), options.get("username")) == ("rc-host", "cli-user")
    assert rest == ["sr-list", "params=uuid", "minimal=true"]
    options, rest = xe_connect.parse(["sr-list", "server=other", "-p", "8443"], dict(env, XE_EXTRA_ARGS="-u,x\\,y"))
    assert (options.get("server"), options.get("port"), options.get("username")) == ("other", "8443", "x,y")
    assert xe_connect.target(options, {}).where == "https://other:8443/"


def test_rc_file_with_a_bad_line_loads_nothing(tmp_path, capsys):
    """options.ml parse_lines: a line without '=' discards every default."""
    (tmp_path / ".xe").write_text("server=rc-host\nnonsense\n")
    options, _ = xe_connect.parse(["sr-list"], {"HOME": str(tmp_path)})
    assert options.get("server") is None
    assert capsys.readouterr().err == "Error parsing rc file. No defaults loaded\n"


def test_password_file_has_user_then_password(tmp_path):
    """newcli.ml read_pwf: username on the first line, password on the second."""
    good = tmp_path / "pwf"
    good.write_text("admin\nsecret\n")
    options, _ = xe_connect.parse(["sr-list", "-pwf", str(good)], {"HOME": str(tmp_path)})
    assert (options.get("username"), options.get("password")) == ("admin", "secret")
    bad = tmp_path / "bad"
    bad.write_text("onlyone\n")
    with pytest.raises(ClientError) as e:
        xe_connect.parse(["sr-list", "-pwf", str(bad)], {})
    assert "expecting username on the first line, password on the second line" in str(e.value)
    with pytest.raises(ClientError):
        xe_connect.parse(["sr-list", "-pwf", str(tmp_path / "absent")], {})


def test_no_implicit_pool():
    """Without -s, --embedded or $SM_CLUSTERSTACK_STATE the target is the local xapi (newcli's default)."""
    options, _ = xe_connect.parse(["sr-list"], {})
    assert xe_connect.target(options, {}).kind == "local"
    assert xe_connect.target(options, {"SM_CLUSTERSTACK_STATE": "/p"}).kind == "embedded"
    options, _ = xe_connect.parse(["sr-list", "-s", "/run/x.sock"], {})
    assert xe_connect.target(options, {"SM_CLUSTERSTACK_STATE": "/p"}).kind == "socket"  # an option beats the env
    options, _ = xe_connect.parse(["sr-list", "--embedded", "/p", "-s", "h"], {})
    with pytest.raises(UsageError):
        xe_connect.target(options, {})


def test_bytes_of_string():
    """record_util.ml bytes_of_string: KiB/MiB/GiB/TiB suffixes, case-insensitive."""
    assert xe_commands.bytes_of_string("4MiB") == 4 << 20
    assert xe_commands.bytes_of_string("2 g") == 2 << 30
    with pytest.raises(ValueError):
        xe_commands.bytes_of_string("-1")


def test_ha_config_typo_is_refused():
    with pytest.raises(ClientError) as e:
        xe_commands.check_ha_config({"timout": "30"})
    assert "ha-config:timout" in str(e.value)
    xe_commands.check_ha_config({"timeout": "30", "HeartbeatInterval": "2"})


def test_commands_and_their_required_params():
    """cli_frontend.ml cmdtable_data: pool-ha-enable needs nothing, sr-create name-label and type."""
    table = xe_commands.table()
    assert table["pool-ha-enable"].reqd == []
    assert table["sr-create"].reqd == ["name-label", "type"]
    for name in ("help", "sr-probe", "sr-scan", "pbd-create", "pbd-destroy", "vdi-list", "task-list",
                 "pool-ha-compute-max-host-failures-to-tolerate", "sr-param-list", "pbd-param-get",
                 "host-param-set", "pool-param-get", "task-cancel"):
        assert name in table
    assert "pbd-param-set" in table and "sm-param-set" not in table  # nothing of SM is settable


def test_help_of_one_command():
    """cli_frontend.ml rio_help: a record of name, reqd, optional params and description."""
    out = []
    xe_help.show(xe_commands.table(), [("pbd-plug", "")], xe_select.Printer(out.append))
    assert out[0].startswith("command name            : pbd-plug\n        reqd params     : uuid\n")


def test_host_commands_select_hosts_as_do_host_op():
    """cli_operations.ml do_host_op/select_hosts: host= (uuid, hostname or name-label) and field filters choose;
    none, or several without --multiple, is a failure; with --multiple each failure is a line (Multiple_failure)."""
    import XenAPI
    from sm_clusterstack.cli.xe.errors import MultipleFailure
    done = []

    def operation(api, host, params):
        done.append(host)
        if host == "OpaqueRef:h2":
            raise XenAPI.Failure(["HOST_NOT_DISABLED"])
    command = xe_commands.host_op(operation)
    command(Ctx(), [("host", "host1")])
    assert done == ["OpaqueRef:h1"]
    for params, text in (([("host", "nobody")], "No matching hosts found"),
                         ([], "Multiple matching hosts found. --multiple required to complete the operation")):
        with pytest.raises(CliFailure) as e:
            command(Ctx(), params)
        assert str(e.value) == text
    with pytest.raises(MultipleFailure) as e:
        command(Ctx(), [("multiple", "true")])
    assert str(e.value).startswith("operation failed on u-h2: This operation cannot be performed because the host "
                                   "is not disabled.")
    with pytest.raises(XenAPI.Failure):  # one host: the error itself, as xe prints it
        command(Ctx(), [("name-label", "host2")])


@pytest.mark.parametrize("cls", sorted(xe_classes.CLASSES))
def test_every_default_column_is_a_field_of_its_class(cls):
    """list_records refuses a params= name that is no field: a default column that is none would break -list."""
    xe_class = xe_classes.CLASSES[cls]
    assert [n for n in xe_class.default_params if xe_class.field(n) is None] == []
