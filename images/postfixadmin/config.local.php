<?php
// statex/postfixadmin settings: site values come from the environment (see
// README.md) or /etc/postfixadmin/conf.d/*.php (included last).
$CONF['configured'] = true;
$CONF['database_type'] = 'pgsql';
$CONF['database_host'] = getenv('POSTFIXADMIN_DB_HOST') ?: 'postgres';
$CONF['database_port'] = getenv('POSTFIXADMIN_DB_PORT') ?: '5432';
$CONF['database_user'] = getenv('POSTFIXADMIN_DB_USER') ?: 'postfixadmin';
$CONF['database_password'] = getenv('POSTFIXADMIN_DB_PASSWORD') ?: '';
$CONF['database_name'] = getenv('POSTFIXADMIN_DB_NAME') ?: 'postfixadmin';
// A password_hash() of the setup password (setup.php shows how to make one).
$CONF['setup_password'] = getenv('POSTFIXADMIN_SETUP_PASSWORD') ?: 'changeme';
// $6$ (SHA512-CRYPT) hashes: Dovecot reads them with
// default_password_scheme = SHA512-CRYPT in its SQL passdb.
$CONF['encrypt'] = 'php_crypt:SHA512';
$CONF['default_language'] = 'en';
$CONF['admin_email'] = getenv('POSTFIXADMIN_ADMIN_EMAIL') ?: '';
$CONF['domain_path'] = 'YES';
$CONF['domain_in_mailbox'] = 'NO';
$CONF['fetchmail'] = 'NO';
$CONF['sendmail'] = 'NO';
$CONF['show_footer_text'] = 'NO';
foreach (glob('/etc/postfixadmin/conf.d/*.php') ?: [] as $statex_conf) {
    include $statex_conf;
}
