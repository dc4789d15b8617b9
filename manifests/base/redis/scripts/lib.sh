# Shared by the Redis and Sentinel start scripts (sourced, POSIX sh).
#
# Environment: POD_NAME, POD_NAMESPACE, REDISCLI_AUTH (the password: redis-cli
# reads it, so it never appears in a process list), MASTER_NAME.
HEADLESS="redis-headless.${POD_NAMESPACE}.svc.cluster.local"
SELF="${POD_NAME}.${HEADLESS}"
SEED="redis-0.${HEADLESS}"

# Prints the current master's host as the Sentinels see it. Asks every pod
# behind the headless Service (it publishes not-ready pods too) on 26379,
# own pod included: after a failover the surviving Sentinels know the new
# master, and a restarting pod must follow it, not its own stale config.
#
# A freshly started pod cannot reach anything for a moment (measured on kind:
# ~1-2 s until the NetworkPolicy agent admits the new pod IP; DNS answers
# the same way), so one failed round proves nothing: a restarted redis-0
# used to conclude "no Sentinel" and start as a second master next to the
# one the Sentinels had elected. The lookup is retried for
# LOOKUP_ATTEMPTS rounds (default 10, 2 s apart) before falling back to the
# seed, redis-0. With no Sentinel answering after that (first boot of the
# whole set, or every pod restarted at once) the seed is master: on first
# boot that is the design; after a full outage redis-0 may have missed the
# last writes of a master that died (documented in manifests/README.md).
current_master() {
  attempt=1
  while :; do
    for ip in $(getent ahostsv4 "$HEADLESS" 2>/dev/null | awk '{print $1}' | sort -u); do
      m=$(timeout 3 redis-cli --no-auth-warning -h "$ip" -p 26379 --raw \
            sentinel get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | head -n 1) || m=
      case "$m" in
        ""|*ERR*|*NOAUTH*|*WRONGPASS*|*LOADING*) continue ;;
      esac
      echo "redis: sentinel at $ip reports master $m (round $attempt)" >&2
      echo "$m"
      return 0
    done
    [ "$attempt" -ge "${LOOKUP_ATTEMPTS:-10}" ] && break
    attempt=$((attempt + 1))
    sleep 2
  done
  echo "redis: no sentinel answered in $attempt rounds; the seed $SEED is master" >&2
  echo "$SEED"
}

# Asks a Sentinel in another pod to fail over MASTER_NAME; prints its reply
# ("OK" when a failover started). Not this pod's own Sentinel: the kubelet
# stops the sentinel container (no preStop) while this container's preStop
# runs, so a failover led by it would be cut off halfway.
peer_failover() {
  self_ip=$(hostname -i 2>/dev/null | awk '{print $1}')
  for ip in $(getent ahostsv4 "$HEADLESS" 2>/dev/null | awk '{print $1}' | sort -u); do
    [ "$ip" = "$self_ip" ] && continue
    r=$(timeout 3 redis-cli --no-auth-warning -h "$ip" -p 26379 --raw \
          sentinel failover "$MASTER_NAME" 2>&1 | head -n 1) || r=
    echo "redis: failover requested from sentinel at $ip: ${r:-no answer}" >&2
    [ "$r" = OK ] && return 0
  done
  return 1
}
