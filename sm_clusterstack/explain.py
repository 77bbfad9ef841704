"""What is in the way and what to do next, for the errors about cluster stacks and the heartbeat SR.

The XenAPI errors keep xapi's codes and params exactly; the CLI (after
xe's own error text) and the shim's log add these lines.  Each explanation
is a pure function of the error and a ``PoolView`` (the SRs with their
required stacks and whether they are attached, the HA state, the installed
stacks with their ``ha_supported_srs``, the default stack), built by the
shim from its store or by the CLI from XenAPI reads; what the view does not
know (a real xapi does not tell the installed stacks) is left out, never
guessed.
"""

import typing

from sm_clusterstack import constraints, errors

CODES = (errors.INCOMPATIBLE_CLUSTER_STACK_ACTIVE, errors.INCOMPATIBLE_STATEFILE_SR,
         errors.CLUSTER_STACK_CONSTRAINT, errors.UNKNOWN_CLUSTER_STACK, errors.SR_NO_PBDS,
         errors.SR_SOURCE_SPACE_INSUFFICIENT, errors.CANNOT_CREATE_STATE_FILE, errors.SR_NOT_SHARABLE,
         errors.SR_OPERATION_NOT_SUPPORTED, errors.HOST_OFFLINE, errors.HA_IS_ENABLED)
Installed = typing.Optional[typing.Dict[str, typing.Optional[typing.List[str]]]]


Pbd = typing.Tuple[str, bool, str]  # (host ref, currently attached, PBD uuid)


class SRView(object):
    """An SR as the explanations see it; ``size`` and ``features`` None when unknown, ``pbds`` as ``Pbd``."""

    __slots__ = ("ref", "uuid", "name", "type", "required", "attached", "size", "used", "pbds", "features")

    def __init__(self, ref: str, uuid: str, name: str, type: str, required: typing.Sequence[str],
                 attached: bool, size: typing.Optional[int] = None, used: int = 0,
                 pbds: typing.Sequence[Pbd] = (), features: typing.Optional[typing.Sequence[str]] = None) -> None:
        self.ref, self.uuid, self.name, self.type = ref, uuid, name, type
        self.required, self.attached = list(required), attached
        self.size, self.used, self.pbds = size, used, list(pbds)
        self.features = None if features is None else list(features)  # its SM's, None when unknown

    def __str__(self):
        return "SR %s (%s, type %s)" % (self.uuid, self.name, self.type)


class PoolView(object):
    """The pool as the explanations see it; ``installed`` None when unknown."""

    def __init__(self, srs: typing.List[SRView], ha_enabled: bool, ha_cluster_stack: str,
                 installed: Installed = None, default_stack: typing.Optional[str] = None,
                 hosts: typing.Optional[typing.Dict[str, str]] = None) -> None:
        self.srs = srs
        self.hosts = hosts or {}  # host ref -> name, in the pool's order
        self.ha_enabled = ha_enabled
        self.ha_cluster_stack = ha_cluster_stack
        self.installed = installed
        self.default_stack = default_stack

    def sr(self, ref: str) -> typing.Optional[SRView]:
        found = [s for s in self.srs if s.ref == ref]
        return found[0] if found else None

    def constraining(self) -> typing.List[SRView]:
        return sorted((s for s in self.srs if s.attached and s.required), key=lambda s: s.ref)


def _or(names: typing.Sequence[str]) -> str:
    return " or ".join(names) if names else "nothing"


def _stacks_of(view: PoolView) -> str:
    if view.installed is None:
        return ""
    return ", ".join(sorted(view.installed)) or "none"


def explain(code: str, params: typing.List[str], view: PoolView,
            request: typing.Optional[dict] = None) -> typing.List[str]:
    """``Why: ...`` and ``Next: ...`` lines for the error ``code`` with ``params`` ([] if not ours)."""
    handlers = {
        errors.INCOMPATIBLE_CLUSTER_STACK_ACTIVE: _incompatible_active,
        errors.INCOMPATIBLE_STATEFILE_SR: _statefile_sr,
        errors.CLUSTER_STACK_CONSTRAINT: _constraint,
        errors.UNKNOWN_CLUSTER_STACK: _unknown,
        errors.SR_NO_PBDS: _no_pbds,
        errors.SR_SOURCE_SPACE_INSUFFICIENT: _space,
        errors.CANNOT_CREATE_STATE_FILE: _no_statefile_sr,
        errors.SR_NOT_SHARABLE: _not_sharable,
        errors.SR_OPERATION_NOT_SUPPORTED: _no_offline_attach,
        errors.HOST_OFFLINE: _host_offline,
        errors.HA_IS_ENABLED: _ha_is_enabled,
    }
    if code not in handlers:
        return []
    return handlers[code](params + ["", ""], view, request or {})


