<?php
// statex/roundcube configuration: everything site-specific comes from the
// environment (see README.md) or from /etc/roundcube/conf.d/*.php (included
// last, so it overrides). defaults.inc.php holds the rest.
$config = [];
$config['db_dsnw'] = getenv('ROUNDCUBE_DB_DSNW') ?: 'pgsql://roundcube:roundcube@postgres/roundcube';
$config['imap_host'] = getenv('ROUNDCUBE_IMAP_HOST') ?: 'dovecot:1143';
$config['smtp_host'] = getenv('ROUNDCUBE_SMTP_HOST') ?: 'postfix:25';
// SMTP AUTH only when asked for (set ROUNDCUBE_SMTP_USER=%u, ROUNDCUBE_SMTP_PASS=%p).
$config['smtp_user'] = getenv('ROUNDCUBE_SMTP_USER') ?: '';
$config['smtp_pass'] = getenv('ROUNDCUBE_SMTP_PASS') ?: '';
// 24 characters; must be the same on every replica (sessions move between pods).
$config['des_key'] = getenv('ROUNDCUBE_DES_KEY') ?: '';
$config['product_name'] = getenv('ROUNDCUBE_PRODUCT_NAME') ?: 'Roundcube Webmail';
$config['support_url'] = '';
$config['log_driver'] = 'stdout';
$config['temp_dir'] = '/var/lib/roundcube/temp/';
$config['skin'] = 'elastic';
$config['plugins'] = [];
$config['enable_spellcheck'] = false;
$config['enable_installer'] = false;
// Behind a Service/Ingress the client address is in X-Forwarded-For.
$config['use_https'] = false;
foreach (glob('/etc/roundcube/conf.d/*.php') ?: [] as $statex_conf) {
    include $statex_conf;
}
