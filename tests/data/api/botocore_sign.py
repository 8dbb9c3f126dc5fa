#!/usr/bin/python3
"""Signs requests with botocore's own signers and prints them, one JSON object a line, for
core/api/botocore_test.cc to check with our verifier. Sends nothing anywhere.

Each line: name, dialect ("s3" | "query"), access_key_id, now_ms, method, path (raw),
query (raw), headers ([name, value] pairs as they would go on the wire), body (base64),
bucket (virtual-host bucket, else ""), service_prefix (the endpoint prefix the server strips,
else ""). Exits 77 when botocore is missing."""

import base64
import json
import sys
import time
import urllib.parse

try:
    import boto3
    import botocore
    from botocore.auth import (HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth, SigV2Auth,
                               SigV4Auth, SigV4QueryAuth)
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
except ImportError as e:  # pragma: no cover
    print(f"botocore is not installed ({e}); install python3-boto3 (make deps)", file=sys.stderr)
    sys.exit(77)

KEY = "AKIAEUCATEST00000001"
SECRET = "s3cr3t/Key+With=Symbols0123456789abcdef"
CREDS = Credentials(KEY, SECRET)
ENDPOINT = "http://127.0.0.1:8773"


def host_of(url):
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    default = {"http": 80, "https": 443}[parts.scheme]
    if parts.port == default:
        netloc = parts.hostname
    return netloc


def emit(name, dialect, request, bucket=""):
    emit_prepared(name, dialect, request.prepare(), bucket)


def emit_prepared(name, dialect, prepared, bucket="", service_prefix=""):
    parts = urllib.parse.urlsplit(prepared.url)
    headers = [["Host", host_of(prepared.url)]]
    for k, v in prepared.headers.items():
        headers.append([k, v.decode() if isinstance(v, bytes) else v])
    body = prepared.body or b""
    if hasattr(body, "read"):  # a client's file-like body (delete_objects, put_object)
        body.seek(0)
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    if body and not any(k.lower() == "content-length" for k, _ in headers):
        headers.append(["Content-Length", str(len(body))])
    print(json.dumps({
        "name": name, "dialect": dialect, "access_key_id": KEY, "now_ms": int(time.time() * 1000),
        "method": prepared.method, "path": parts.path, "query": parts.query, "headers": headers,
        "body": base64.b64encode(body).decode(), "bucket": bucket, "service_prefix": service_prefix,
    }))


def req(method, url, headers=None, data=None, params=None, auth_path=None):
    r = AWSRequest(method=method, url=url, headers=headers or {}, data=data, params=params or {})
    if auth_path is not None:
        r.auth_path = auth_path
    return r


KEYS = ["/bucket/plain.txt", "/bucket/dir/a%20b%2Bc%24d.txt", "/bucket/%E1%88%B4/%C3%BC%21%2A%28%29",
        "/bucket/~tilde/-_./x"]

# S3, SigV4 header auth (payload signed), path style.
for i, path in enumerate(KEYS):
    r = req("GET", ENDPOINT + path, headers={"Range": "bytes=0-9"})
    S3SigV4Auth(CREDS, "s3", "us-east-1").add_auth(r)
    emit(f"s3v4-get-{i}", "s3", r)
r = req("PUT", ENDPOINT + KEYS[1], headers={"Content-Type": "text/plain", "x-amz-meta-Colour": "  blue  green ",
                                           "x-amz-acl": "public-read"}, data=b"hello world\n")
S3SigV4Auth(CREDS, "s3", "eucalyptus").add_auth(r)
emit("s3v4-put-body", "s3", r)
r = req("GET", ENDPOINT + "/bucket?list-type=2&prefix=a%20b%2Fc%2Bd&delimiter=%2F&encoding-type=url&max-keys=10")
S3SigV4Auth(CREDS, "s3", "us-east-1").add_auth(r)
emit("s3v4-list-query", "s3", r)
r = req("POST", ENDPOINT + "/bucket/k?uploads")
S3SigV4Auth(CREDS, "s3", "us-east-1").add_auth(r)
emit("s3v4-empty-subresource", "s3", r)

# S3, SigV4 presigned.
for i, path in enumerate(KEYS[:3]):
    r = req("GET", ENDPOINT + path + "?response-content-type=text%2Fplain")
    S3SigV4QueryAuth(CREDS, "s3", "us-east-1", expires=600).add_auth(r)
    emit(f"s3v4-presign-{i}", "s3", r)

# boto3 clients' own presigners, path and virtual-host style, SigV4 and SigV2.
for style, sigver in [("path", "s3v4"), ("virtual", "s3v4"), ("path", "s3"), ("virtual", "s3")]:
    endpoint = ENDPOINT if style == "path" else "http://s3.example.test:8773"
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                          region_name="us-east-1",
                          config=Config(signature_version=sigver, s3={"addressing_style": style}))
    url = client.generate_presigned_url("get_object", Params={"Bucket": "mybucket", "Key": "photos/a b+c.jpg"},
                                        ExpiresIn=300)
    parts = urllib.parse.urlsplit(url)
    print(json.dumps({
        "name": f"boto3-presign-{style}-{sigver}", "dialect": "s3", "access_key_id": KEY,
        "now_ms": int(time.time() * 1000), "method": "GET", "path": parts.path, "query": parts.query,
        "headers": [["Host", host_of(url)]], "body": "", "bucket": "mybucket" if style == "virtual" else "",
    }))

