"""xhad.conf and the liveset's XML declaration against xapi's own code, compiled (the xapi oracle).

The oracle (``../shared/thirdparty/xapi-oracle``, its SOURCE.md) compiles
xapi's ``xha_interface.ml`` (``DaemonConfiguration.to_xml_string``,
``LiveSetInformation.of_xml_string`` over xml-light2 and xmlm) and the 20
lines of ``xapi_ha.ml`` ``write_config_file`` that make xhad.conf:
``xhadconf-write`` prints the file xapi writes, ``liveset-check`` exits 0
when xapi's parser accepts a liveset.  Built once into build/xapi-oracle
(``sh build.sh``: Debian's OCaml packages); without its sources beside the
project (or XAPI_ORACLE_SRC) the tests skip and say why.
"""

import fcntl
import os
import subprocess

import pytest

from sm_clusterstack.stacks import liveset, xhadconf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCE = (os.environ.get("XAPI_ORACLE_SRC")
          or os.path.join(os.path.dirname(ROOT), "shared", "thirdparty", "xapi-oracle"))
BUILT = os.path.join(ROOT, "build", "xapi-oracle")
A, B, C = "aaaaaaaa-0000-4000-8000-000000000001", "BBBBBBBB-0000-4000-8000-000000000002", \
    "cccccccc-0000-4000-8000-000000000003"
GENERATION = "11111111-2222-4333-8444-555555555555"


@pytest.fixture(scope="module")
def oracle():
    """The directory of ``xhadconf-write`` and ``liveset-check``, built if needed (once: the workers of a
    parallel run wait for each other on a lock, as build.sh starts by emptying its build dir)."""
    if not os.path.isfile(os.path.join(SOURCE, "build.sh")):
        pytest.skip("no xapi oracle sources at %s (set XAPI_ORACLE_SRC)" % SOURCE)
    os.makedirs(os.path.dirname(BUILT), exist_ok=True)
    with open(BUILT + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all(os.access(os.path.join(BUILT, t), os.X_OK) for t in ("xhadconf-write", "liveset-check")):
            built = subprocess.run(["sh", os.path.join(SOURCE, "build.sh"), BUILT], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=1200)
            if built.returncode != 0:
                pytest.fail("the xapi oracle did not build:\n%s" % built.stdout.decode("utf-8", "replace")[-3000:])
    return BUILT


CONFS = {
    "IPv4 hosts": dict(hosts=[(A, "10.0.0.1"), (B, "10.0.0.2"), (C, "10.0.0.3")], statefile="/dev/sm/x/y"),
    "IPv6 management addresses": dict(hosts=[(A, "fd00::1"), (B, "fd00::2")], statefile="/dev/sm/x/y"),
    "a statefile path with quotes and markup": dict(hosts=[(A, "10.0.0.1")], statefile='/dev/a"b<c>&d\'e'),
    "a statefile path with tabs, controls and UTF-8": dict(hosts=[(A, "10.0.0.1")], statefile="/dev/\u00e9\tx\x01y"),
    "no interfaces": dict(hosts=[(A, "10.0.0.1")], statefile="/s", interface="", physical=""),
    "timeout 10": dict(hosts=[(A, "10.0.0.1"), (B, "10.0.0.2")], statefile="/s", timeout=10),
    "timeout 1000": dict(hosts=[(A, "10.0.0.1")], statefile="/s", timeout=1000),
}


@pytest.mark.parametrize("case", sorted(CONFS))
def test_xhad_conf_is_byte_for_byte_what_xapi_writes(oracle, case):
    conf = CONFS[case]
    hosts, timeout = conf["hosts"], conf.get("timeout", 60)
    interface, physical = conf.get("interface", "xenbr0"), conf.get("physical", "eth0")
    argv = [os.path.join(oracle, "xhadconf-write"), "--generation", GENERATION, "--local", hosts[0][0],
            "--interface", interface, "--physical-interface", physical, "--statefile", conf["statefile"],
            "--timeout", str(timeout)]
    for host_id, address in hosts:
        argv += ["--host", "%s=%s" % (host_id, address)]
    theirs = subprocess.run(argv, stdout=subprocess.PIPE, check=True, timeout=60).stdout
    mine = xhadconf.XhadConfig(GENERATION, [xhadconf.Host(h, a) for h, a in hosts], hosts[0][0], conf["statefile"],
                               parameters=xhadconf.derive_timeouts(timeout), heartbeat_interface=interface,
                               heartbeat_physical_interface=physical).to_xml()
    assert mine == theirs


BODY = ('<ha_liveset_info version="1.0"><status>Online</status><localhost><HostID>%s</HostID></localhost>'
        '<host><HostID>%s</HostID><liveness>TRUE</liveness><master>TRUE</master><statefile_access>TRUE'
        '</statefile_access><statefile_corrupted>FALSE</statefile_corrupted><excluded>FALSE</excluded></host>'
        '</ha_liveset_info>' % (A, A))
DECLARATIONS = [
    '', '<?xml version="1.0"?>', '<?xml version="1.1"?>', '<?xml version="2.0"?>', '<?xml version="1.2"?>',
    '<?xml version="01.0"?>', '<?xml version="1.0a"?>', '<?xml version=""?>', '<?xml version=" 1.0 "?>',
    "<?xml version='1.0'?>", '<?xml version="1.0" encoding="utf-8"?>', '<?xml version="1.0" encoding="UTF-8"?>',
    '<?xml version="1.0" encoding="latin1"?>', '<?xml version="1.0" encoding="ISO-8859-1"?>',
    '<?xml version="1.0" encoding="iso-8859-15"?>', '<?xml version="1.0" encoding="us-ascii"?>',
    '<?xml version="1.0" encoding="UTF-16"?>', '<?xml version="1.0" encoding="utf-16le"?>',
    '<?xml version="1.0" encoding=" utf-8 "?>', '<?xml version="1.0" encoding=""?>',
    '<?xml version="1.0" standalone="yes"?>', '<?xml version="1.0" standalone="maybe"?>',
    '<?xml version="1.0" standalone=" yes"?>', '<?xml encoding="utf-8"?>',
    '<?xml version="1.0" encoding="utf-8" standalone="no"?>', '<?xml version="1.0" standalone="yes" encoding="utf-8"?>',
    '<?xml version="1.0" foo="bar"?>', '<?xml  version = "1.0" ?>', '<?xml version="1.0"encoding="utf-8"?>',
    ' <?xml version="1.0"?>', '<?XML version="1.0"?>', '<?xml?>', '<?xml version="1.0"?><?xml version="1.0"?>',
    '\ufeff<?xml version="1.0"?>', '<?xml version="1.0"?>\n<!-- c --><?pi x?>\n',
]


@pytest.mark.parametrize("declaration", DECLARATIONS)
def test_the_liveset_parser_takes_exactly_the_xml_declarations_xapi_takes(oracle, tmp_path, declaration):
    """xmlm's ``p_xml_decl``: version 1.0 or 1.1 first, known encodings, standalone yes/no, in order."""
    path = tmp_path / "liveset.xml"
    path.write_bytes((declaration + BODY).encode("utf-8"))
    theirs = subprocess.run([os.path.join(oracle, "liveset-check"), str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, timeout=60).returncode
    assert theirs in (0, 2)
    try:
        liveset.parse(path.read_bytes())
        mine = 0
    except liveset.XMLFormatError:
        mine = 2
    assert mine == theirs
