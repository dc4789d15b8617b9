<?php
// Statex settings for statex/roundcube:1.6, mounted as
// /etc/roundcube/conf.d/10-statex.php (included after the image's
// config.inc.php, so these win). Secrets come from the environment (Secret
// roundcube-credentials), never from this file.

// Shared database on PostgreSQL (db/role roundcube, created by the
// mail-db-bootstrap Job). Sessions live in it too, so any replica serves
// any session.
$config['db_dsnw'] = 'pgsql://roundcube:' . rawurlencode((string) getenv('ROUNDCUBE_DB_PASSWORD'))
    . '@' . (getenv('ROUNDCUBE_DB_HOST') ?: 'postgres') . ':5432/roundcube';

// Same key on every replica (a session's stored IMAP password is encrypted
// with it). The generated Secret value is >= 32 URL-safe characters;
// AES-256-CBC takes exactly 32 bytes.
$config['cipher_method'] = 'AES-256-CBC';
$config['des_key'] = substr((string) getenv('ROUNDCUBE_DES_KEY'), 0, 32);

// IMAP with STARTTLS (Dovecot refuses cleartext logins), SMTP submission
// with STARTTLS + AUTH as the logged-in user.
$config['imap_host'] = getenv('ROUNDCUBE_IMAP_HOST') ?: 'tls://dovecot:143';
$config['smtp_host'] = getenv('ROUNDCUBE_SMTP_HOST') ?: 'tls://postfix:587';
$config['smtp_user'] = '%u';
$config['smtp_pass'] = '%p';
// The in-cluster certificates are self-signed unless Secret mail-tls holds
// a real one: verification is on only when ROUNDCUBE_TLS_VERIFY=true
// (prod, where mail-tls is required; overlays/prod/patches/roundcube.yaml
// says what its certificate must name). ROUNDCUBE_TLS_CA_FILE is the CA to
// verify against (prod: mail-tls's ca.crt); unset, the system's CAs.
$statex_verify = getenv('ROUNDCUBE_TLS_VERIFY') === 'true';
$statex_tls = ['ssl' => [
    'verify_peer' => $statex_verify,
    'verify_peer_name' => $statex_verify,
    'allow_self_signed' => !$statex_verify,
]];
$statex_ca = (string) getenv('ROUNDCUBE_TLS_CA_FILE');
if ($statex_verify && $statex_ca !== '') {
    $statex_tls['ssl']['cafile'] = $statex_ca;
}
$config['imap_conn_options'] = $statex_tls;
$config['smtp_conn_options'] = $statex_tls;

$config['username_domain'] = getenv('ROUNDCUBE_USERNAME_DOMAIN') ?: '';
$config['session_lifetime'] = 30;
// TLS terminates at the ingress in front of the Service.
$config['proxy_whitelist'] = [];
$config['use_secure_cookies'] = false;
