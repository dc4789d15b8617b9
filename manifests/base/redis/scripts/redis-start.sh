#!/bin/sh
# Redis server start: writes /etc/redis/conf.d (auth, announce, replication)
# and execs redis-server. Runs on every container start, so a restarted
# server always rejoins as a replica of the master the Sentinels elected.
set -eu
. /scripts/lib.sh
conf=/etc/redis/conf.d
umask 077
cp /config/*.conf "$conf/"
{
  echo "requirepass $REDISCLI_AUTH"
  echo "masterauth $REDISCLI_AUTH"
} >"$conf/10-auth.conf"
{
  echo "maxmemory $((MEMORY_LIMIT / 2))"
  echo "min-replicas-to-write ${MIN_REPLICAS_TO_WRITE:-1}"
} >"$conf/30-resources.conf"
# Replicas are announced (to the master, hence to Sentinel and clients) by
# their stable per-pod DNS name, not the pod IP that changes on reschedule.
echo "replica-announce-ip $SELF" >"$conf/40-announce.conf"
master=$(current_master)
if [ "$master" = "$SELF" ]; then
  echo "redis: $SELF starts as master"
  : >"$conf/50-replication.conf"
else
  echo "redis: $SELF starts as replica of $master"
  echo "replicaof $master 6379" >"$conf/50-replication.conf"
fi
exec redis-server /etc/redis/redis.conf
