"""The kit's own heartbeat SR driver, type ``kitstatefile``: holds the HA statefile on the embedded pool.

To enable HA on its embedded pool the kit needs an SR that every host has
plugged and that can hold a raw statefile VDI; this driver gives one: the
SR is the directory ``device_config:path`` and each VDI a file in it.  It
declares no cluster-stack constraint and is installed only in the kit's
sandbox sm-dir, next to the driver under test.
"""

import os
import sys
import typing
import uuid

from sm_clusterstack.smapi import call as call_model

TYPE = "kitstatefile"
EXECUTABLE = "KitstatefileSR"
INFO = {
    "name": "Kit statefile SR", "description": "files in a directory, for the kit's embedded pool",
    "vendor": "sm-clusterstack", "copyright": "the sm-clusterstack authors", "driver_version": "1.0",
    "required_api_version": "1.0",
    "capabilities": ["VDI_CREATE", "VDI_DELETE", "VDI_ATTACH", "VDI_DETACH", "VDI_ATTACH_OFFLINE"],
    "configuration": [{"key": "path", "description": "absolute path of the SR's directory"}],
    "required_cluster_stack": [],
}


class _Fault(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super(_Fault, self).__init__(reason)
        self.code = code


def _sr_dir(request: call_model.Call) -> str:
    path = request.device_config.get("path", "")
    if not path.startswith("/") or ".." in path.split("/") or not os.path.isdir(path):
        raise _Fault(602, "device_config path %r is not an existing absolute directory" % path[:200])
    return path


def _vdi_file(request: call_model.Call) -> str:
    name = os.path.basename(request.vdi_location or "")
    if not name or name.startswith("."):
        raise _Fault(144, "no such VDI %r" % request.vdi_location)
    return os.path.join(_sr_dir(request), name)


def _vdi_create(request: call_model.Call) -> typing.Dict[str, str]:
    new = str(uuid.uuid4())
    size = int(request.args[0]) if request.args and request.args[0].isdigit() else 0
    with open(os.path.join(_sr_dir(request), new), "wb") as f:
        f.truncate(size)
    return {"uuid": new, "location": new}


def _vdi_delete(request: call_model.Call) -> None:
    try:
        os.unlink(_vdi_file(request))
    except FileNotFoundError:
        pass


COMMANDS = {
    "sr_get_driver_info": lambda r: INFO,
    "sr_create": lambda r: _sr_dir(r) and None, "sr_attach": lambda r: _sr_dir(r) and None,
    "sr_detach": lambda r: None, "sr_delete": lambda r: None, "sr_scan": lambda r: None,
    "sr_update": lambda r: None, "vdi_create": _vdi_create, "vdi_delete": _vdi_delete,
    "vdi_attach": lambda r: {"params": _vdi_file(r), "xenstore_data": {}},
    "vdi_detach": lambda r: None,
}  # type: typing.Dict[str, typing.Callable[[call_model.Call], typing.Any]]


def answer(argv: typing.List[str]) -> str:
    """The methodResponse for one invocation (never raises)."""
    try:
        if len(argv) != 2:
            raise _Fault(600, "expected one argument")
        request = call_model.parse(argv[1])
        handler = COMMANDS.get(request.command)
        if handler is None:
            raise _Fault(38, "%s is not implemented" % request.command)
        return call_model.response(handler(request))
    except call_model.CallError as e:
        return call_model.fault(600, str(e))
    except _Fault as e:
        return call_model.fault(e.code, str(e))
    except OSError as e:
        return call_model.fault(609, str(e))


def main() -> int:
    """Entry point of the ``KitstatefileSR`` executable."""
    sys.stdout.write(answer(sys.argv))
    return 0


def install(sm_dir: str) -> str:
    """Write the ``KitstatefileSR`` executable into ``sm_dir``, using this interpreter; its path."""
    path = os.path.join(sm_dir, EXECUTABLE)
    with open(path, "w") as f:
        f.write("#!%s\nimport sys\nfrom sm_clusterstack.kit.statefile_sr import main\nsys.exit(main())\n"
                % sys.executable)
    os.chmod(path, 0o755)
    return path
