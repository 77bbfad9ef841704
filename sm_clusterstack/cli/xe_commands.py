"""The commands of ``sm-clusterstack xe``: each takes the XenAPI proxy and the parsed params.

Parameters are ``key=value``; ``map:key=value`` (``device-config:device=/dev/sdb``)
fills the map ``map``.  List commands print records as xe does (labels
right-aligned on the colon, blank line between records) and take
``field=value`` filters.  Commands that create print the new uuid.
"""

import typing

Params = typing.Dict[str, typing.Any]
MAPS = ("device-config", "sm-config", "other-config", "ha-config")


class UsageError(ValueError):
    """A command given parameters it cannot use."""


def parse_params(items: typing.List[str]) -> Params:
    """``key=value`` items; ``map:key=value`` ones grouped under ``map``."""
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError("expected key=value, got %r" % item)
        name, colon, sub = key.partition(":")
        if colon and name in MAPS and sub:
            params.setdefault(name, {})[sub] = value
        else:
            params[key] = value
    return params


def _need(params: Params, *names: str) -> typing.List[str]:
    missing = [n for n in names if not params.get(n)]
    if missing:
        raise UsageError("missing parameter(s): %s" % ", ".join("%s=" % m for m in missing))
    return [params[n] for n in names]


def _show(value: typing.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "; ".join("%s: %s" % (k, v) for k, v in sorted(value.items()))
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def render(rows: typing.List[typing.List[typing.Tuple[str, str, typing.Any]]]) -> str:
    """Records as xe prints them; each row is [(label, "RO"/"RW", value), ...], uuid first."""
    blocks = []
    for row in rows:
        labels = ["%s ( %s)" % (label, mode) for label, mode, _ in row]
        width = max(len(label) for label in labels)
        lines = [labels[0].ljust(width) + ": " + _show(row[0][2])]
        lines += [label.rjust(width) + ": " + _show(value) for label, (_, _, value) in zip(labels[1:], row[1:])]
        blocks.append("\n".join(lines))
    return "\n\n\n".join(blocks) + ("\n" if blocks else "")


def _matches(row, filters: Params) -> bool:
    shown = {label: _show(value) for label, _, value in row}
    return all(shown.get(k) == v for k, v in filters.items() if not isinstance(v, dict))


def _listing(records, fields):
    def command(api, params):
        rows = [[(label, mode, get(api, rec)) for label, mode, get in fields]
                for rec in sorted(records(api).values(), key=lambda r: r.get("name_label", r["uuid"]))]
        return render([r for r in rows if _matches(r, params)])
    return command


def _uuid_of(api, cls, ref):
    return getattr(api, cls).get_uuid(ref) if ref and ref != "OpaqueRef:NULL" else "<not in database>"


def _field(name):
    return lambda api, rec: rec[name]


SM_FIELDS = [("uuid", "RO", _field("uuid")), ("name-label", "RO", _field("name_label")),
             ("type", "RO", _field("type")), ("vendor", "RO", _field("vendor")),
             ("required-api-version", "RO", _field("required_api_version")),
             ("required-cluster-stack", "RO", _field("required_cluster_stack"))]
HOST_FIELDS = [("uuid", "RO", _field("uuid")), ("name-label", "RW", _field("name_label")),
               ("address", "RO", _field("address")), ("other-config", "MRW", _field("other_config"))]
SR_FIELDS = [("uuid", "RO", _field("uuid")), ("name-label", "RW", _field("name_label")),
             ("type", "RO", _field("type")), ("shared", "RW", _field("shared"))]
PBD_FIELDS = [("uuid", "RO", _field("uuid")),
              ("host-uuid", "RO", lambda api, rec: _uuid_of(api, "host", rec["host"])),
              ("sr-uuid", "RO", lambda api, rec: _uuid_of(api, "SR", rec["SR"])),
              ("device-config", "MRO", _field("device_config")),
              ("currently-attached", "RO", _field("currently_attached"))]
POOL_FIELDS = [("uuid", "RO", _field("uuid")), ("name-label", "RW", _field("name_label")),
               ("master", "RO", lambda api, rec: _uuid_of(api, "host", rec["master"])),
               ("ha-enabled", "RO", _field("ha_enabled")), ("ha-cluster-stack", "RO", _field("ha_cluster_stack"))]


def sr_create(api, params: Params) -> str:
    """Create an SR (plugged on every host when shared=true); prints its uuid."""
    sr_type, = _need(params, "type")
    host = (api.host.get_by_uuid(params["host-uuid"]) if params.get("host-uuid")
            else api.pool.get_master(api.pool.get_all()[0]))
    ref = api.SR.create(host, params.get("device-config", {}), params.get("physical-size", "0"),
                        params.get("name-label", ""), params.get("name-description", ""), sr_type,
                        params.get("content-type", "user"), params.get("shared", "false") == "true",
                        params.get("sm-config", {}))
    return api.SR.get_uuid(ref)


def _pbd_action(action):
    def command(api, params):
        uuid, = _need(params, "uuid")
        getattr(api.PBD, action)(api.PBD.get_by_uuid(uuid))
        return ""
    return command


def _sr_action(action):
    def command(api, params):
        uuid, = _need(params, "uuid")
        getattr(api.SR, action)(api.SR.get_by_uuid(uuid))
        return ""
    return command


def pool_ha_enable(api, params: Params) -> str:
    """pool.enable_ha with the SRs of heartbeat-sr-uuids and cluster-stack (optional)."""
    uuids, = _need(params, "heartbeat-sr-uuids")
    srs = [api.SR.get_by_uuid(u) for u in uuids.split(",") if u]
    args = [srs, params.get("ha-config", {})]
    if params.get("cluster-stack"):
        args.append(params["cluster-stack"])
    api.pool.enable_ha(*args)
    return ""


def pool_ha_disable(api, params: Params) -> str:
    """pool.disable_ha."""
    api.pool.disable_ha()
    return ""


def pool_param_get(api, params: Params) -> str:
    """One field of the pool (param-name uses xe's dashes: ha-cluster-stack)."""
    name, = _need(params, "param-name")
    ref = api.pool.get_by_uuid(params["uuid"]) if params.get("uuid") else api.pool.get_all()[0]
    record = api.pool.get_record(ref)
    field = name.replace("-", "_")
    if field not in record:
        raise UsageError("unknown parameter %s" % name)
    return _show(record[field])


def host_param_set(api, params: Params) -> str:
    """Set other-config:KEY=VALUE (e.g. exec-prefix), address= or name-label= of a host."""
    uuid, = _need(params, "uuid")
    host = api.host.get_by_uuid(uuid)
    for key, value in params.get("other-config", {}).items():
        api.host.add_to_other_config(host, key, value)
    if "address" in params:
        api.host.set_address(host, params["address"])
    if "name-label" in params:
        api.host.set_name_label(host, params["name-label"])
    return ""


COMMANDS = {
    "sm-list": _listing(lambda api: api.SM.get_all_records(), SM_FIELDS),
    "host-list": _listing(lambda api: api.host.get_all_records(), HOST_FIELDS),
    "sr-list": _listing(lambda api: api.SR.get_all_records(), SR_FIELDS),
    "pbd-list": _listing(lambda api: api.PBD.get_all_records(), PBD_FIELDS),
    "pool-list": _listing(lambda api: api.pool.get_all_records(), POOL_FIELDS),
    "sr-create": sr_create,
    "sr-forget": _sr_action("forget"),
    "sr-destroy": _sr_action("destroy"),
    "pbd-plug": _pbd_action("plug"),
    "pbd-unplug": _pbd_action("unplug"),
    "pool-ha-enable": pool_ha_enable,
    "pool-ha-disable": pool_ha_disable,
    "pool-param-get": pool_param_get,
    "host-param-set": host_param_set,
}