def _incompatible_active(params, view: PoolView, request) -> typing.List[str]:
    needs = [s for s in params[0].split(",") if s]
    blockers = [s for s in view.constraining() if not set(s.required) & set(needs)]
    if blockers:  # an attached SR of another stack: disabling HA alone would not let this one attach
        sr = blockers[0]
        first = "disable HA (xe pool-ha-disable), then " if view.ha_enabled else ""
        return ["Why: %s is attached and needs %s: no cluster stack serves both it and an SR needing %s%s."
                % (sr, _or(sr.required), _or(needs),
                   " (HA runs %s)" % view.ha_cluster_stack if view.ha_enabled else ""),
                "Next: %sunplug %s on every host first (xe pbd-unplug for each of: xe pbd-list sr-uuid=%s "
                "params=uuid --minimal), or use an SR type that %s serves." % (
                    first, sr.uuid, sr.uuid, _or(sr.required))]
    if view.ha_enabled and view.ha_cluster_stack not in needs:
        return ["Why: HA is enabled on cluster stack %s, and an SR of this type needs %s; no attached SR "
                "requires %s." % (view.ha_cluster_stack, _or(needs), view.ha_cluster_stack),
                "Next: disable HA (xe pool-ha-disable), attach the SR, then enable HA again: the rules then "
                "choose a stack that serves every attached SR."]
    together = constraints.required_stacks(
        [constraints.SR(s.ref, s.type, s.required) for s in view.constraining()])
    if together is not None:
        return ["Why: the attached SRs (%s) together allow only %s, and an SR of this type needs %s."
                % (", ".join(s.uuid for s in view.constraining()), _or(together), _or(needs)),
                "Next: unplug one of those SRs first, or use an SR type that %s serves." % _or(together)]
    return ["Why: the SR that was in the way is no longer attached; try again."]


def chosen_stack(view: PoolView, requested: str) -> typing.Tuple[typing.Optional[str], str]:
    """(the stack enable_ha chose, or None when the view cannot tell; why, in words)."""
    if requested:
        return requested, "it was requested (cluster-stack=%s)" % requested
    constraining = view.constraining()
    if not constraining:
        default = view.default_stack or "the pool's default (cluster-stack-default, xhad unless set)"
        return view.default_stack, "no attached SR requires a cluster stack, so it is %s" % default
    candidates = constraints.required_stacks([constraints.SR(s.ref, s.type, s.required) for s in constraining])
    reason = "%s is attached and needs %s" % (constraining[0], _or(constraining[0].required))
    if view.installed is not None:
        installed = [c for c in candidates if c in view.installed]
        return (installed[0] if installed else None), reason
    return (candidates[0] if len(candidates) == 1 else None), reason


def _statefile_sr(params, view: PoolView, request) -> typing.List[str]:
    types = [t for t in params[0].split(",") if t]
    stack, reason = chosen_stack(view, request.get("cluster_stack", ""))
    given = [view.sr(ref) for ref in request.get("heartbeat_srs", [])]
    given = [s for s in given if s is not None and s.type not in types]
    lines = ["Why: enable_ha chose cluster stack %s because %s; its ha_supported_srs lists %s, so the statefile "
             "can only live on an SR of those types%s." % (
                 stack or "(see the rules)", reason, ", ".join(types),
                 ", and %s is not one" % given[0] if given else "")]
    return lines + ["Next: give heartbeat-sr-uuids= an SR of type %s plugged on every host (xe sr-list type=%s)."
                    % (_or(types), types[0] if types else "...")]


def _constraint(params, view: PoolView, request) -> typing.List[str]:
    sr, needed = view.sr(params[0]), params[1]
    what = str(sr) if sr is not None else "the object %s" % params[0]
    return ["Why: %s is attached and requires cluster stack %s; HA cannot run another stack while it is attached."
            % (what, _or(sr.required) if sr is not None and sr.required else needed),
            "Next: enable HA with cluster-stack=%s, or without cluster-stack= (the rules then choose), or unplug "
            "that SR first." % needed]


def _unknown(params, view: PoolView, request) -> typing.List[str]:
    name = params[0]
    if not constraints.is_valid_name(name):
        why = "Why: %r is not a cluster stack name (one path component of [A-Za-z0-9._-], at most 64)." % name
    elif request.get("cluster_stack") == name or not view.constraining():
        why = "Why: no directory %s under the cluster-stack root." % name
    else:
        why = "Why: %s is attached and needs %s, which is not installed." % (view.constraining()[0], name)
    installed = _stacks_of(view)
    return [why + (" Installed stacks: %s." % installed if installed else ""),
            "Next: install that stack (its directory under the cluster-stack root, on every host)%s."
            % (", or choose one of: %s" % installed if installed and installed != "none" else "")]


