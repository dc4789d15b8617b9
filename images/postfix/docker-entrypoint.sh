#!/bin/sh
# statex/postfix entrypoint: apply /etc/postfix/conf.d/*.cf (`key = value`
# lines; # comments) with postconf -e, then run the given command (default:
# `postfix start-fg`, the master in the foreground, logging to stdout).
set -eu
for f in /etc/postfix/conf.d/*.cf; do
  [ -f "$f" ] || continue
  grep -v '^[[:space:]]*\(#\|$\)' "$f" | while IFS= read -r line; do
    postconf -e "$line"
  done
done
if [ "${1:-}" = postfix ] && [ "${2:-}" = start-fg ]; then
  newaliases
  postfix check
fi
exec "$@"
