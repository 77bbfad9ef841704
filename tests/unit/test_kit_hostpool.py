"""What the kit writes on each of its hosts is what xapi writes (xha_interface.ml, xapi_ha.ml)."""

from sm_clusterstack.kit import hostpool
from sm_clusterstack.stacks import xhadconf


class _Host(object):
    def __init__(self, number):
        self.address = "10.213.0.%d" % number
        self.bridge, self.device = "xenbr0", "eth0"


class _Pool(object):
    hosts = [_Host(1), _Host(2)]


def _hosts():
    kit = hostpool.KitHosts("/tmp/state", 2, "s13unit", "/srv/stacks/xhad", 10)
    kit.pool = _Pool()
    return kit


def test_xhad_conf_is_written_as_xapi_writes_it():
    """DaemonConfiguration.to_xml_element: port 694, every host, twelve parameters, bridge and PIF, statefile."""
    kit = _hosts()
    conf = xhadconf.parse(kit.config(1).to_xml())
    assert conf.udp_port == 694
    assert [(h.host_id, h.ip_address) for h in conf.hosts] == list(zip(kit.host_ids, ["10.213.0.1", "10.213.0.2"]))
    assert conf.local_host_id == kit.host_ids[1] and conf.generation_uuid == kit.config(0).generation_uuid
    assert conf.parameters == xhadconf.derive_timeouts(10) and len(conf.parameters) == 12
    assert (conf.heartbeat_interface, conf.heartbeat_physical_interface) == ("xenbr0", "eth0")
    assert conf.statefile == "/tmp/state/statefile"


def test_the_stack_keeps_its_name_under_the_root_xhads_scripts_hard_code():
    kit = _hosts()
    assert (kit.stack_root, kit.stack_name) == ("/srv/stacks", "xhad")
    assert kit.stack_inside == "/usr/libexec/xapi/cluster-stack/xhad"


def test_host_paths_must_be_absolute_and_exist(tmp_path):
    hostpool.check_host_paths({"/opt/xensource/xha": str(tmp_path)})
    for bad in ({"opt/x": str(tmp_path)}, {"/": str(tmp_path)}, {"/opt/x": str(tmp_path / "absent")}):
        try:
            hostpool.check_host_paths(bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % bad)
