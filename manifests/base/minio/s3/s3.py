#!/usr/bin/env python3
"""Minimal S3 client for Statex backup jobs (MinIO, path-style, SigV4).

The statex/minio image ships the server only (no `mc`), and the service
images have no curl. This script needs nothing but the Python 3 standard
library, which the statex/postgres image carries (Patroni is Python), so
backup CronJobs run it in a statex/postgres container.

Usage:
  s3.py mb     BUCKET                 create the bucket (exists already: ok);
                                      waits up to 5 min for MinIO to answer
  s3.py put    BUCKET KEY FILE        upload FILE (single PUT, <= 5 GiB)
  s3.py get    BUCKET KEY FILE        download to FILE (restore)
  s3.py ls     BUCKET [PREFIX]        list "size key" lines, oldest key first
  s3.py prune  BUCKET PREFIX KEEP     delete all but the KEEP newest objects
                                      under PREFIX (by key: keys carry a UTC
                                      timestamp, so name order = age order)

Environment: S3_ENDPOINT (http://minio:9000), S3_REGION (us-east-1),
S3_CA_FILE (the CA an https endpoint is trusted by, if the file exists),
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (the minio-credentials Secret).
Exit status non-zero on any failure, with the S3 error on stderr.
"""
import datetime
import hashlib
import hmac
import http.client
import os
import ssl
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
CHUNK = 1 << 20


def env(name, default=None):
    v = os.environ.get(name, default)
    if v is None:
        sys.exit(f"s3.py: {name} is not set")
    return v


ENDPOINT = urllib.parse.urlsplit(env("S3_ENDPOINT", "http://minio:9000"))
REGION = env("S3_REGION", "us-east-1")
ACCESS = env("AWS_ACCESS_KEY_ID")
SECRET = env("AWS_SECRET_ACCESS_KEY")


def tls_context():
    """The system's roots, or only the site's own CA when S3_CA_FILE names
    one that exists (a site the pipeline runs; ConfigMap backup-ca)."""
    ca = os.environ.get("S3_CA_FILE", "")
    if ca and os.path.exists(ca):
        return ssl.create_default_context(cafile=ca)
    return ssl.create_default_context()


def _sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def request(method, path, query=None, body=b"", payload_hash=None, length=None):
    """One signed request; body is bytes or a file object (with payload_hash)."""
    query = query or {}
    now = datetime.datetime.now(datetime.timezone.utc)
    amzdate, datestamp = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    if payload_hash is None:
        payload_hash = hashlib.sha256(body).hexdigest()
    host = ENDPOINT.netloc
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(str(v), safe='-_.~')}"
        for k, v in sorted(query.items()))
    canonical_uri = urllib.parse.quote(path, safe="/-_.~")
    headers = {"host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": amzdate}
    signed = ";".join(sorted(headers))
    canonical = "\n".join([method, canonical_uri, canonical_query,
                           "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
                           signed, payload_hash])
    scope = f"{datestamp}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    k = _sign(("AWS4" + SECRET).encode(), datestamp)
    for part in (REGION, "s3", "aws4_request"):
        k = _sign(k, part)
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={ACCESS}/{scope}, "
                                f"SignedHeaders={signed}, Signature={signature}")
    headers["content-length"] = str(length if length is not None else len(body))
    if ENDPOINT.scheme == "https":
        conn = http.client.HTTPSConnection(host, timeout=300, context=tls_context())
    else:
        conn = http.client.HTTPConnection(host, timeout=300)
    url = canonical_uri + ("?" + canonical_query if canonical_query else "")
    conn.request(method, url, body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp


def fail(what, status, resp):
    sys.exit(f"s3.py: {what}: HTTP {status}: {resp.read().decode(errors='replace')[:500]}")


def mb(bucket):
    """Create the bucket; retried for 5 minutes while MinIO is starting
    (connection refused, or 503 until the erasure set has quorum)."""
    deadline = time.time() + 300
    while True:
        try:
            status, resp = request("PUT", f"/{bucket}")
            body = resp.read().decode(errors="replace")
            if status == 200 or "BucketAlreadyOwnedByYou" in body:
                print(f"bucket {bucket}: ok")
                return
            if status < 500:
                sys.exit(f"s3.py: create bucket {bucket}: HTTP {status}: {body[:500]}")
            print(f"waiting for MinIO: HTTP {status}", file=sys.stderr)
        except OSError as e:
            print(f"waiting for {ENDPOINT.netloc}: {e}", file=sys.stderr)
        if time.time() > deadline:
            sys.exit(f"s3.py: bucket {bucket}: MinIO not ready after 5 minutes")
        time.sleep(5)


def put(bucket, key, filename):
    h = hashlib.sha256()
    with open(filename, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    size = os.path.getsize(filename)
    with open(filename, "rb") as f:
        status, resp = request("PUT", f"/{bucket}/{key}", body=f,
                               payload_hash=h.hexdigest(), length=size)
    if status != 200:
        fail(f"put {key}", status, resp)
    resp.read()
    print(f"put s3://{bucket}/{key} ({size} bytes, sha256 {h.hexdigest()})")


def get(bucket, key, filename):
    status, resp = request("GET", f"/{bucket}/{key}")
    if status != 200:
        fail(f"get {key}", status, resp)
    with open(filename, "wb") as f:
        for chunk in iter(lambda: resp.read(CHUNK), b""):
            f.write(chunk)
    print(f"got s3://{bucket}/{key} -> {filename}")


def objects(bucket, prefix=""):
    out, token = [], None
    while True:
        q = {"list-type": "2", "prefix": prefix}
        if token:
            q["continuation-token"] = token
        status, resp = request("GET", f"/{bucket}", query=q)
        if status != 200:
            fail("list", status, resp)
        root = ET.fromstring(resp.read())
        for c in root.findall(f"{NS}Contents"):
            out.append((c.findtext(f"{NS}Key"), int(c.findtext(f"{NS}Size") or 0)))
        if root.findtext(f"{NS}IsTruncated") != "true":
            return sorted(out)
        token = root.findtext(f"{NS}NextContinuationToken")


def prune(bucket, prefix, keep):
    objs = objects(bucket, prefix)
    doomed = objs[:-keep] if keep > 0 else objs
    for key, _ in doomed:
        status, resp = request("DELETE", f"/{bucket}/{key}")
        if status not in (200, 204):
            fail(f"delete {key}", status, resp)
        resp.read()
        print(f"deleted s3://{bucket}/{key}")
    print(f"kept {len(objs) - len(doomed)} object(s) under {prefix}")


def main(argv):
    cmds = {"mb": (mb, 1), "put": (put, 3), "get": (get, 3), "ls": (None, 1),
            "prune": (None, 3)}
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "ls":
        for key, size in objects(args[0], args[1] if len(args) > 1 else ""):
            print(size, key)
    elif cmd == "prune":
        prune(args[0], args[1], int(args[2]))
    else:
        fn, n = cmds[cmd]
        if len(args) != n:
            sys.exit(__doc__)
        fn(*args)


if __name__ == "__main__":
    main(sys.argv)
