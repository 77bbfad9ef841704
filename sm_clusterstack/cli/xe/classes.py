"""The xe classes of ``sm-clusterstack xe``: pool, host, sr, pbd, sm, vdi, task, message.

Field names, order and modes follow ``ocaml/xapi-cli-server/records.ml``
(``pool_record``, ``host_record``, ``sr_record``, ``pbd_record``,
``sm_record``, ``vdi_record``, ``task_record``, ``message_record``), restricted to the fields a
record of the shim carries; default ``*-list`` columns follow
``cli_operations.ml`` ``gen_cmds``.  One deviation: ``host address`` is
settable, through the shim's own ``host.set_address`` (xapi takes it from
the management interface).

Each class is a table, a field a row: its xe name, how it shows the
record's value (``records.TEXT``, ``records.REF``, ...: records.ml's kinds
of field), the record's key, and for some an argument (the class of a
ref) and ``deprecated``; ``records.field_table`` makes the fields.
"""

from sm_clusterstack.cli.xe.records import XeClass, field_table

POOL = XeClass("pool", "pool", field_table("pool", """
    uuid                           text             uuid
    name-label                     settable         name_label
    name-description               settable         name_description
    master                         ref              master                         host
    default-SR                     ref              default_SR                     SR
    other-config                   map-rw           other_config
    ha-enabled                     boolean          ha_enabled
    ha-configuration               map-text         ha_configuration
    ha-statefiles                  refs-text        ha_statefiles                  VDI
    ha-host-failures-to-tolerate   settable         ha_host_failures_to_tolerate
    ha-plan-exists-for             text             ha_plan_exists_for
    ha-cluster-stack               text             ha_cluster_stack
"""), ["uuid", "name-label", "name-description", "master", "default-SR"])

HOST = XeClass("host", "host", field_table("host", """
    uuid                           text             uuid
    name-label                     settable         name_label
    name-description               settable         name_description
    enabled                        boolean          enabled
    API-version-major              text             API_version_major
    API-version-minor              text             API_version_minor
    API-version-vendor             text             API_version_vendor
    other-config                   map-rw           other_config
    hostname                       text             hostname
    address                        settable         address
    host-metrics-live              computed         host_metrics_live
    ha-statefiles                  refs-text        ha_statefiles                  VDI
    ha-network-peers               joined           ha_network_peers
"""), ["uuid", "name-label", "name-description"])

SR = XeClass("sr", "SR", field_table("SR", """
    uuid                           text             uuid
    name-label                     settable         name_label
    name-description               settable         name_description
    host                           computed         sr_host
    allowed-operations             strings          allowed_operations
    current-operations             operations       current_operations
    VDIs                           refs             VDIs                           VDI
    PBDs                           refs             PBDs                           PBD
    virtual-allocation             text             virtual_allocation
    physical-utilisation           text             physical_utilisation
    physical-size                  text             physical_size
    type                           text             type
    content-type                   text             content_type
    shared                         boolean          shared
    other-config                   map-rw           other_config
    sm-config                      map              sm_config
"""), ["uuid", "name-label", "name-description", "host", "type", "content-type"])

PBD = XeClass("pbd", "PBD", field_table("PBD", """
    uuid                           text             uuid
    host                           ref              host                           host deprecated
    host-uuid                      ref              host                           host
    host-name-label                ref-name         host                           host
    sr-uuid                        ref              SR                             SR
    sr-name-label                  ref-name         SR                             SR
    device-config                  map              device_config
    currently-attached             boolean          currently_attached
    other-config                   map-rw           other_config
"""), ["uuid", "host-uuid", "sr-uuid", "device-config", "currently-attached"])

SM = XeClass("sm", "SM", field_table("SM", """
    uuid                           text             uuid
    name-label                     text             name_label
    name-description               text             name_description
    type                           text             type
    vendor                         text             vendor
    copyright                      text             copyright
    required-api-version           text             required_api_version
    capabilities                   joined           capabilities                   deprecated
    features                       map              features
    configuration                  map-text         configuration
    driver-filename                text             driver_filename
    required-cluster-stack         comma-joined     required_cluster_stack
"""), ["uuid", "type", "name-label", "name-description", "vendor", "copyright", "configuration"])

VDI = XeClass("vdi", "VDI", field_table("VDI", """
    uuid                           text             uuid
    name-label                     settable         name_label
    name-description               settable         name_description
    sr-uuid                        ref              SR                             SR
    sr-name-label                  ref-name         SR                             SR
    virtual-size                   text             virtual_size
    physical-utilisation           text             physical_utilisation
    location                       text             location
    type                           text             type
    sharable                       boolean          sharable
    read-only                      boolean          read_only
    managed                        boolean          managed
    other-config                   map-rw           other_config
    sm-config                      map              sm_config
"""), ["uuid", "name-label", "name-description", "virtual-size", "read-only", "sharable", "sr-uuid"])

TASK = XeClass("task", "task", field_table("task", """
    uuid                           text             uuid
    name-label                     text             name_label
    name-description               text             name_description
    subtask_of                     ref              subtask_of                     task
    subtasks                       refs-text        subtasks                       task
    resident-on                    ref              resident_on                    host
    status                         text             status
    progress                       computed         task_progress
    type                           text             type
    result                         text             result
    created                        time             created
    finished                       time             finished
    error_info                     joined           error_info
    allowed_operations             joined           allowed_operations
    current_operations             operations-text  current_operations
    other-config                   map-rw           other_config
"""), ["uuid", "name-label", "name-description", "status", "progress"])

MESSAGE = XeClass("message", "message", field_table("message", """
    uuid                           text             uuid
    name                           text             name
    priority                       text             priority
    class                          text             cls
    obj-uuid                       text             obj_uuid
    timestamp                      time             timestamp
    body                           text             body
"""), [])  # gen_cmds: message's list shows every field

CLASSES = {c.xe: c for c in (POOL, HOST, SR, PBD, SM, VDI, TASK, MESSAGE)}
