#!/bin/sh
# TLS init container for the mail tier (Postfix and Dovecot; runs the
# statex/dovecot image, which has openssl). Uses the Secret mail-tls
# (kubernetes.io/tls: tls.crt, tls.key; optional volume at /secret) when it
# holds a valid certificate and matching key; otherwise generates a
# self-signed certificate for this pod (10 years, CN and SANs from
# $TLS_NAMES). With MAIL_TLS_REQUIRED=true (prod) a missing or invalid
# Secret is fatal instead.
set -eu
out=${TLS_DIR:-/tls}
if [ -s /secret/tls.crt ] && [ -s /secret/tls.key ] \
   && openssl x509 -noout -in /secret/tls.crt 2>/dev/null \
   && [ "$(openssl x509 -noout -pubkey -in /secret/tls.crt | openssl sha256)" = \
        "$(openssl pkey -pubout -in /secret/tls.key 2>/dev/null | openssl sha256)" ]; then
  cp /secret/tls.crt "$out/tls.crt"
  cp /secret/tls.key "$out/tls.key"
  echo "tls-init: using Secret mail-tls: $(openssl x509 -noout -subject -enddate -in "$out/tls.crt" | tr '\n' ' ')"
elif [ "${MAIL_TLS_REQUIRED:-false}" = true ]; then
  echo "tls-init: Secret mail-tls is missing or invalid and MAIL_TLS_REQUIRED=true" >&2
  exit 1
else
  set -- $TLS_NAMES
  san=""
  for n in "$@" "${POD_NAME:-}"; do [ -n "$n" ] && san="${san:+$san,}DNS:$n"; done
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$1" \
    -addext "subjectAltName=$san" -keyout "$out/tls.key" -out "$out/tls.crt" 2>/dev/null
  echo "tls-init: no valid Secret mail-tls; generated a self-signed certificate for $san"
fi
chmod 0644 "$out/tls.crt"
chmod 0600 "$out/tls.key"
