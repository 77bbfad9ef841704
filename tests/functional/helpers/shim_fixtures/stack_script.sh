#!/bin/sh
# Fixture cluster-stack script (tests/functional/helpers/shim.py): records, answers.
# Run as xapi runs it: PATH only, no -C; it knows its host from /etc/xensource/xhad.conf
# (its sandbox's own), and prints a liveset of every configured host, live, the master
# flagged once ha_propose_master has run somewhere (a file shared by every host).
name=$(basename "$0")
stack=$(basename "$(dirname "$0")")
conf=/etc/xensource/xhad.conf
me=$(sed -n '/<localhost>/,/<\/localhost>/s:.*<HostID>\([^<]*\)</HostID>.*:\1:p' "$conf" 2>/dev/null)
printf '%s %s %s host=%s t=%s\n' "$stack" "$name" "$*" "$me" "$(date +%s.%N)" >> '@LOG@'
[ -f '@CTL@'/sleep_$name ] && sleep "$(cat '@CTL@'/sleep_$name)"
n=0  # held while hold_<script> exists, until the test lets it go (10 minutes at most)
while [ -f '@CTL@'/hold_$name ] && [ $n -lt 12000 ]; do sleep 0.05; n=$((n + 1)); done
# a misbehaving script: N bytes on stderr (flood_), a child in its own session keeping the output open (detach_)
[ -f '@CTL@'/flood_$name ] && head -c "$(cat '@CTL@'/flood_$name)" /dev/zero >&2
# (its argument names it on the machine: a pid here is one of the host's own PID namespace)
if [ -f '@CTL@'/detach_$name ]; then tag=600.$(date +%N); setsid sleep "$tag" & echo "$tag" >> '@CTL@'/held; fi
if [ -f '@CTL@'/fail_$name ]; then
  set -- $(cat '@CTL@'/fail_$name)
  if [ -z "${2:-}" ] || [ "$2" = "$me" ]; then echo "$name: injected failure" >&2; exit "$1"; fi
fi
case "$name" in
  ha_set_pool_state)
    # like xhad: once the pool state is invalid, every daemon leaves (a query then exits 14)
    if [ "${1:-}" = invalid ]; then
      touch '@CTL@'/invalid
      for f in '@CTL@'/running-*; do  # each daemon sees it and leaves
        [ -e "$f" ] || continue
        h=${f##*/running-}; rm -f "$f"
        printf '%s close daemon %s %s\n' "$(date +%s.%N)" "${h%%-*}" "${h#*-}" >> '@CTL@'/events
      done
    else rm -f '@CTL@'/invalid; fi ;;
  ha_start_daemon)
    # what really runs: a daemon of this stack on this host, from here to the end of ha_stop_daemon
    printf '%s open daemon %s %s\n' "$(date +%s.%N)" "$stack" "$me" >> '@CTL@'/events
    touch '@CTL@'/running-"$stack"-"$me"
    # wait (up to 20 s) until every configured host has started, as xhad's enable-time join does
    touch '@CTL@'/started-"$me"
    if [ -f '@CTL@'/join_all ]; then
      n=$(sed -n '/<common-config>/,/<\/common-config>/s:.*<HostID>\([^<]*\)</HostID>.*:\1:p' "$conf" | wc -l)
      i=0
      while [ "$(ls '@CTL@' | grep -c '^started-')" -lt "$n" ]; do
        i=$((i + 1)); [ $i -gt 200 ] && { echo "join timed out" >&2; exit 12; }; sleep 0.1
      done
    fi
    # a process the stack leaves behind that ha_stop_daemon does not stop (a fence guard that lingers)
    if [ -f '@CTL@'/linger ]; then
      setsid sh -c 'exec sleep 600' </dev/null >/dev/null 2>&1 &
    fi
    # surely running once started (a start left running may finish after a stop)
    touch '@CTL@'/running-"$stack"-"$me"
    printf '%s open daemon %s %s\n' "$(date +%s.%N)" "$stack" "$me" >> '@CTL@'/events ;;
  ha_query_liveset)
    [ -f '@CTL@'/invalid ] && { echo "no daemon: the pool state is invalid" >&2; exit 14; }
    # a kernel fence of this host, once: the path given stands for the machine's (its sandbox covers it)
    if [ -f '@CTL@'/kernel_fence-"$me" ]; then
      target=$(cat '@CTL@'/kernel_fence-"$me"); rm -f '@CTL@'/kernel_fence-"$me"; printf b > "$target"
    fi
    printf '<ha_liveset_info version="1.0"><status>Online</status><localhost><HostID>%s</HostID></localhost>' "$me"
    for h in $(sed -n '/<common-config>/,/<\/common-config>/s:.*<HostID>\([^<]*\)</HostID>.*:\1:p' "$conf"); do
      m=FALSE; [ "$(cat '@CTL@'/master 2>/dev/null)" = "$h" ] && m=TRUE
      l=TRUE; [ -f '@CTL@'/dropped-"$h" ] && l=FALSE  # the survivors dropped that host
      printf '<host><HostID>%s</HostID><liveness>'$l'</liveness><master>%s</master><statefile_access>TRUE</statefile_access><statefile_corrupted>FALSE</statefile_corrupted><excluded>FALSE</excluded></host>' "$h" "$m"
    done
    printf '</ha_liveset_info>\n' ;;
  ha_propose_master) printf '%s' "$me" > '@CTL@'/master; echo TRUE ;;
  ha_stop_daemon)
    rm -f '@CTL@'/started-"$me" '@CTL@'/running-"$stack"-"$me"
    printf '%s close daemon %s %s\n' "$(date +%s.%N)" "$stack" "$me" >> '@CTL@'/events ;;
esac
exit 0
