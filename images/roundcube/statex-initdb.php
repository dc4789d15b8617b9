#!/usr/bin/env php
<?php
// Creates Roundcube's schema in an empty database, or updates an existing one.
// Run by the entrypoint unless ROUNDCUBE_DB_INIT=false.
define('INSTALL_PATH', '/var/lib/roundcube/');
require_once INSTALL_PATH . 'program/include/clisetup.php';
$dir = '/usr/share/roundcube/SQL';
$db = rcmail_utils::db();
if (!$db->is_connected()) {
    fwrite(STDERR, "roundcube-initdb: cannot connect to the database: " . $db->is_error() . "\n");
    exit(1);
}
// Replicas start together: without a lock one creates the schema while the
// other, seeing the first tables, runs every upgrade from 2013 against the
// half-made schema, and both are left failing on every restart. A
// PostgreSQL advisory lock (held until this process's connection closes)
// makes the second wait and then find a complete, current schema.
if ($db->db_provider === 'postgres') {
    $db->query('SELECT pg_advisory_lock(726373)');
    if ($db->is_error()) {
        fwrite(STDERR, "roundcube-initdb: cannot take the schema lock: " . $db->is_error() . "\n");
        exit(1);
    }
}
if (in_array($db->table_name('users'), (array) $db->list_tables())) {
    rcmail_utils::db_update($dir, 'roundcube', null, ['errors' => true]);
} else {
    rcmail_utils::db_init($dir);
}
