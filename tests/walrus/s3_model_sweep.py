#!/usr/bin/env python3
"""Sweep every operation of the botocore S3 model against a Walrus (euca serve walrus) server.

For each operation in botocore's s3 service model the client method is called with minimal,
plausible parameters against a known state (bucket sweep-b holding object "obj", control bucket
sweep-ctl holding "ctl"). Before and after each call the state is snapshotted (bucket list,
object lists with ETag/size, multipart uploads, bucket/object ACLs, object content and
metadata) and the state is reset between operations.

Verdicts:
  OK implemented   -- an operation Walrus implements; 2xx, parsed by the client, only the expected state changed
  OK refused       -- an operation Walrus does not implement; 501 NotImplemented, nothing changed
  WARN refused(...) -- not implemented, refused with a 4xx other than 501 NotImplemented, nothing changed
  BUG ...          -- 2xx for an unimplemented operation, an unexpected state change, a 5xx, or an
                      implemented operation whose response the client could not parse/was wrong

Usage:
  s3_model_sweep.py --endpoint http://127.0.0.1:PORT [--prefix /services/objectstorage]
           [--vhost-domain DOMAIN] [--eucarc HOME/eucarc] [--json out.json] [--md out.md] [--only Op,Op]
Credentials come from --eucarc or from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
Exit status: 0 when no BUG rows, 1 otherwise.
"""
import argparse
import datetime
import hashlib
import http.client
import json
import os
import re
import sys
import traceback
import urllib.parse

import boto3
import botocore
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, ParamValidationError

B = "sweep-b"
CTL = "sweep-ctl"
OBJ = "obj"
CTLOBJ = "ctl"
OBJ_BODY = b"hello walrus sweep\n"
CTL_BODY = b"control object, never touch\n"
OTHER_BUCKETS_PREFIX = "sweep-"

# Operations Walrus is expected to implement.
IMPLEMENTED = {
    "ListBuckets", "CreateBucket", "DeleteBucket", "HeadBucket", "GetBucketLocation", "ListObjects",
    "ListObjectsV2", "ListObjectVersions", "PutObject", "GetObject", "HeadObject", "DeleteObject",
    "DeleteObjects", "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
    "CompleteMultipartUpload", "AbortMultipartUpload", "ListParts", "ListMultipartUploads",
    "GetBucketAcl", "PutBucketAcl", "GetObjectAcl", "PutObjectAcl", "GetBucketVersioning", "GetObjectAttributes",
    # Configurations Walrus keeps none of: read as S3's default, deleted at once (none after it).
    "GetObjectTagging", "DeleteObjectTagging", "GetBucketOwnershipControls", "GetBucketAccelerateConfiguration",
    "GetBucketRequestPayment", "GetBucketLogging", "GetBucketNotificationConfiguration", "GetBucketNotification",
    "DeleteBucketTagging", "DeleteBucketCors", "DeleteBucketPolicy", "DeleteBucketWebsite", "DeleteBucketLifecycle",
    "DeleteBucketReplication", "DeletePublicAccessBlock", "ListBucketAnalyticsConfigurations",
    "ListBucketInventoryConfigurations", "ListBucketMetricsConfigurations", "ListBucketIntelligentTieringConfigurations",
}

# Reads of configurations Walrus keeps none of: the S3 error a bucket without one answers (404).
NOT_CONFIGURED = {
    "GetBucketTagging": "NoSuchTagSet", "GetBucketCors": "NoSuchCORSConfiguration",
    "GetBucketPolicy": "NoSuchBucketPolicy", "GetBucketPolicyStatus": "NoSuchBucketPolicy",
    "GetBucketWebsite": "NoSuchWebsiteConfiguration", "GetBucketLifecycle": "NoSuchLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "NoSuchLifecycleConfiguration",
    "GetBucketReplication": "ReplicationConfigurationNotFoundError",
    "GetObjectLockConfiguration": "ObjectLockConfigurationNotFoundError",
    "GetPublicAccessBlock": "NoSuchPublicAccessBlockConfiguration",
    "GetBucketEncryption": "ServerSideEncryptionConfigurationNotFoundError",
    "GetBucketAnalyticsConfiguration": "NoSuchConfiguration", "GetBucketInventoryConfiguration": "NoSuchConfiguration",
    "GetBucketMetricsConfiguration": "NoSuchConfiguration",
    "GetBucketIntelligentTieringConfiguration": "NoSuchConfiguration",
}

NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)