# S3 SigV2 (HmacV1) header auth, with amz headers and sub-resources; virtual host via auth_path.
r = req("PUT", ENDPOINT + "/bucket/obj%20key?partNumber=3&uploadId=abc%2Fdef",
        headers={"Content-Type": "application/octet-stream", "Content-MD5": "XrY7u+Ae7tCTyyK7j1rNww==",
                 "x-amz-meta-a": "1", "X-Amz-Meta-B": " two "}, data=b"hello world")
HmacV1Auth(CREDS).add_auth(r)
emit("s3v2-put-part", "s3", r)
r = req("GET", ENDPOINT + "/bucket?acl")
HmacV1Auth(CREDS).add_auth(r)
emit("s3v2-get-acl", "s3", r)
r = req("GET", "http://vbucket.s3.example.test:8773/some/key.txt", auth_path="/vbucket/some/key.txt")
HmacV1Auth(CREDS).add_auth(r)
emit("s3v2-virtual-host", "s3", r, bucket="vbucket")
r = req("GET", ENDPOINT + "/bucket/obj%20key")
HmacV1QueryAuth(CREDS, expires=600).add_auth(r)
del r.headers["Date"]  # the signer's scratch copy of Expires; a presigned URL goes out without it
emit("s3v2-presign", "s3", r)

# boto3 clients with SigV2 (signature_version 's3'), path style, as they send: a bucket-level
# request signed as "/grt/" but sent as "/grt", and below the Eucalyptus endpoint prefix, which
# they leave out of what they sign. Each request is taken before it is sent. botocore 1.28.0 to
# 1.31.1 sign "/grt?acl?acl" for an operation whose modeled URI has a sub-resource
# (boto/botocore#2962; S3 refuses those too): with such a botocore those calls are left out.
DOUBLES_SUBRESOURCES = (1, 28, 0) <= tuple(int(x) for x in botocore.__version__.split(".")[:3]) < (1, 31, 2)


class Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def capture(request, **kwargs):
    raise Captured(request)


for prefix in ["", "/services/objectstorage"]:
    client = boto3.client("s3", endpoint_url=ENDPOINT + prefix, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                          region_name="us-east-1",
                          config=Config(signature_version="s3", s3={"addressing_style": "path"},
                                        retries={"max_attempts": 0}))
    client.meta.events.register("before-send.s3", capture)
    calls = [("create_bucket", {"Bucket": "grt"}), ("head_bucket", {"Bucket": "grt"}),
             ("list_objects", {"Bucket": "grt", "Prefix": "a"}),
             ("put_object", {"Bucket": "grt", "Key": "o", "Body": b"x"}), ("get_object", {"Bucket": "grt", "Key": "o"}),
             ("delete_bucket", {"Bucket": "grt"})]
    if not DOUBLES_SUBRESOURCES:
        calls += [("get_bucket_acl", {"Bucket": "grt"}),
                  ("delete_objects", {"Bucket": "grt", "Delete": {"Objects": [{"Key": "o"}]}})]
    for op, params in calls:
        try:
            getattr(client, op)(**params)
        except Captured as e:
            emit_prepared(f"boto3-s3v2-{op}{'-prefix' if prefix else ''}", "s3", e.request, service_prefix=prefix)
        else:
            sys.exit(f"boto3 sent {op} although the request was to be captured")

# EC2 Query API: SigV4 (POST form, as boto3 sends it; and presigned GET), SigV2 (GET and POST).
form = {"Action": "DescribeInstances", "Version": "2016-11-15", "InstanceId.1": "i-0123456789abcdef0",
        "Filter.1.Name": "tag:Name", "Filter.1.Value.1": "a b+c/d~e*"}
r = req("POST", ENDPOINT + "/services/compute",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        data=urllib.parse.urlencode(form).encode())
SigV4Auth(CREDS, "ec2", "us-east-1").add_auth(r)
emit("ec2-v4-post", "query", r)
r = req("POST", ENDPOINT + "/", headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        data=urllib.parse.urlencode({"Action": "DescribeRegions", "Version": "2016-11-15"}).encode())
SigV4Auth(CREDS, "ec2", "eucalyptus").add_auth(r)
emit("ec2-v4-post-root", "query", r)
r = req("GET", ENDPOINT + "/services/Eucalyptus?Action=DescribeImages&Version=2016-11-15&Owner.1=self")
SigV4QueryAuth(CREDS, "ec2", "us-east-1", expires=300).add_auth(r)
emit("ec2-v4-presign", "query", r)
r = req("GET", ENDPOINT + "/services/compute", params=dict(form))
SigV2Auth(CREDS).add_auth(r)
emit("ec2-v2-get", "query", r)
r = req("POST", ENDPOINT + "/", headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        data=dict(form))
SigV2Auth(CREDS).add_auth(r)
emit("ec2-v2-post", "query", r)
