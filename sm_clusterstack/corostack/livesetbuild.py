"""The liveset ha_query_liveset prints, from the monitor's view.

xapi's parser (``xha_interface.ml`` ``LiveSetInformation``) takes the
optional blocks all or nothing, so both are always complete: all five
warnings and the whole raw status (all nine latencies and, for every
configured host, all five host_raw_data fields).

- status: Online while this host is in the liveset, else Starting;
- liveness: the host is in the committed liveset (a lost host stays in it
  until its fence deadline has passed, see ``arbitration.may_drop``);
- master: the host the statefile names, if it is live;
- statefile_access: this host's own reads, and for the others whether
  their slot is fresh; statefile_corrupted: what this host reads;
- excluded: as the statefile records;
- latencies in ms: heartbeat from corosync's knet links, statefile from
  this host's own slot write and reads; no xapi health check runs here, so
  its three are 0;
- notes (leaves of the raw status xapi ignores, for ``ha status``):
  ``watchdog``, why this host has no kernel watchdog; ``fence``, how the
  kernel's reboot is made where it is not sysrq; ``statefile_io``, why its
  statefile I/O is buffered (O_DIRECT refused); ``statefile_blocks``, whose
  slots its last statefile round did not trust, and why.  (A fencing host
  prints no liveset: ha_query_liveset exits 14 saying why it fences.)
"""

import typing

from sm_clusterstack.corostack import view as view_mod
from sm_clusterstack.stacks.liveset import Liveset, LivesetHost
from sm_clusterstack.stacks.xhadconf import XhadConfig


def raw_status(v: view_mod.View) -> typing.Dict[str, int]:
    """The nine latencies of raw_status_on_local_host."""
    found = {}
    for name, (last, low, high) in (("statefile_latency", v.statefile_latency),
                                    ("heartbeat_latency", v.heartbeat_latency)):
        found.update({name: last, name + "_min": low, name + "_max": high})
    found.update(Xapi_healthcheck_latency=0, Xapi_healthcheck_latency_min=0, Xapi_healthcheck_latency_max=0)
    return found


def build(conf: XhadConfig, v: view_mod.View, slot_stale: float) -> Liveset:
    """The liveset for the monitor view ``v``."""
    me = conf.local_host_id.lower()
    online = v.state == "online"
    committed = set(v.committed) if online else set()
    hosts, raw = [], {}
    for host in conf.hosts:
        host_id = host.host_id.lower()
        fields = v.raw_hosts.get(host_id, {})
        live = host_id in committed
        fresh = fields.get("time_since_last_update_on_statefile", 1 << 40) < slot_stale * 1000
        hosts.append(LivesetHost(
            host.host_id, liveness=live, master=live and host_id == v.master,
            statefile_access=v.statefile_access if host_id == me else live and fresh,
            statefile_corrupted=v.statefile_corrupted, excluded=host_id in v.excluded))
        raw[host.host_id] = dict(fields)
    status = view_mod.STATUS.get(v.state, "Starting")
    return Liveset(status, conf.local_host_id, hosts, raw_status(v), raw, dict(v.warnings), notes(v))


def notes(v: view_mod.View) -> typing.Dict[str, str]:
    """The stack's notes for ``ha status``: no kernel watchdog, how the kernel's reboot is made, buffered
    statefile I/O, untrusted slots."""
    found = {"watchdog": "no kernel watchdog: %s" % v.watchdog} if v.watchdog else {}
    if v.kernel_fence:
        found["fence"] = v.kernel_fence
    if v.statefile_io:
        found["statefile_io"] = v.statefile_io
    if v.statefile_damaged:
        found["statefile_blocks"] = "; ".join("%s: %s" % item for item in sorted(v.statefile_damaged.items()))
    return found