# Plausible values for required structures of unimplemented operations (others are generated).
OVERRIDES = {
    "PutObjectTagging": dict(Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}),
    "PutBucketTagging": dict(Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}),
    "PutBucketPolicy": dict(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::sweep-b/*"}]})),
    "PutBucketCors": dict(CORSConfiguration={"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}),
    "PutBucketVersioning": dict(VersioningConfiguration={"Status": "Enabled"}),
    "PutObjectRetention": dict(Retention={"Mode": "GOVERNANCE", "RetainUntilDate": NOW}),
    "PutObjectLegalHold": dict(LegalHold={"Status": "ON"}),
    "RenameObject": dict(Key="obj-renamed", RenameSource=OBJ),
    "RestoreObject": dict(RestoreRequest={"Days": 1}),
    "SelectObjectContent": dict(Expression="select * from s3object", ExpressionType="SQL",
                                InputSerialization={"CSV": {}}, OutputSerialization={"CSV": {}}),
    "PutBucketLifecycleConfiguration": dict(LifecycleConfiguration={"Rules": [
        {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}]}),
    "PutBucketLifecycle": dict(LifecycleConfiguration={"Rules": [
        {"Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1}}]}),
    "PutBucketEncryption": dict(ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}),
    "PutPublicAccessBlock": dict(PublicAccessBlockConfiguration={"BlockPublicAcls": True}),
    "PutBucketOwnershipControls": dict(OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}),
    "PutBucketWebsite": dict(WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}),
    "PutBucketLogging": dict(BucketLoggingStatus={}),
    "PutBucketNotificationConfiguration": dict(NotificationConfiguration={}),
    "PutBucketNotification": dict(NotificationConfiguration={}),
    "PutBucketRequestPayment": dict(RequestPaymentConfiguration={"Payer": "Requester"}),
    "PutBucketAccelerateConfiguration": dict(AccelerateConfiguration={"Status": "Enabled"}),
    "PutObjectLockConfiguration": dict(ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}),
    "GetObjectAttributes": dict(ObjectAttributes=["ETag", "ObjectSize"]),
    "UpdateObjectEncryption": dict(ObjectEncryption={"SSEKMS": {"KMSKeyArn": "arn:aws:kms:us-east-1:123456789012:key/x"}}),
    "WriteGetObjectResponse": dict(RequestRoute="route", RequestToken="token", Body=b"x"),
    "PutBucketAbac": dict(AbacStatus={"Status": "Enabled"}),
}


def gen(shape, depth=0):
    """A minimal value for a botocore shape: required members only."""
    t = shape.type_name
    if t == "structure":
        out = {}
        for m in shape.required_members:
            out[m] = gen(shape.members[m], depth + 1)
        return out
    if t == "list":
        return [gen(shape.member, depth + 1)]
    if t == "map":
        return {"k": "v"}
    if t == "string":
        return shape.enum[0] if shape.enum else "x"
    if t in ("integer", "long"):
        return 1
    if t == "boolean":
        return True
    if t == "timestamp":
        return NOW
    if t == "blob":
        return b"x"
    if t in ("float", "double"):
        return 1.0
    return "x"


class Sweep:
    def __init__(self, args):
        self.args = args
        self.base = args.endpoint.rstrip("/")
        u = urllib.parse.urlsplit(self.base)
        self.netloc = u.netloc
        self.key, self.secret = creds(args)
        self.region = "us-east-1"
        self.events = []  # what the last call sent/received
        if args.vhost_domain:
            port = u.port
            op_endpoint = f"http://{args.vhost_domain}:{port}"
            op_cfg = Config(s3={"addressing_style": "virtual"}, retries={"total_max_attempts": 1},
                            connect_timeout=5, read_timeout=30)
        else:
            op_endpoint = self.base + (args.prefix or "")
            op_cfg = Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1},
                            connect_timeout=5, read_timeout=30)
        self.op_endpoint = op_endpoint
        self.c = boto3.client("s3", endpoint_url=op_endpoint, aws_access_key_id=self.key,
                              aws_secret_access_key=self.secret, region_name=self.region, config=op_cfg)
        # Admin client: plain path style on the base endpoint, used for setup/snapshot/reset.
        self.a = boto3.client("s3", endpoint_url=self.base, aws_access_key_id=self.key,
                              aws_secret_access_key=self.secret, region_name=self.region,
                              config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 2}))
        ev = self.c.meta.events
        ev.register("before-send.s3", self._before_send)
        ev.register("before-parse.s3", self._before_parse)
        # The real HTTP status: botocore turns a 200 whose body is not the expected XML into a 500.
        http_session = self.c._endpoint.http_session
        orig_send = http_session.send

        def send(request):
            r = orig_send(request)
            self.events.append({"raw_status": r.status_code})
            return r
        http_session.send = send

    # --- hooks --------------------------------------------------------------------------------
    def _before_send(self, request, **kw):
        # Send everything to the real server address; keep the Host the client computed (virtual
        # host names like BUCKET.DOMAIN or WriteGetObjectResponse's host prefix do not resolve).
        u = urllib.parse.urlsplit(request.url)
        if u.netloc != self.netloc:
            request.headers["Host"] = u.netloc
            request.url = urllib.parse.urlunsplit((u.scheme, self.netloc, u.path, u.query, u.fragment))
        path = u.path + ("?" + u.query if u.query else "")
        self.events.append({"method": request.method, "host": u.netloc, "path": path})
        return None

    def _before_parse(self, operation_model, response_dict, **kw):
        body = response_dict.get("body")
        if isinstance(body, (bytes, bytearray)):
            snippet = bytes(body[:300])
        else:
            snippet = None
        h = response_dict.get("headers", {})
        self.events.append({"status": response_dict.get("status_code"), "body": snippet,
                            "content-type": h.get("content-type"), "content-length": h.get("content-length")})

    # --- state --------------------------------------------------------------------------------
    def acl_of(self, bucket, key=None):
        try:
            r = self.a.get_object_acl(Bucket=bucket, Key=key) if key else self.a.get_bucket_acl(Bucket=bucket)
        except ClientError as e:
            return "ERR:" + e.response["Error"]["Code"]
        return sorted((g["Grantee"].get("ID") or g["Grantee"].get("URI") or str(g["Grantee"]), g["Permission"])
                      for g in r.get("Grants", []))

    def content_of(self, bucket, key):
        try:
            r = self.a.get_object(Bucket=bucket, Key=key)
            data = r["Body"].read()
            return {"sha": hashlib.sha256(data).hexdigest()[:16], "len": len(data), "ct": r.get("ContentType"),
                    "meta": r.get("Metadata"), "etag": r.get("ETag")}
        except ClientError as e:
            return "ERR:" + e.response["Error"]["Code"]

    def snapshot(self):
        s = {}
        s["buckets"] = sorted(b["Name"] for b in self.a.list_buckets().get("Buckets", []))
        for bk in (B, CTL):
            if bk not in s["buckets"]:
                continue
            objs = {}
            for page in self.a.get_paginator("list_objects_v2").paginate(Bucket=bk):
                for o in page.get("Contents", []):
                    objs[o["Key"]] = (o["ETag"], o["Size"])
            s[f"objects:{bk}"] = objs
            ups = self.a.list_multipart_uploads(Bucket=bk).get("Uploads", [])
            s[f"uploads:{bk}"] = sorted((u["Key"], u["UploadId"]) for u in ups)
            s[f"acl:{bk}"] = self.acl_of(bk)
        for bk, k in ((B, OBJ), (CTL, CTLOBJ)):
            s[f"content:{bk}/{k}"] = self.content_of(bk, k)
            s[f"acl:{bk}/{k}"] = self.acl_of(bk, k)
        return s

    def reset(self):
        names = [b["Name"] for b in self.a.list_buckets().get("Buckets", [])]
        for n in names:
            if n.startswith(OTHER_BUCKETS_PREFIX) and n not in (B, CTL):
                self.empty(n)
                self.a.delete_bucket(Bucket=n)
        for bk, k, body in ((B, OBJ, OBJ_BODY), (CTL, CTLOBJ, CTL_BODY)):
            if bk not in names:
                self.a.create_bucket(Bucket=bk)
            self.empty(bk, keep=k)
            cur = self.content_of(bk, k)
            want = hashlib.sha256(body).hexdigest()[:16]
            if not isinstance(cur, dict) or cur["sha"] != want or cur["ct"] != "text/plain" or cur["meta"]:
                self.a.put_object(Bucket=bk, Key=k, Body=body, ContentType="text/plain")
            self.a.put_bucket_acl(Bucket=bk, ACL="private")
            self.a.put_object_acl(Bucket=bk, Key=k, ACL="private")

    def empty(self, bucket, keep=None):
        for u in self.a.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            self.a.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
        for page in self.a.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for o in page.get("Contents", []):
                if o["Key"] != keep:
                    self.a.delete_object(Bucket=bucket, Key=o["Key"])

    @staticmethod
    def diff(before, after):
        changes = []
        if before["buckets"] != after["buckets"]:
            for n in sorted(set(after["buckets"]) - set(before["buckets"])):
                changes.append(("bucket+", n))
            for n in sorted(set(before["buckets"]) - set(after["buckets"])):
                changes.append(("bucket-", n))
        for k in sorted(set(before) | set(after)):
            if k == "buckets":
                continue
            bv, av = before.get(k), after.get(k)
            if bv == av:
                continue
            kind, _, where = k.partition(":")
            if kind == "objects" and isinstance(bv, dict) and isinstance(av, dict):
                for key in sorted(set(bv) | set(av)):
                    if key not in bv:
                        changes.append(("object+", f"{where}/{key}"))
                    elif key not in av:
                        changes.append(("object-", f"{where}/{key}"))
                    elif bv[key] != av[key]:
                        changes.append(("object~", f"{where}/{key}"))
            else:
                changes.append((kind + "~", where))
        return changes

    # --- per-operation setup -------------------------------------------------------------------
    def params_for(self, op, opm):
        """(params, allowed-change predicate, post-check) for an operation."""
        p = {}
        inp = opm.input_shape
        req = list(inp.required_members) if inp else []
        for m in req:
            if m == "Bucket":
                p[m] = B
            elif m == "Key":
                p[m] = OBJ
            else:
                p[m] = gen(inp.members[m])
        p.update(OVERRIDES.get(op, {}))
        allowed = lambda c: False  # noqa: E731
        check = None
        a = self.a
        if op == "CreateBucket":
            p["Bucket"] = "sweep-new"
            allowed = lambda c: c == ("bucket+", "sweep-new")  # noqa: E731
        elif op == "DeleteBucket":
            a.create_bucket(Bucket="sweep-del")
            p["Bucket"] = "sweep-del"
            allowed = lambda c: c == ("bucket-", "sweep-del")  # noqa: E731
        elif op == "PutObject":
            p.update(Key="put-new", Body=b"new object\n")
            allowed = lambda c: c == ("object+", f"{B}/put-new")  # noqa: E731
        elif op == "DeleteObject":
            a.put_object(Bucket=B, Key="del-me", Body=b"x")
            p["Key"] = "del-me"
            allowed = lambda c: c == ("object-", f"{B}/del-me")  # noqa: E731
        elif op == "DeleteObjects":
            a.put_object(Bucket=B, Key="del-me", Body=b"x")
            p["Delete"] = {"Objects": [{"Key": "del-me"}]}
            allowed = lambda c: c == ("object-", f"{B}/del-me")  # noqa: E731
        elif op == "CopyObject":
            p.update(Key="copy-dst", CopySource={"Bucket": B, "Key": OBJ})
            allowed = lambda c: c == ("object+", f"{B}/copy-dst")  # noqa: E731
        elif op == "CreateMultipartUpload":
            p["Key"] = "mpu-new"
            allowed = lambda c: c == ("uploads~", B)  # noqa: E731
        elif op in ("AbortMultipartUpload", "ListParts", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload"):
            key = "mpu-" + op.lower()
            uid = a.create_multipart_upload(Bucket=B, Key=key)["UploadId"]
            p.update(Key=key, UploadId=uid)
            if op in ("UploadPart", "UploadPartCopy"):
                p["PartNumber"] = 1
                if op == "UploadPart":
                    p["Body"] = b"part one\n"
                else:
                    p["CopySource"] = {"Bucket": B, "Key": OBJ}
            if op == "CompleteMultipartUpload":
                etag = a.upload_part(Bucket=B, Key=key, UploadId=uid, PartNumber=1, Body=b"only part\n")["ETag"]
                p["MultipartUpload"] = {"Parts": [{"ETag": etag, "PartNumber": 1}]}
                allowed = lambda c: c in (("uploads~", B), ("object+", f"{B}/{key}"))  # noqa: E731
            elif op == "AbortMultipartUpload":
                allowed = lambda c: c == ("uploads~", B)  # noqa: E731
            # snapshot is taken after this setup, so the upload exists on both sides for the others
        elif op == "PutObjectAcl":
            p["ACL"] = "public-read"
            allowed = lambda c: c == ("acl~", f"{B}/{OBJ}")  # noqa: E731
        elif op == "PutBucketAcl":
            p["ACL"] = "public-read"
            allowed = lambda c: c == ("acl~", B)  # noqa: E731
        elif op == "GetObject":
            check = lambda r: (r["Body"].read() == OBJ_BODY) or "body differs"  # noqa: E731
        elif op == "ListObjectsV2" or op == "ListObjects":
            check = lambda r: any(o["Key"] == OBJ for o in r.get("Contents", [])) or "obj not listed"  # noqa: E731
        elif op == "ListObjectVersions":
            check = lambda r: any(o["Key"] == OBJ for o in r.get("Versions", [])) or "obj not listed"  # noqa: E731
        elif op == "ListBuckets":
            check = lambda r: any(b["Name"] == B for b in r.get("Buckets", [])) or "bucket not listed"  # noqa: E731
        elif op == "HeadObject":
            check = lambda r: r.get("ContentLength") == len(OBJ_BODY) or "wrong length"  # noqa: E731
        elif op in ("GetObjectAcl", "GetBucketAcl"):
            check = lambda r: bool(r.get("Grants")) and bool(r.get("Owner")) or "no grants/owner"  # noqa: E731
        elif op == "GetObjectTagging":
            check = lambda r: r.get("TagSet") == [] or "tags where none can be"  # noqa: E731
        elif op == "GetBucketOwnershipControls":
            check = lambda r: (r["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "ObjectWriter"  # noqa: E731
                               or "not ObjectWriter")
        elif op == "GetBucketRequestPayment":
            check = lambda r: r.get("Payer") == "BucketOwner" or "payer not BucketOwner"  # noqa: E731
        elif op == "GetBucketAccelerateConfiguration":
            check = lambda r: "Status" not in r or "acceleration configured"  # noqa: E731
        elif op == "GetBucketLogging":
            check = lambda r: "LoggingEnabled" not in r or "logging configured"  # noqa: E731
        elif op.startswith("ListBucket") and op.endswith("Configurations"):
            check = lambda r: r.get("IsTruncated") is False and not any(  # noqa: E731
                k.endswith("ConfigurationList") for k in r) or "not an empty list"
        elif op == "ListMultipartUploads":
            check = lambda r: "Uploads" in r or r.get("Bucket") == B or "unparsed"  # noqa: E731
        return p, allowed, check

    # --- run ------------------------------------------------------------------------------------
    def run_op(self, op, opm):
        row = {"op": op, "model": f"{opm.http['method']} {opm.http['requestUri']}",
               "implemented": op in IMPLEMENTED}
        try:
            self.reset()
            p, allowed, check = self.params_for(op, opm)
            before = self.snapshot()
        except Exception as e:  # setup failure
            row.update(status=None, code="SETUP:" + repr(e)[:200], verdict="BUG setup failed (implemented op broken?)")
            return row
        self.events = []
        method = getattr(self.c, botocore.xform_name(op))
        status, code, parsed, exc, check_msg = None, None, None, None, None
        try:
            parsed = method(**p)
            status = parsed.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if check:
                res = check(parsed)
                if res is not True:
                    check_msg = res
            elif "Body" in parsed and hasattr(parsed["Body"], "read"):
                data = parsed["Body"].read()
                parsed["Body"] = data[:120]
        except ClientError as e:
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = e.response.get("Error", {}).get("Code")
            row["message"] = e.response.get("Error", {}).get("Message")
        except Exception as e:
            exc = f"{type(e).__name__}: {str(e)[:300]}"
        sent = [x for x in self.events if "method" in x]
        got = [x for x in self.events if "status" in x]
        if sent:
            row["sent"] = f"{sent[-1]['method']} {sent[-1]['path']}" + (
                f" (Host: {sent[-1]['host']})" if sent[-1]["host"] != self.netloc else "")
        raw = [x["raw_status"] for x in self.events if "raw_status" in x]
        if raw and raw[-1] != status:
            row["client_status"] = status  # what botocore reported
            status = raw[-1]
        if got:
            status = status or got[-1]["status"]
            if got[-1]["body"] is not None:
                row["resp_body"] = got[-1]["body"].decode("utf-8", "replace")[:300]
        try:
            after = self.snapshot()
            changes = self.diff(before, after)
        except Exception as e:
            changes = [("snapshot-failed", repr(e)[:200])]
        row.update(status=status, code=code, exception=exc)
        row["returned"] = describe(row.get("resp_body"), parsed)
        unexpected = [c for c in changes if not allowed(c)]
        row["changes"] = [" ".join(c) for c in changes]
        if parsed is not None:
            row["parsed"] = summarize(parsed)
        # verdict
        problems = []
        if status is not None and status >= 500 and not (status == 501 and code == "NotImplemented"):
            problems.append(f"5xx ({status} {code})")
        if unexpected:
            problems.append("unexpected state change: " + ", ".join(" ".join(c) for c in unexpected))
        if op in NOT_CONFIGURED:
            want = NOT_CONFIGURED[op]
            if status != 404 or code != want:
                problems.append(f"expected 404 {want} (none configured), got {status} {code}")
            verdict = "OK none configured" if not problems else "BUG " + "; ".join(problems)
        elif op in IMPLEMENTED:
            if exc:
                problems.append("client could not parse/handle response: " + exc)
            elif code:
                problems.append(f"implemented op failed: {status} {code}: {row.get('message')}")
            elif check_msg:
                problems.append("wrong response: " + str(check_msg))
            verdict = "OK implemented" if not problems else "BUG " + "; ".join(problems)
        else:
            if exc and status and 200 <= status < 300:
                problems.append(f"unimplemented op returned {status}; client could not parse it: {exc}")
            elif code and status and 200 <= status < 300:
                problems.append(f"unimplemented op returned HTTP {status} ({row['returned']}), which botocore rejects "
                                f"(client reports {row.get('client_status')} {code}: {row.get('message')})")
            elif exc:
                problems.append("client exception: " + exc)
            elif status is not None and 200 <= status < 300:
                problems.append(f"unimplemented op silently accepted ({status}, returned {row['returned']})")
            if problems:
                verdict = "BUG " + "; ".join(problems)
            elif code == "NotImplemented" and status == 501:
                verdict = "OK refused"
            else:
                verdict = f"WARN refused with {status} {code}, not 501 NotImplemented"
        row["verdict"] = verdict
        return row

    def run(self, only=None):
        model = botocore.session.get_session().get_service_model("s3")
        rows = []
        self.reset()  # fail fast when the basics do not work
        for op in model.operation_names:
            if only and op not in only:
                continue
            rows.append(self.run_op(op, model.operation_model(op)))
            print(f"{rows[-1]['op']:48} {str(rows[-1].get('status')):4} {str(rows[-1].get('code')):22} "
                  f"{rows[-1]['verdict']}", file=sys.stderr)
        self.reset()
        return rows

    # --- parameters of implemented operations that name features Walrus does not have ---------------
    def probes(self):
        """Implemented operations called with a header/parameter for a feature Walrus lacks.
        kind: 'honor'  -- a precondition/check: ignoring it is a BUG (412/400/403 expected);
              'refuse' -- a security/compliance promise: silently accepting it is a BUG
                          (x-amz-grant-* are already refused with NotImplemented, so these should be too);
              'note'   -- cosmetic or storage hint: accepted-and-ignored is reported, not a bug."""
        rows = []
        zero_etag = '"00000000000000000000000000000000"'
        ssec_key = b"k" * 32

        def mpu_onto_obj():
            uid = self.a.create_multipart_upload(Bucket=B, Key=OBJ)["UploadId"]
            et = self.a.upload_part(Bucket=B, Key=OBJ, UploadId=uid, PartNumber=1, Body=b"mpu body\n")["ETag"]
            return dict(Key=OBJ, UploadId=uid, MultipartUpload={"Parts": [{"ETag": et, "PartNumber": 1}]}, IfNoneMatch="*")

        def ssec_readable():
            try:
                body = self.a.get_object(Bucket=B, Key="ssec")["Body"].read()
                return "object stored in plaintext: a GET without the customer key returns it" if body == b"secret\n" else None
            except ClientError:
                return None

        def lock_deletable():
            try:
                self.a.delete_object(Bucket=B, Key="locked")
                return "the 'locked' object was then deleted by a plain DeleteObject"
            except ClientError:
                return None

        P = [
            ("PutObject If-None-Match:* onto existing key", "put_object",
             dict(Key=OBJ, Body=b"clobbered\n", IfNoneMatch="*"), "honor", None, None),
            ("PutObject If-None-Match:* onto new key", "put_object",
             dict(Key="cond-new", Body=b"x", IfNoneMatch="*"), "succeed", {("object+", f"{B}/cond-new")}, None),
            ("PutObject If-Match: wrong ETag", "put_object",
             dict(Key=OBJ, Body=b"clobbered\n", IfMatch=zero_etag), "honor", None, None),
            ("PutObject x-amz-write-offset-bytes (append)", "put_object",
             dict(Key=OBJ, Body=b"appended\n", WriteOffsetBytes=len(OBJ_BODY)), "honor", None, None),
            ("DeleteObject If-Match: wrong ETag", "delete_object", dict(Key=OBJ, IfMatch=zero_etag), "honor", None, None),
            ("DeleteObject x-amz-if-match-size: wrong", "delete_object", dict(Key=OBJ, IfMatchSize=1), "honor", None, None),
            ("CompleteMultipartUpload If-None-Match:* onto existing key", "complete_multipart_upload",
             mpu_onto_obj, "honor", {("uploads~", B)}, None),
            ("CopyObject If-None-Match:* onto existing key", "copy_object",
             dict(Key=OBJ, CopySource={"Bucket": CTL, "Key": CTLOBJ}, IfNoneMatch="*"), "honor", None, None),
            ("CopyObject x-amz-copy-source-if-match: wrong", "copy_object",
             dict(Key="copy-dst", CopySource={"Bucket": B, "Key": OBJ}, CopySourceIfMatch=zero_etag), "honor", None, None),
            ("GetObject If-Match: wrong ETag", "get_object", dict(Key=OBJ, IfMatch=zero_etag), "honor", None, None),
            ("GetObject partNumber=2 of a 1-part object", "get_object", dict(Key=OBJ, PartNumber=2), "honor", None, None),
            ("PutObject Content-MD5: wrong", "put_object",
             dict(Key=OBJ, Body=b"clobbered\n", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA=="), "honor", None, None),
            ("PutObject x-amz-checksum-sha256: wrong", "put_object",
             dict(Key=OBJ, Body=b"clobbered\n", ChecksumSHA256="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), "honor", None, None),
            ("ListObjectsV2 x-amz-expected-bucket-owner: other account", "list_objects_v2",
             dict(ExpectedBucketOwner="000000000000"), "honor", None, None),
            ("HeadBucket x-amz-expected-bucket-owner: other account", "head_bucket",
             dict(ExpectedBucketOwner="000000000000"), "honor", None, None),
            ("PutObject SSE-C (customer key)", "put_object",
             dict(Key="ssec", Body=b"secret\n", SSECustomerAlgorithm="AES256", SSECustomerKey=ssec_key), "refuse",
             {("object+", f"{B}/ssec")}, ssec_readable),
            ("PutObject x-amz-object-lock-mode COMPLIANCE", "put_object",
             dict(Key="locked", Body=b"keep me\n", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=NOW), "refuse",
             {("object+", f"{B}/locked")}, lock_deletable),
            ("PutObject x-amz-object-lock-legal-hold ON", "put_object",
             dict(Key="locked", Body=b"keep me\n", ObjectLockLegalHoldStatus="ON"), "refuse",
             {("object+", f"{B}/locked")}, lock_deletable),
            ("CreateBucket x-amz-bucket-object-lock-enabled", "create_bucket",
             dict(Bucket="sweep-lock", ObjectLockEnabledForBucket=True), "refuse", {("bucket+", "sweep-lock")}, None),
            ("CreateBucket x-amz-object-ownership BucketOwnerEnforced", "create_bucket",
             dict(Bucket="sweep-own", ObjectOwnership="BucketOwnerEnforced"), "refuse", {("bucket+", "sweep-own")}, None),
            ("CreateBucket LocationConstraint eu-west-1", "create_bucket",
             dict(Bucket="sweep-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}), "note",
             {("bucket+", "sweep-eu")}, None),
            ("PutObject x-amz-server-side-encryption aws:kms", "put_object",
             dict(Key="sse", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/x"), "refuse",
             {("object+", f"{B}/sse")}, None),
            ("PutObject x-amz-server-side-encryption AES256", "put_object",
             dict(Key="sse", Body=b"x", ServerSideEncryption="AES256"), "refuse", {("object+", f"{B}/sse")}, None),
            ("PutObject x-amz-tagging", "put_object", dict(Key="tagged", Body=b"x", Tagging="a=b"), "refuse",
             {("object+", f"{B}/tagged")}, None),
            ("PutObject x-amz-storage-class GLACIER", "put_object",
             dict(Key="cold", Body=b"x", StorageClass="GLACIER"), "refuse", {("object+", f"{B}/cold")}, None),
            ("PutObject x-amz-website-redirect-location", "put_object",
             dict(Key="redir", Body=b"x", WebsiteRedirectLocation="/elsewhere"), "refuse", {("object+", f"{B}/redir")}, None),
            ("CopyObject x-amz-tagging-directive REPLACE", "copy_object",
             dict(Key="copy-dst", CopySource={"Bucket": B, "Key": OBJ}, TaggingDirective="REPLACE", Tagging="a=b"), "refuse",
             {("object+", f"{B}/copy-dst")}, None),
        ]
        for name, meth, params, kind, allowed, after_check in P:
            self.reset()
            try:
                params = params() if callable(params) else dict(params)
            except Exception as e:
                rows.append({"op": name, "status": None, "code": "SETUP " + repr(e)[:120], "verdict": "BUG setup failed"})
                continue
            params.setdefault("Bucket", B)
            before = self.snapshot()
            self.events = []
            status, code, msg, resp = None, None, None, None
            try:
                resp = getattr(self.c, meth)(**params)
                status = resp["ResponseMetadata"]["HTTPStatusCode"]
                if "Body" in resp:
                    resp["Body"].read()
            except ClientError as e:
                status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                code = e.response.get("Error", {}).get("Code")
                msg = e.response.get("Error", {}).get("Message")
            except ParamValidationError as e:
                # The client's model predates the parameter (Debian's botocore has no IfNoneMatch):
                # nothing was sent, so there is nothing to judge.
                rows.append({"op": name, "status": None, "code": "SKIP client model lacks a parameter",
                             "verdict": "SKIP " + str(e).splitlines()[-1][:120]})
                continue
            except Exception as e:
                code = "EXC " + f"{type(e).__name__}: {str(e)[:150]}"
            raw = [x["raw_status"] for x in self.events if "raw_status" in x]
            if raw:
                status = raw[-1]
            sent = [x for x in self.events if "method" in x]
            changes = self.diff(before, self.snapshot())
            unexpected = [c for c in changes if c not in (allowed or set())]
            v = []
            if status and status >= 500 and not (status == 501 and code == "NotImplemented"):
                v.append(f"5xx ({status} {code})")
            if unexpected:
                v.append("unexpected state change: " + ", ".join(" ".join(c) for c in unexpected))
            ok2xx = status is not None and 200 <= status < 300
            extra = after_check() if (after_check and ok2xx) else None
            if kind == "honor" and ok2xx:
                v.append("condition/check ignored (2xx)")
            if kind == "refuse" and ok2xx:
                v.append("accepted and silently ignored" + (f"; {extra}" if extra else ""))
            if kind == "succeed" and not ok2xx:
                v.append(f"should succeed, got {status} {code}")
            if v:
                verdict = "BUG " + "; ".join(v)
            elif kind == "note" and ok2xx:
                verdict = "NOTE accepted and ignored (2xx)"
            else:
                verdict = f"OK ({status} {code or ''})".replace(" )", ")")
            row = {"op": name, "sent": (f"{sent[-1]['method']} {sent[-1]['path']}" if sent else meth),
                   "status": status, "code": code, "message": msg, "changes": [" ".join(c) for c in changes],
                   "verdict": verdict}
            rows.append(row)
            print(f"{name:60} {status} {code} {verdict}", file=sys.stderr)
        self.reset()
        return rows

    # --- raw HTTP: browser POST form upload, OPTIONS preflight ----------------------------------------
    def raw(self, method, path, headers=None, body=b"", sign=True):
        u = urllib.parse.urlsplit(self.base)
        url = self.base + path
        headers = dict(headers or {})
        if sign:
            r = AWSRequest(method=method, url=url, data=body, headers=headers)
            r.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
            SigV4Auth(Credentials(self.key, self.secret), "s3", self.region).add_auth(r)
            headers = dict(r.headers.items())
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        m = re.search(rb"<Code>([^<]*)</Code>", data)
        return resp.status, (m.group(1).decode() if m else None), dict(resp.getheaders()), data

    def extras(self):
        rows = []

        def add(name, req, fn, allowed=lambda c: False, implemented=False, expected=None):
            self.reset()
            before = self.snapshot()
            try:
                st, code, hdrs, data = fn()
                note = data[:160].decode("utf-8", "replace")
            except Exception as e:
                st, code, note = None, "EXC " + repr(e)[:150], ""
            changes = self.diff(before, self.snapshot())
            unexpected = [c for c in changes if not allowed(c)]
            v = []
            if st and st >= 500 and not (st == 501 and code == "NotImplemented"):
                v.append(f"5xx ({st} {code})")
            if unexpected:
                v.append("unexpected state change: " + ", ".join(" ".join(c) for c in unexpected))
            if st and 200 <= st < 300 and not implemented:
                v.append(f"accepted ({st}), returned {describe(note, None)}")
            if v:
                verdict = "BUG " + "; ".join(v)
            elif implemented:
                verdict = f"OK implemented ({st} {code or ''})".replace(" )", ")")
            elif st == 501 and code == "NotImplemented":
                verdict = "OK refused"
            elif expected and (st, code) == expected:
                verdict = f"OK refused as S3 ({st} {code})"
            elif expected:
                verdict = f"BUG refused with {st} {code}, not {expected[0]} {expected[1]}"
            else:
                verdict = f"WARN refused with {st} {code}, not 501 NotImplemented"
            rows.append({"op": name, "sent": req, "status": st, "code": code, "resp_body": note,
                         "changes": [" ".join(c) for c in changes], "verdict": verdict})
            print(f"{name:48} {st} {code} {rows[-1]['verdict']}", file=sys.stderr)

        pfx = self.args.prefix or ""
        boundary = "sweepboundary1234"

        def form(fields, filedata):
            parts = []
            for k, v in fields:
                parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode())
            parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\n"
                         f"Content-Type: text/plain\r\n\r\n".encode() + filedata + b"\r\n")
            parts.append(f"--{boundary}--\r\n".encode())
            return b"".join(parts)

        ct = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        body_new = form([("key", "form-new")], b"form upload\n")
        body_over = form([("key", OBJ)], b"form overwrite\n")
        add("POST object (form, anonymous, new key)", f"POST {pfx}/{B}", lambda: self.raw(
            "POST", f"{pfx}/{B}", ct, body_new, sign=False))
        add("POST object (form, anonymous, key=obj)", f"POST {pfx}/{B}", lambda: self.raw(
            "POST", f"{pfx}/{B}", ct, body_over, sign=False))
        add("POST object (form, SigV4-signed request)", f"POST {pfx}/{B}", lambda: self.raw(
            "POST", f"{pfx}/{B}", ct, body_new, sign=True))
        add("POST object (form to /bucket/key)", f"POST {pfx}/{B}/{OBJ}", lambda: self.raw(
            "POST", f"{pfx}/{B}/{OBJ}", ct, body_over, sign=False))
        pre = {"Origin": "http://example.com", "Access-Control-Request-Method": "PUT",
               "Access-Control-Request-Headers": "content-type"}
        for path in ("/", f"/{B}", f"/{B}/{OBJ}"):
            # No bucket has a CORS configuration: refused as S3 refuses it then.
            add(f"OPTIONS {path} (CORS preflight)", f"OPTIONS {pfx}{path}", lambda path=path: self.raw(
                "OPTIONS", f"{pfx}{path}", pre, b"", sign=False), expected=(403, "AccessForbidden"))
        # Subresource matrix: every S3 subresource name with each method, on the object and the bucket.
        # Only the combinations in RAW_IMPLEMENTED are operations; everything else must be refused.
        for sub in RAW_SUBS:
            for method in ("GET", "PUT", "DELETE", "POST"):
                for target, kind in ((f"/{B}/{OBJ}", "object"), (f"/{B}", "bucket")):
                    impl = (method, kind, sub) in RAW_IMPLEMENTED
                    add(f"raw {method} {target}?{sub}", f"{method} {pfx}{target}?{sub}",
                        lambda m=method, t=target, s=sub: self.raw(m, f"{pfx}{t}?{s}", {}, b"<x/>" if m in (
                            "PUT", "POST") else b""), implemented=impl,
                        allowed=(lambda c: c[0] == "uploads~") if impl else (lambda c: False))
        self.reset()
        return rows


RAW_SUBS = ["acl", "attributes", "legal-hold", "retention", "tagging", "torrent", "restore", "select",
            "renameObject", "encryption", "policy", "cors", "lifecycle", "website", "versioning", "object-lock",
            "notification", "logging", "replication", "accelerate", "requestPayment", "publicAccessBlock",
            "ownershipControls", "policyStatus", "intelligent-tiering", "analytics", "inventory", "metrics",
            "metadataTable", "metadataConfiguration", "metadataInventoryTable", "metadataJournalTable", "session",
            "abac", "versions", "uploads", "location", "delete"]
# (method, object|bucket, subresource) that are Walrus operations. A PUT ?acl with the bogus body
# "<x/>" is expected to fail (MalformedACLError), a POST ?delete with it too.
RAW_IMPLEMENTED = {("GET", "object", "acl"), ("PUT", "object", "acl"), ("GET", "bucket", "acl"), ("PUT", "bucket", "acl"),
                   ("GET", "bucket", "location"), ("GET", "bucket", "versions"), ("GET", "bucket", "uploads"),
                   ("GET", "bucket", "versioning"), ("POST", "object", "uploads"), ("POST", "bucket", "delete"),
                   ("GET", "object", "attributes"), ("GET", "object", "tagging"), ("DELETE", "object", "tagging")}
# Configurations Walrus keeps none of: GET answers (404 or S3's default), DELETE is done.
RAW_IMPLEMENTED |= {("GET", "bucket", sub) for sub in (
    "tagging", "cors", "policy", "policyStatus", "website", "lifecycle", "replication", "object-lock",
    "publicAccessBlock", "encryption", "ownershipControls", "accelerate", "requestPayment", "logging", "notification",
    "analytics", "inventory", "metrics", "intelligent-tiering")}
RAW_IMPLEMENTED |= {("DELETE", "bucket", sub) for sub in (
    "tagging", "cors", "policy", "website", "lifecycle", "replication", "publicAccessBlock")}


def describe(body, parsed):
    if parsed is not None and isinstance(parsed.get("Body"), (bytes, bytearray)):
        body = parsed["Body"].decode("utf-8", "replace")
    if body is None:
        return "?"
    if body == "":
        return "empty body"
    if body == OBJ_BODY.decode():
        return "the object's body"
    m = re.match(r"(?:<\?xml[^>]*\?>)?\s*<([A-Za-z]+)", body)
    if m:
        return "<" + m.group(1) + "> document"
    return repr(body[:40])


def summarize(parsed):
    d = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    s = repr(d)
    return s[:300]


def creds(args):
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if args.eucarc:
        import subprocess
        out = subprocess.run(["bash", "-c", 'source "$1" >/dev/null 2>&1; echo "$AWS_ACCESS_KEY_ID"; echo "$AWS_SECRET_ACCESS_KEY"',
                              "_", args.eucarc], capture_output=True, text=True, check=True).stdout.split("\n")
        key, secret = out[0], out[1]
    if not key or not secret:
        sys.exit("no credentials: give --eucarc or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
    return key, secret


def md_table(rows, title):
    out = [f"### {title}", "", "| operation | sent (method path) | status / code | verdict |", "|---|---|---|---|"]
    for r in rows:
        sc = f"{r.get('status')} {r.get('code') or ''}".strip()
        if r.get("exception"):
            sc += f" (client: {r['exception'][:80]})"
        v = r["verdict"]
        if r.get("changes") and ("BUG" in v or "NOTE" in v):
            v += " [changes: " + ", ".join(r["changes"]) + "]"
        sent = r.get("sent") or r.get("model", "")
        out.append(f"| {r['op']} | `{sent}` | {sc} | {v.replace('|', '/')} |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--prefix", default="", help="path prefix, e.g. /services/objectstorage")
    ap.add_argument("--vhost-domain", default="", help="use virtual-host style BUCKET.DOMAIN (server needs --domain)")
    ap.add_argument("--eucarc")
    ap.add_argument("--json")
    ap.add_argument("--md")
    ap.add_argument("--only", default="")
    ap.add_argument("--extras", action="store_true",
                    help="also feature-header probes, POST form upload, OPTIONS, raw subresource matrix")
    args = ap.parse_args()
    s = Sweep(args)
    only = set(x for x in args.only.split(",") if x)
    rows = s.run(only)
    extra = s.extras() if args.extras else []
    probe_rows = s.probes() if args.extras else []
    mode = f"virtual-host ({args.vhost_domain})" if args.vhost_domain else f"path style, endpoint {s.op_endpoint}"
    if args.json:
        json.dump({"mode": mode, "ops": rows, "extras": extra, "probes": probe_rows}, open(args.json, "w"), indent=1, default=str)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md_table(rows, f"Operations ({mode})"))
            if probe_rows:
                f.write("\n" + md_table(probe_rows, f"Feature headers on implemented operations ({mode})"))
            if extra:
                f.write("\n" + md_table(extra, f"Extras: POST form upload, OPTIONS, subresource matrix ({mode})"))
    bugs = [r for r in rows + extra + probe_rows if r["verdict"].startswith("BUG")]
    print(f"{len(rows)} operations, {len(extra)} extras, {len(probe_rows)} probes: {len(bugs)} BUG rows", file=sys.stderr)
    sys.exit(1 if bugs else 0)


if __name__ == "__main__":
    main()
