#!/bin/sh
# Postfixadmin init container (statex/postfixadmin image, www-data):
#   1. conf.d: the site settings + a password_hash() of the setup password
#      (Postfixadmin compares /setup.php logins against a hash, never a
#      plain value; the hash is made here so the Secret holds the password)
#   2. wait for the database (role and db come from the mail-db-bootstrap
#      Job), then create or upgrade the schema (upgrade.php, what /setup.php
#      runs; idempotent, versioned in the config table)
#   3. ensure the superadmin $POSTFIXADMIN_ADMIN_EMAIL exists with the
#      password from the Secret (created once, password re-set every start)
set -eu
confd=/work/conf.d
cp /config/10-statex.php "$confd/10-statex.php"
php -r 'echo "<?php\n\$CONF[\"setup_password\"] = ", var_export(password_hash(getenv("POSTFIXADMIN_SETUP_PASSWORD_PLAIN"), PASSWORD_DEFAULT), true), ";\n";' \
  >"$confd/20-setup-password.php"

export PGPASSWORD="$POSTFIXADMIN_DB_PASSWORD" PGCONNECT_TIMEOUT=5
i=0
until psql -XtAq -h "$POSTFIXADMIN_DB_HOST" -U postfixadmin -d postfixadmin -c 'SELECT 1' >/dev/null 2>&1; do
  i=$((i+1)); [ "$i" -le 60 ] || { echo "postfixadmin-init: database postfixadmin not reachable" >&2; exit 1; }
  sleep 5
done
cd /usr/share/postfixadmin/public
php upgrade.php >/tmp/upgrade.log 2>&1 || { cat /tmp/upgrade.log >&2; exit 1; }
grep -i 'error\|failed' /tmp/upgrade.log >&2 || true

cli="php /usr/share/postfixadmin/scripts/postfixadmin-cli.php"
admin=$POSTFIXADMIN_ADMIN_EMAIL
pw=$POSTFIXADMIN_ADMIN_PASSWORD
if $cli admin view "$admin" >/dev/null 2>&1; then
  $cli admin update "$admin" --password "$pw" --password2 "$pw" --active 1 >/dev/null
  echo "postfixadmin-init: schema current; superadmin $admin password re-set"
else
  # 3.3 also tries a domain_admins row for the pseudo-domain ALL, which the
  # PostgreSQL schema rejects (foreign key); superadmin=true is what counts.
  $cli admin add "$admin" --password "$pw" --password2 "$pw" --superadmin 1 --active 1 >/dev/null 2>&1 || true
  $cli admin view "$admin" >/dev/null 2>&1 || { echo "postfixadmin-init: could not create $admin" >&2; exit 1; }
  echo "postfixadmin-init: schema current; superadmin $admin created"
fi