def size_text(size: int) -> str:
    """Bytes with thousands separators and in binary units: ``3,992,977,408 bytes (3.7 GiB)``."""
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            break
        value /= 1024
    return "{:,} bytes ({:.1f} {})".format(size, value, unit)


def _host_names(view: PoolView, refs: typing.Iterable[str]) -> str:
    return ", ".join(view.hosts.get(ref, ref) for ref in refs)


def _unplugged(view: PoolView, sr: SRView) -> typing.List[str]:
    """The hosts where ``sr`` is not plugged (a rule of constraints), in the pool's order."""
    return constraints.hosts_without_attached_pbd(list(view.hosts), [h for h, attached, _ in sr.pbds if attached])


def _no_pbds(params, view: PoolView, request) -> typing.List[str]:
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


def _room(sr: SRView) -> str:
    if sr.size is None:
        return "its free space is not known"
    if sr.size <= 0:
        return "its size was never measured (physical-size %d)" % sr.size
    return "has %s free (size {:,}, used {:,})".format(sr.size, sr.used) % size_text(sr.size - sr.used)


def _space(params, view: PoolView, request) -> typing.List[str]:
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


def _statefile_problem(view: PoolView, sr: SRView) -> typing.Optional[str]:
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


def _no_statefile_sr(params, view: PoolView, request) -> typing.List[str]:
    if not view.srs:
        return ["Why: there is no SR in the pool to hold the statefile.",
                "Next: create a shared SR plugged on every host (xe sr-create shared=true ...)."]
    problems = ["%s: %s" % (sr, _statefile_problem(view, sr) or "see sm-clusterstack ha preflight heartbeat-sr-uuids="
                            + sr.uuid) for sr in view.srs]
    return ["Why: no SR can hold the statefile: %s." % "; ".join(problems),
            "Next: fix one of them, or name one with heartbeat-sr-uuids= to see its check alone."]


def _not_sharable(params, view: PoolView, request) -> typing.List[str]:
    sr, host = view.sr(params[0]), params[1]
    if sr is None:
        return ["Why: the SR is not shared and is attached on another host."]
    pbds = [uuid for h, attached, uuid in sr.pbds if h == host and attached]
    return ["Why: %s is not shared and is attached on %s: a PBD of a non-shared SR is plugged on one host at a "
            "time (xapi's check_sharing_constraint)." % (sr, view.hosts.get(host, host)),
            "Next: unplug it there first (%s), or, for storage every host reaches, use an SR created shared "
            "(xe sr-create shared=true ...)." % (
                "xe pbd-unplug uuid=%s" % pbds[0] if pbds else "xe pbd-list sr-uuid=%s" % sr.uuid)]


def _lacks_offline_attach(sr: SRView) -> bool:
    if sr.features is None:
        return False
    try:
        constraints.check_offline_attach(sr.ref, sr.features)
    except errors.XenAPIError:
        return True
    return False


def _offline_attach_text(sr: SRView) -> str:
    return "its SM %s declares neither %s (static-vdis could not attach the statefile at boot)" % (
        sr.type, " nor ".join(constraints.OFFLINE_ATTACH_FEATURES))


def _no_offline_attach(params, view: PoolView, request) -> typing.List[str]:
    sr = view.sr(params[0])
    if sr is None or not _lacks_offline_attach(sr):
        return []  # another operation the driver does not implement: the error says it all
    return ["Why: %s cannot hold the statefile: %s." % (sr, _offline_attach_text(sr)),
            "Next: give heartbeat-sr-uuids= an SR of a type whose driver declares one of them "
            "(xe sm-list params=type,features)."]


def _host_offline(params, view: PoolView, request) -> typing.List[str]:
    name = view.hosts.get(params[0], params[0])
    return ["Why: host %s is not live: it is shut down, or HA's liveset does not see it (enable_ha needs every "
            "host live)." % name,
            "Next: boot it (xe host-reboot host=%s) and wait until xe host-list params=name-label,"
            "host-metrics-live shows it live; then try again." % name]


def _ha_is_enabled(params, view: PoolView, request) -> typing.List[str]:
    return ["Why: HA is enabled on cluster stack %s; its heartbeat SR stays plugged and HA cannot be enabled "
            "again while it runs." % (view.ha_cluster_stack or "(unknown)"),
            "Next: xe pool-ha-disable first."]
