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
# With no Sentinel answering (first boot of the whole set, or every pod
# restarted at once) it falls back to the seed, redis-0: on first boot that
# is the design; after a full outage redis-0 may have missed the last writes
# of a master that died (documented in manifests/README.md).
current_master() {
  for ip in $(getent ahostsv4 "$HEADLESS" 2>/dev/null | awk '{print $1}' | sort -u); do
    m=$(timeout 3 redis-cli --no-auth-warning -h "$ip" -p 26379 --raw \
          sentinel get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | head -n 1) || m=
    case "$m" in
      ""|*ERR*|*NOAUTH*|*WRONGPASS*) continue ;;
    esac
    echo "redis: sentinel at $ip reports master $m" >&2
    echo "$m"
    return 0
  done
  echo "redis: no sentinel answered; the seed $SEED is master" >&2
  echo "$SEED"
}
