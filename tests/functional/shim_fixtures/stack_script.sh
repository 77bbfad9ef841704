#!/bin/sh
# Fixture cluster-stack script (tests/functional/shim_helpers.py): records, answers.
name=$(basename "$0")
stack=$(basename "$(dirname "$0")")
printf '%s %s %s host=%s\n' "$stack" "$name" "$*" "${SHIM_HOST:-}" >> '@LOG@'
[ -f '@CTL@'/sleep_$name ] && sleep "$(cat '@CTL@'/sleep_$name)"
if [ -f '@CTL@'/fail_$name ]; then
  set -- $(cat '@CTL@'/fail_$name)
  if [ -z "${2:-}" ] || [ "$2" = "${SHIM_HOST:-}" ]; then echo "$name: injected failure" >&2; exit "$1"; fi
fi
case "$name" in
  ha_query_liveset)
    printf '<ha_liveset_info version="1.0"><status>Online</status><localhost><HostID>00000000-0000-0000-0000-000000000001</HostID></localhost></ha_liveset_info>\n' ;;
  ha_propose_master) echo TRUE ;;
esac
exit 0
