#!/bin/sh
# statex/redis entrypoint.
#   redis-server [ARGS]    Redis in the foreground (default: /etc/redis/redis.conf)
#   redis-sentinel [ARGS]  Sentinel: builds a writable config at $SENTINEL_CONFIG
#                          (default /data/sentinel.conf) from the stock template
#                          (no `mymaster` monitor) plus /etc/redis/sentinel.d/*.conf,
#                          then runs Sentinel on it in the foreground.
#   anything else          exec'd as given.
set -eu
case "${1:-}" in
  redis-sentinel|sentinel)
    shift
    conf="${SENTINEL_CONFIG:-/data/sentinel.conf}"
    mkdir -p "$(dirname "$conf")"
    # Sentinel rewrites its file; regenerate it on every start from the template
    # and the mounted settings, so a changed ConfigMap takes effect.
    cp /etc/redis/sentinel.conf.template "$conf.tmp"
    for f in /etc/redis/sentinel.d/*.conf; do
      [ -f "$f" ] || continue
      printf '\n# from %s\n' "$f" >>"$conf.tmp"
      cat "$f" >>"$conf.tmp"
    done
    mv "$conf.tmp" "$conf"
    exec redis-sentinel "$conf" "$@"
    ;;
esac
exec "$@"
