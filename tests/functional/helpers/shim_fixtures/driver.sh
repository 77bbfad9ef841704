#!/bin/sh
# Test double of an SM driver of type @TYPE@ (see tests/functional/helpers/shim.py).
CTL='@CTL@'
VDIS="$CTL"  # where VDIs are files; <ctl>/vdi_dir names another (a FUSE mount whose I/O a test can stall)
[ -f "$CTL/vdi_dir" ] && VDIS=$(cat "$CTL/vdi_dir")
cmd=$(printf '%s' "$1" | sed -n 's:.*<methodName>\([a-z_]*\)</methodName>.*:\1:p')
sr=$(printf '%s' "$1" | sed -n 's:.*<name>sr_uuid</name><value>\([^<]*\)</value>.*:\1:p')
host=$(printf '%s' "$1" | sed -n 's:.*<name>host_ref</name><value>\([^<]*\)</value>.*:\1:p')
printf '%s %s %s %s\n' "$cmd" "$sr" "$host" "$SM_CLUSTERSTACK_XAPI" >> "$CTL/calls"
# the timeline of what really touched the storage: an SR is in use on a host from the start of
# its sr_attach (or sr_delete, which mounts it) to the end of an sr_detach or a refused attach,
# and again at the end of an attach that succeeds (one left running may finish after a detach)
event() { printf '%s %s sr @TYPE@ %s@%s\n' "$(date +%s.%N)" "$1" "$sr" "$host" >> "$CTL/events"; }
case "$cmd" in sr_attach|sr_delete) event open ;; esac
if [ -f "$CTL/sleep_$cmd" ]; then
  wait=$(cat "$CTL/sleep_$cmd")
  case "$wait" in  # "up to:S" sleeps a random time in [0, S)
    "up to:"*) wait=$(od -An -N2 -tu2 /dev/urandom | awk -v max="${wait#up to:}" '{printf "%.3f", $1 / 65536 * max}') ;;
  esac
  sleep "$wait"
fi
n=0  # held while hold_<command> exists, until the test lets it go (10 minutes at most)
while [ -f "$CTL/hold_$cmd" ] && [ $n -lt 12000 ]; do sleep 0.05; n=$((n + 1)); done
if [ -f "$CTL/fault_$cmd" ]; then
  case "$cmd" in sr_attach) event close ;; esac
  echo "stderr of $cmd" >&2
  printf '<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>%s</int></value></member><member><name>faultString</name><value><string>%s</string></value></member></struct></value></fault></methodResponse>' "$(cat "$CTL/fault_$cmd")" "injected fault [@STACKS@]"
  exit 0
fi
[ -f "$CTL/garbage_$cmd" ] && { echo 'this is not XML'; exit 3; }
ok() { printf '<?xml version="1.0"?><methodResponse><params><param><value>%s</value></param></params></methodResponse>' "$1"; }
# physical markers of what really happened: an SR attached on a host is a file until detached
case "$cmd" in
  sr_attach) mkdir -p "$CTL/attached" && touch "$CTL/attached/$sr@$host"; event open ;;  # surely in use now
  sr_detach|sr_delete) rm -f "$CTL/attached/$sr@$host"; event close ;;
esac
case "$cmd" in
  sr_get_driver_info)
    ok '<struct><member><name>name</name><value><string>@TYPE@</string></value></member><member><name>description</name><value><string>test double</string></value></member><member><name>vendor</name><value><string>tests</string></value></member><member><name>copyright</name><value><string>none</string></value></member><member><name>driver_version</name><value><string>1.0</string></value></member><member><name>required_api_version</name><value><string>1.0</string></value></member><member><name>capabilities</name><value><array><data><value><string>SR_PROBE</string></value><value><string>VDI_CREATE</string></value><value><string>VDI_ATTACH_OFFLINE</string></value></data></array></value></member><member><name>configuration</name><value><array><data><value><struct><member><name>key</name><value><string>device</string></value></member><member><name>description</name><value><string>a device</string></value></member></struct></value></data></array></value></member><member><name>required_cluster_stack</name><value><array><data>@STACKVALUES@</data></array></value></member></struct>' ;;
  vdi_create)
    u=$(printf '%s' "$1" | sed -n 's:.*<name>vdi_uuid</name><value>\([^<]*\)</value>.*:\1:p')
    [ -n "$u" ] || u=$(cat /proc/sys/kernel/random/uuid)
    size=$(printf '%s' "$1" | sed -n 's:.*<name>args</name><value><array><data><value>\([0-9]*\)</value>.*:\1:p')
    truncate -s "${size:-4194304}" "$VDIS/vdi-$u"  # a raw VDI: a file every host sees (shared storage)
    ok "<struct><member><name>uuid</name><value><string>$u</string></value></member><member><name>location</name><value><string>$u</string></value></member></struct>" ;;
  vdi_attach)
    loc=$(printf '%s' "$1" | sed -n 's:.*<name>vdi_location</name><value>\([^<]*\)</value>.*:\1:p')
    [ -f "$VDIS/vdi-$loc" ] || { printf '<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>144</int></value></member><member><name>faultString</name><value><string>no VDI %s</string></value></member></struct></value></fault></methodResponse>' "$loc"; exit 0; }
    ok "<struct><member><name>params</name><value><string>$VDIS/vdi-$loc</string></value></member><member><name>xenstore_data</name><value><struct></struct></value></member></struct>" ;;
  vdi_delete)
    loc=$(printf '%s' "$1" | sed -n 's:.*<name>vdi_location</name><value>\([^<]*\)</value>.*:\1:p')
    rm -f "$VDIS/vdi-$loc"; ok '<nil/>' ;;
  *) ok '<nil/>' ;;
esac
