#!/bin/sh
# Sentinel start: writes /etc/redis/sentinel.d/10-statex.conf and execs the
# image's entrypoint, which assembles a writable sentinel.conf from its
# template plus sentinel.d/*.conf (Sentinel rewrites its own file).
set -eu
. /scripts/lib.sh
umask 077
master=$(current_master)
cat >/etc/redis/sentinel.d/10-statex.conf <<CONF
port 26379
# Hostnames, not IPs, everywhere: pods keep their names across restarts.
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $SELF
sentinel announce-port 26379
# Clients and other Sentinels authenticate to this Sentinel ...
requirepass $REDISCLI_AUTH
sentinel sentinel-pass $REDISCLI_AUTH
# ... and this Sentinel to the Redis servers.
sentinel monitor $MASTER_NAME $master 6379 $QUORUM
sentinel auth-pass $MASTER_NAME $REDISCLI_AUTH
sentinel down-after-milliseconds $MASTER_NAME $DOWN_AFTER_MS
sentinel failover-timeout $MASTER_NAME $FAILOVER_TIMEOUT_MS
sentinel parallel-syncs $MASTER_NAME 1
CONF
exec /usr/local/bin/docker-entrypoint.sh redis-sentinel
