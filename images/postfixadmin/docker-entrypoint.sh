#!/bin/sh
# statex/postfixadmin entrypoint: run Apache in the foreground (logs to
# stdout/stderr). The schema is created/upgraded by visiting /setup.php.
set -eu
if [ "${1:-}" = apache2 ]; then
  set +u; . /etc/apache2/envvars; set -u
  rm -f "${APACHE_PID_FILE:-/var/run/apache2/apache2.pid}"
fi
exec "$@"
