#!/bin/sh
# Mail-tier database bootstrap on the shared PostgreSQL (run by the Job
# mail-db-bootstrap with the statex/postgres image's psql as the superuser).
# Idempotent: every run converges roles, passwords, databases and grants to
# the Secrets' current values, so re-running it after a Secret change, a
# restore or a partial failure is safe.
#
#   role          database       privileges
#   roundcube     roundcube      owner (Roundcube creates its schema at start)
#   postfixadmin  postfixadmin   owner (Postfixadmin creates its schema: Job step 2)
#   mail_lookup   postfixadmin   CONNECT + SELECT on every table, now and future
#                                (Postfix and Dovecot read domains, mailboxes,
#                                aliases; they can never write)
set -eu
: "${PGHOST:=postgres}" "${PGPORT:=5432}" "${PGUSER:=postgres}"
export PGHOST PGPORT PGUSER PGDATABASE=postgres PGCONNECT_TIMEOUT=5

# The primary may still be electing (fresh cluster, failover): wait for it.
i=0
until psql -XtAc 'SELECT NOT pg_is_in_recovery()' 2>/dev/null | grep -qx t; do
  i=$((i+1)); [ "$i" -le 60 ] || { echo "db-bootstrap: no writable primary at $PGHOST:$PGPORT" >&2; exit 1; }
  sleep 5
done

# Passwords reach psql as variables (-v), never on a command line or in SQL
# text that the server could log; :'var' quotes them as literals.
psql -X -v ON_ERROR_STOP=1 \
  -v rc_pw="$ROUNDCUBE_DB_PASSWORD" \
  -v pfa_pw="$POSTFIXADMIN_DB_PASSWORD" \
  -v lookup_pw="$MAIL_LOOKUP_PASSWORD" <<'SQL'
SET log_statement = 'none';
SELECT format('CREATE ROLE %I LOGIN', r) FROM unnest(ARRAY['roundcube','postfixadmin','mail_lookup']) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec
SELECT format('ALTER ROLE roundcube LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'rc_pw') \gexec
SELECT format('ALTER ROLE postfixadmin LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'pfa_pw') \gexec
SELECT format('ALTER ROLE mail_lookup LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'lookup_pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', d, d, 'UTF8')
  FROM unnest(ARRAY['roundcube','postfixadmin']) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
REVOKE ALL ON DATABASE roundcube FROM PUBLIC;
REVOKE ALL ON DATABASE postfixadmin FROM PUBLIC;
GRANT CONNECT ON DATABASE postfixadmin TO mail_lookup;
\connect postfixadmin
SET log_statement = 'none';
GRANT USAGE ON SCHEMA public TO mail_lookup;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO mail_lookup;
ALTER DEFAULT PRIVILEGES FOR ROLE postfixadmin IN SCHEMA public GRANT SELECT ON TABLES TO mail_lookup;
SQL
echo "db-bootstrap: roles roundcube, postfixadmin, mail_lookup and databases roundcube, postfixadmin are in place"
