-- Grafana's database and role on the shared PostgreSQL cluster.
-- Run by the Job grafana-db-bootstrap as the superuser (psql, ON_ERROR_STOP);
-- idempotent: safe to run on every deploy. Also re-applies the role's
-- password from the Secret grafana-credentials (key db-password), so the
-- database follows the Secret.
\set ON_ERROR_STOP on
-- The password comes from the environment, never from the command line.
\getenv grafana_password GRAFANA_DB_PASSWORD
SELECT format('CREATE ROLE grafana LOGIN PASSWORD %L', :'grafana_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'grafana') \gexec
ALTER ROLE grafana WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
  CONNECTION LIMIT 100 PASSWORD :'grafana_password';
SELECT 'CREATE DATABASE grafana OWNER grafana ENCODING ''UTF8'' TEMPLATE template0'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'grafana') \gexec
ALTER DATABASE grafana OWNER TO grafana;
-- Only grafana (and superusers) may connect to its database.
REVOKE ALL ON DATABASE grafana FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE grafana TO grafana;
