"""The xe classes of ``sm-clusterstack xe``: pool, host, sr, pbd, sm, vdi, task.

Field names, order and modes follow ``ocaml/xapi-cli-server/records.ml``
(``pool_record``, ``host_record``, ``sr_record``, ``pbd_record``,
``sm_record``, ``vdi_record``, ``task_record``), restricted to the fields a
record of the shim carries; default ``*-list`` columns follow
``cli_operations.ml`` ``gen_cmds``.  One deviation: ``host address`` is
settable, through the shim's own ``host.set_address`` (xapi takes it from
the management interface).
"""

from sm_clusterstack.cli.xe import records as r
from sm_clusterstack.cli.xe.records import XeClass

POOL = XeClass("pool", "pool", [
    r.text("uuid", "uuid"),
    r.text("name-label", "name_label", "pool.set_name_label"),
    r.text("name-description", "name_description", "pool.set_name_description"),
    r.ref_uuid("master", "master", "host"),
    r.ref_uuid("default-SR", "default_SR", "SR"),
    r.map_field("other-config", "other_config", "pool"),
    r.boolean("ha-enabled", "ha_enabled"),
    r.map_text("ha-configuration", "ha_configuration"),
    r.Field("ha-statefiles", lambda lk, ref, rec: "; ".join(lk.uuid("VDI", v) for v in rec.get("ha_statefiles", []))),
    r.text("ha-host-failures-to-tolerate", "ha_host_failures_to_tolerate",
           "pool.set_ha_host_failures_to_tolerate"),
    r.text("ha-plan-exists-for", "ha_plan_exists_for"),
    r.text("ha-cluster-stack", "ha_cluster_stack"),
], ["uuid", "name-label", "name-description", "master", "default-SR"])

HOST = XeClass("host", "host", [
    r.text("uuid", "uuid"),
    r.text("name-label", "name_label", "host.set_name_label"),
    r.text("name-description", "name_description", "host.set_name_description"),
    r.boolean("enabled", "enabled"),
    r.text("API-version-major", "API_version_major"),
    r.text("API-version-minor", "API_version_minor"),
    r.text("API-version-vendor", "API_version_vendor"),
    r.map_field("other-config", "other_config", "host"),
    r.text("hostname", "hostname"),
    r.text("address", "address", "host.set_address"),
    r.Field("host-metrics-live", r._host_metrics_live),
    r.Field("ha-statefiles", lambda lk, ref, rec: "; ".join(lk.uuid("VDI", v) for v in rec.get("ha_statefiles", []))),
    r.joined("ha-network-peers", "ha_network_peers"),
], ["uuid", "name-label", "name-description"])

SR = XeClass("sr", "SR", [
    r.text("uuid", "uuid"),
    r.text("name-label", "name_label", "SR.set_name_label"),
    r.text("name-description", "name_description", "SR.set_name_description"),
    r.Field("host", r._sr_host),
    r.Field("allowed-operations", lambda lk, ref, rec: "; ".join(rec.get("allowed_operations", [])), kind=r.SET,
            values=lambda lk, ref, rec: list(rec.get("allowed_operations", []))),
    r.Field("current-operations", lambda lk, ref, rec: "; ".join(rec.get("current_operations", {}).values()),
            kind=r.SET, values=lambda lk, ref, rec: list(rec.get("current_operations", {}).values())),
    r.ref_uuids("VDIs", "VDIs", "VDI"),
    r.ref_uuids("PBDs", "PBDs", "PBD"),
    r.text("virtual-allocation", "virtual_allocation"),
    r.text("physical-utilisation", "physical_utilisation"),
    r.text("physical-size", "physical_size"),
    r.text("type", "type"),
    r.text("content-type", "content_type"),
    r.boolean("shared", "shared"),
    r.map_field("other-config", "other_config", "SR"),
    r.map_field("sm-config", "sm_config"),
], ["uuid", "name-label", "name-description", "host", "type", "content-type"])

PBD = XeClass("pbd", "PBD", [
    r.text("uuid", "uuid"),
    r.ref_uuid("host", "host", "host", deprecated=True),
    r.ref_uuid("host-uuid", "host", "host"),
    r.ref_name("host-name-label", "host", "host"),
    r.ref_uuid("sr-uuid", "SR", "SR"),
    r.ref_name("sr-name-label", "SR", "SR"),
    r.map_field("device-config", "device_config"),
    r.boolean("currently-attached", "currently_attached"),
    r.map_field("other-config", "other_config", "PBD"),
], ["uuid", "host-uuid", "sr-uuid", "device-config", "currently-attached"])

SM = XeClass("sm", "SM", [
    r.text("uuid", "uuid"),
    r.text("name-label", "name_label"),
    r.text("name-description", "name_description"),
    r.text("type", "type"),
    r.text("vendor", "vendor"),
    r.text("copyright", "copyright"),
    r.text("required-api-version", "required_api_version"),
    r.joined("capabilities", "capabilities", deprecated=True),
    r.map_field("features", "features"),
    r.map_text("configuration", "configuration"),
    r.text("driver-filename", "driver_filename"),
    r.joined("required-cluster-stack", "required_cluster_stack", sep=", "),
], ["uuid", "type", "name-label", "name-description", "vendor", "copyright", "configuration"])

VDI = XeClass("vdi", "VDI", [
    r.text("uuid", "uuid"),
    r.text("name-label", "name_label", "VDI.set_name_label"),
    r.text("name-description", "name_description", "VDI.set_name_description"),
    r.ref_uuid("sr-uuid", "SR", "SR"),
    r.ref_name("sr-name-label", "SR", "SR"),
    r.text("virtual-size", "virtual_size"),
    r.text("physical-utilisation", "physical_utilisation"),
    r.text("location", "location"),
    r.text("type", "type"),
    r.boolean("sharable", "sharable"),
    r.boolean("read-only", "read_only"),
    r.boolean("managed", "managed"),
    r.map_field("other-config", "other_config", "VDI"),
    r.map_field("sm-config", "sm_config"),
], ["uuid", "name-label", "name-description", "virtual-size", "read-only", "sharable", "sr-uuid"])

TASK = XeClass("task", "task", [
    r.text("uuid", "uuid"),
    r.text("name-label", "name_label"),
    r.text("name-description", "name_description"),
    r.ref_uuid("subtask_of", "subtask_of", "task"),
    r.Field("subtasks", lambda lk, ref, rec: "; ".join(lk.uuid("task", t) for t in rec.get("subtasks", []))),
    r.ref_uuid("resident-on", "resident_on", "host"),
    r.text("status", "status"),
    r.Field("progress", r._progress),
    r.text("type", "type"),
    r.text("result", "result"),
    r.Field("created", r._time("created")),
    r.Field("finished", r._time("finished")),
    r.joined("error_info", "error_info"),
    r.joined("allowed_operations", "allowed_operations"),
    r.Field("current_operations", lambda lk, ref, rec: "; ".join(rec.get("current_operations", {}).values())),
    r.map_field("other-config", "other_config", "task"),
], ["uuid", "name-label", "name-description", "status", "progress"])

CLASSES = {c.xe: c for c in (POOL, HOST, SR, PBD, SM, VDI, TASK)}
