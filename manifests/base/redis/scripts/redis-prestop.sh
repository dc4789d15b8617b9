#!/bin/sh
# preStop of the Redis container: if this server is the master and another
# Sentinel-known replica exists, ask the Sentinels for a failover and wait
# (up to 30 s) until this server is a replica, so a rolling update or drain
# costs a switchover (~1-2 s) instead of down-after + election (~10 s).
# Never fails: whatever happens, the pod stops afterwards.
. /scripts/lib.sh
# preStop output is otherwise discarded: send it to the container's log.
[ -w /proc/1/fd/1 ] && exec >/proc/1/fd/1 2>&1
role=$(redis-cli --no-auth-warning --raw role 2>/dev/null | head -n 1)
[ "$role" = "master" ] || exit 0
# A Sentinel of another pod leads the failover (lib.sh: peer_failover).
peer_failover || exit 0
i=0
while [ $i -lt 30 ]; do
  role=$(redis-cli --no-auth-warning --raw role 2>/dev/null | head -n 1)
  [ "$role" = "slave" ] && { echo "redis: switched over before stopping"; exit 0; }
  sleep 1
  i=$((i + 1))
done
exit 0
