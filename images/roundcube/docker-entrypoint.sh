#!/bin/sh
# statex/roundcube entrypoint: check des_key, create/update the schema, run
# Apache in the foreground (logs to stdout/stderr).
set -eu
if [ -z "${ROUNDCUBE_DES_KEY:-}" ]; then
  ROUNDCUBE_DES_KEY=$(head -c 18 /dev/urandom | base64)
  export ROUNDCUBE_DES_KEY
  echo "roundcube: WARNING: ROUNDCUBE_DES_KEY is not set; using a random key (sessions will not survive a restart or move between replicas)" >&2
fi
if [ "${1:-}" = apache2 ]; then
  if [ "${ROUNDCUBE_DB_INIT:-true}" != false ]; then
    php /usr/share/roundcube/bin/statex-initdb.php
  fi
  set +u; . /etc/apache2/envvars; set -u
  rm -f "${APACHE_PID_FILE:-/var/run/apache2/apache2.pid}"
fi
exec "$@"
