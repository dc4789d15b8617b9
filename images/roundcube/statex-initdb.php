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
if (in_array($db->table_name('users'), (array) $db->list_tables())) {
    rcmail_utils::db_update($dir, 'roundcube', null, ['errors' => true]);
} else {
    rcmail_utils::db_init($dir);
}
