"""Why and what next for the refusals about the heartbeat SR, a plug and the hosts (``explain``'s second half).

Pure functions of the error's params and the ``explain.PoolView`` (read
through its attributes: this module does not import ``explain``, which
imports it); the rules they quote are ``constraints``'.
"""

import typing

from sm_clusterstack import constraints, errors


def size_text(size: int) -> str:
    """Bytes with thousands separators and in binary units: ``3,992,977,408 bytes (3.7 GiB)``."""
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            break
        value /= 1024
    return "{:,} bytes ({:.1f} {})".format(size, value, unit)


def _host_names(view, refs: typing.Iterable[str]) -> str:
    return ", ".join(view.hosts.get(ref, ref) for ref in refs)


def _unplugged(view, sr) -> typing.List[str]:
    """The hosts where ``sr`` is not plugged (a rule of constraints), in the pool's order."""
    return constraints.hosts_without_attached_pbd(list(view.hosts), [h for h, attached, _ in sr.pbds if attached])


def _no_pbds(params, view, request) -> typing.List[str]:
    sr = view.sr(params[0])
    if sr is None or not view.hosts:
        return ["Why: the heartbeat SR must be plugged on every host of the pool (xe pbd-list sr-uuid=...)."]
    missing = _unplugged(view, sr)
    plugged = [h for h in view.hosts if h not in missing]
    steps = ["xe pbd-plug uuid=%s" % uuid for host, attached, uuid in sr.pbds if not attached]
    steps += ["xe pbd-create sr-uuid=%s host-uuid=<uuid of %s> device-config:..., then plug it"
              % (sr.uuid, view.hosts[h]) for h in missing if h not in {p[0] for p in sr.pbds}]
    return ["Why: the statefile SR must be plugged on every host, and %s is not plugged on %s (plugged on %s)."
            % (sr, _host_names(view, missing) or "none", _host_names(view, plugged) or "none"),
            "Next: %s." % "; ".join(steps or ["plug it on every host (xe pbd-list sr-uuid=%s)" % sr.uuid])]


def _room(sr) -> str:
    if sr.size is None:
        return "its free space is not known"
    if sr.size <= 0:
        return "its size was never measured (physical-size %d)" % sr.size
    return "has %s free (size {:,}, used {:,})".format(sr.size, sr.used) % size_text(sr.size - sr.used)


def _space(params, view, request) -> typing.List[str]:
    sr = view.sr(params[0])
    needed = "needs %s free for the statefile and the redo-log VDIs (xapi's minimum_sr_size), unless VDIs of " \
             "both kinds from an earlier enable are there to reuse" % size_text(constraints.MINIMUM_SR_SIZE)
    if sr is None:
        return ["Why: the heartbeat SR %s." % needed]
    lines = ["Why: HA %s; %s %s." % (needed, sr, _room(sr))]
    if sr.size is not None and sr.size <= 0:
        return lines + ["Next: xe sr-scan uuid=%s (it measures the SR), then try again." % sr.uuid]
    return lines + ["Next: give heartbeat-sr-uuids= an SR with that much free (xe sr-list params=uuid,"
                    "physical-size,physical-utilisation), or make room on this one."]


def _statefile_problem(view, sr) -> typing.Optional[str]:
    """Why ``sr`` cannot hold the statefile, as far as the view tells (None: nothing seen)."""
    missing = _unplugged(view, sr) if view.hosts else []
    if missing:
        return "not plugged on %s" % _host_names(view, missing)
    if _lacks_offline_attach(sr):
        return _offline_attach_text(sr)
    if sr.size is not None:
        try:
            constraints.check_statefile_room(sr.ref, sr.size, sr.used)
        except errors.XenAPIError:
            return _room(sr) + ", needs %s" % size_text(constraints.MINIMUM_SR_SIZE) + (
                " (xe sr-scan uuid=%s)" % sr.uuid if sr.size <= 0 else "")
    return None


def _no_statefile_sr(params, view, request) -> typing.List[str]:
    if not view.srs:
        return ["Why: there is no SR in the pool to hold the statefile.",
                "Next: create a shared SR plugged on every host (xe sr-create shared=true ...)."]
    problems = ["%s: %s" % (sr, _statefile_problem(view, sr) or "see sm-clusterstack ha preflight heartbeat-sr-uuids="
                            + sr.uuid) for sr in view.srs]
    return ["Why: no SR can hold the statefile: %s." % "; ".join(problems),
            "Next: fix one of them, or name one with heartbeat-sr-uuids= to see its check alone."]


def _not_sharable(params, view, request) -> typing.List[str]:
    sr, host = view.sr(params[0]), params[1]
    if sr is None:
        return ["Why: the SR is not shared and is attached on another host."]
    pbds = [uuid for h, attached, uuid in sr.pbds if h == host and attached]
    return ["Why: %s is not shared and is attached on %s: a PBD of a non-shared SR is plugged on one host at a "
            "time (xapi's check_sharing_constraint)." % (sr, view.hosts.get(host, host)),
            "Next: unplug it there first (%s), or, for storage every host reaches, use an SR created shared "
            "(xe sr-create shared=true ...)." % (
                "xe pbd-unplug uuid=%s" % pbds[0] if pbds else "xe pbd-list sr-uuid=%s" % sr.uuid)]


def _lacks_offline_attach(sr) -> bool:
    if sr.features is None:
        return False
    try:
        constraints.check_offline_attach(sr.ref, sr.features)
    except errors.XenAPIError:
        return True
    return False


def _offline_attach_text(sr) -> str:
    return "its SM %s declares neither %s (static-vdis could not attach the statefile at boot)" % (
        sr.type, " nor ".join(constraints.OFFLINE_ATTACH_FEATURES))


def _no_offline_attach(params, view, request) -> typing.List[str]:
    sr = view.sr(params[0])
    if sr is None or not _lacks_offline_attach(sr):
        return []  # another operation the driver does not implement: the error says it all
    return ["Why: %s cannot hold the statefile: %s." % (sr, _offline_attach_text(sr)),
            "Next: give heartbeat-sr-uuids= an SR of a type whose driver declares one of them "
            "(xe sm-list params=type,features)."]


def _host_offline(params, view, request) -> typing.List[str]:
    name = view.hosts.get(params[0], params[0])
    return ["Why: host %s is not live: it is shut down, or HA's liveset does not see it (enable_ha needs every "
            "host live)." % name,
            "Next: boot it (xe host-reboot host=%s) and wait until xe host-list params=name-label,"
            "host-metrics-live shows it live; then try again." % name]


def _ha_is_enabled(params, view, request) -> typing.List[str]:
    return ["Why: HA is enabled on cluster stack %s; its heartbeat SR stays plugged and HA cannot be enabled "
            "again while it runs." % (view.ha_cluster_stack or "(unknown)"),
            "Next: xe pool-ha-disable first."]


HANDLERS = {
    errors.SR_NO_PBDS: _no_pbds,
    errors.SR_SOURCE_SPACE_INSUFFICIENT: _space,
    errors.CANNOT_CREATE_STATE_FILE: _no_statefile_sr,
    errors.SR_NOT_SHARABLE: _not_sharable,
    errors.SR_OPERATION_NOT_SUPPORTED: _no_offline_attach,
    errors.HOST_OFFLINE: _host_offline,
    errors.HA_IS_ENABLED: _ha_is_enabled,
}
