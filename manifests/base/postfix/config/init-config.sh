#!/bin/sh
# Postfix init container (statex/postfix image, root, CHOWN only): builds a
# writable /etc/postfix in an emptyDir, because the root filesystem is
# read-only and the image's entrypoint edits main.cf with postconf -e.
#   1. copy the image's /etc/postfix (main.cf, master.cf, ...) into /work/etc
#   2. add the submission service (587) to master.cf with AUTH required
#   3. render the pgsql tables with the lookup password (0640 root:postfix)
#   4. data_directory (emptyDir) owned by postfix; remove a stale master.pid
#      from the spool PVC (left by a killed pod; the new master, also PID 1,
#      otherwise exits at start)
set -eu
chown 994:994 /work/data
rm -f /work/spool/pid/master.pid
dst=/work/etc
cp -a /etc/postfix/. "$dst/"
postconf -c "$dst" -M 'submission/inet=submission inet n - n - - smtpd'
postconf -c "$dst" -P \
  'submission/inet/syslog_name=postfix/submission' \
  'submission/inet/smtpd_tls_security_level=encrypt' \
  'submission/inet/smtpd_sasl_auth_enable=yes' \
  'submission/inet/smtpd_tls_auth_only=yes' \
  'submission/inet/smtpd_client_restrictions=permit_sasl_authenticated,reject' \
  'submission/inet/smtpd_relay_restrictions=permit_sasl_authenticated,reject' \
  'submission/inet/smtpd_recipient_restrictions=permit_sasl_authenticated,reject' \
  'submission/inet/milter_macro_daemon_name=ORIGINATING'
mkdir -p "$dst/pgsql"
chmod 0750 "$dst/pgsql"
for f in /templates/*.cf; do
  out="$dst/pgsql/$(basename "$f")"
  sed "s|@MAIL_LOOKUP_PASSWORD@|${MAIL_LOOKUP_PASSWORD}|" "$f" >"$out"
  chmod 0640 "$out"
done
chgrp -R 994 "$dst/pgsql"
echo "postfix-init: /etc/postfix prepared (submission on 587, $(ls "$dst/pgsql" | wc -l) pgsql tables)"
