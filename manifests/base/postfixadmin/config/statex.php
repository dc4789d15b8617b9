<?php
// Statex settings for statex/postfixadmin:3.3, copied by the init
// container into /etc/postfixadmin/conf.d/10-statex.php (included after the
// image's config.local.php). Database settings come from the environment
// (POSTFIXADMIN_DB_*); the setup password hash is written by the init
// container into 20-setup-password.php.

// Mail domains are managed here before their DNS exists (and clusters may
// have no external DNS at all): do not require resolvable domains.
$CONF['emailcheck_resolve_domain'] = 'NO';
// Welcome mail to new mailboxes goes through Postfix (in-cluster SMTP).
$CONF['smtp_server'] = 'postfix';
$CONF['smtp_port'] = '25';
$CONF['admin_email'] = getenv('POSTFIXADMIN_ADMIN_EMAIL') ?: '';
// No default aliases pointing at example domains (they would relay out).
$CONF['default_aliases'] = [];
// Mailbox paths: <domain>/<user>/ — Dovecot derives the same location
// itself (mail_home), the column is informational.
$CONF['domain_path'] = 'YES';
$CONF['domain_in_mailbox'] = 'NO';
// Postfix/Dovecot own delivery and quotas; no vacation transport here.
$CONF['vacation'] = 'NO';
$CONF['quota'] = 'NO';
