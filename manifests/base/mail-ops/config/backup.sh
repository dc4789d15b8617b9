#!/bin/sh
# Mail-tier backups to MinIO, run by the CronJobs in cronjobs.yaml with the
# statex/postgres image (pg_dump, tar, gzip, python3) and the shared S3
# client s3.py (ConfigMap minio-s3-client from ../minio, mounted at /s3).
#   backup.sh maildir   tar.gz of the Dovecot mail volume mounted at /var/mail
#   backup.sh db NAME   pg_dump -Fc of database NAME as its owner role
#                       (password in $PGPASSWORD)
# Objects in bucket $S3_BUCKET at the backup site (ConfigMap backup-target),
# under the prefix of the job's own user (backup-maildir, backup-mail-db):
#   maildir/maildir-<UTC timestamp>.tar.gz
#   mail-db/<name>/<name>-<UTC timestamp>.dump
# Retention: the $RETENTION_KEEP newest objects under the prefix are kept.
set -eu
bucket=$S3_BUCKET
ts=$(date -u +%Y%m%dT%H%M%SZ)
work=/backup
case "${1:-}" in
maildir)
  prefix=maildir/
  out="$work/maildir-$ts.tar.gz"
  # Maildir files are immutable once written (flags live in the file name),
  # so a tar of a live store is consistent per message: a message moved
  # during the run may be missing or present twice, never torn. Exit status
  # 1 (files changed while read) is expected and accepted. Per-pod indexes
  # are not on this volume; Dovecot rebuilds them after a restore.
  rc=0
  tar -C /var/mail -czf "$out" --warning=no-file-changed --warning=no-file-removed \
    --exclude='*/tmp/*' . || rc=$?
  [ "$rc" -le 1 ] || exit "$rc"
  ;;
db)
  name=$2
  prefix=mail-db/$name/
  out="$work/$name-$ts.dump"
  # Wait for the database: a new pod's first connections are refused until
  # the NetworkPolicy agent admits its IP (~1-2 s), and a failover may be in
  # progress.
  i=0
  until psql -X -h "${PGHOST:-postgres}" -U "$name" -d "$name" -Atqc 'SELECT 1' >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -lt 60 ] || { echo "backup: database $name not reachable" >&2; exit 1; }
    sleep 2
  done
  pg_dump -h "${PGHOST:-postgres}" -U "$name" -d "$name" -Fc -f "$out"
  ;;
*) echo "usage: backup.sh maildir | db NAME" >&2; exit 2 ;;
esac
python3 /s3/s3.py put "$bucket" "$prefix$(basename "$out")" "$out"
rm -f "$out"
python3 /s3/s3.py prune "$bucket" "$prefix" "${RETENTION_KEEP:-14}"
echo "backup: $prefix$(basename "$out") uploaded; keeping the ${RETENTION_KEEP:-14} newest under $prefix"
