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

from sm_clusterstack import constraints, errors, explain_sr

CODES = (errors.INCOMPATIBLE_CLUSTER_STACK_ACTIVE, errors.INCOMPATIBLE_STATEFILE_SR,
         errors.CLUSTER_STACK_CONSTRAINT, errors.UNKNOWN_CLUSTER_STACK) + tuple(explain_sr.HANDLERS)
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
    }
    handlers.update(explain_sr.HANDLERS)
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
