#!/usr/bin/python3
"""A boto3 client signing with SigV2 (signature_version 's3') against `euca serve walrus`:
bucket-level calls, which botocore signs as "/BUCKET/" while it sends "/BUCKET", on the endpoint
given (with or without the Eucalyptus prefix /services/objectstorage, which botocore leaves
out of what it signs).

botocore 1.28.0 to 1.31.1 sign "/BUCKET?acl?acl" for an operation whose modeled URI carries a
sub-resource (boto/botocore#2962; S3 refuses those signatures too): with such a botocore,
get_bucket_acl and delete_objects are reported as skipped, not run.

Usage: boto3_sigv2.py ENDPOINT ACCESS_KEY SECRET_KEY BUCKET
Prints "ok: CALL" or "skipped: CALL (why)" per call; exits non-zero at the first failure.
"""
import sys

import boto3
import botocore
from botocore.config import Config


def botocore_doubles_subresources():
    version = tuple(int(x) for x in botocore.__version__.split(".")[:3])
    return (1, 28, 0) <= version < (1, 31, 2)


def main():
    endpoint, key, secret, bucket = sys.argv[1:5]
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                      region_name="us-east-1", config=Config(signature_version="s3", retries={"max_attempts": 0}))
    doubled = botocore_doubles_subresources()

    def call(name, check, subresource=False):
        if subresource and doubled:
            print(f"skipped: {name} (botocore {botocore.__version__} signs '/{bucket}?sub?sub', boto/botocore#2962)")
            return
        try:
            ok = check()
        except botocore.exceptions.ClientError as e:
            sys.exit(f"FAILED: {name}: {e}")
        if not ok:
            sys.exit(f"FAILED: {name}")
        print(f"ok: {name}")

    call("create_bucket", lambda: s3.create_bucket(Bucket=bucket) is not None)
    call("head_bucket", lambda: s3.head_bucket(Bucket=bucket) is not None)
    call("put_object", lambda: s3.put_object(Bucket=bucket, Key="o", Body=b"x") is not None)
    call("list_objects", lambda: [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == ["o"])
    call("get_bucket_acl",
         lambda: [g["Permission"] for g in s3.get_bucket_acl(Bucket=bucket)["Grants"]] == ["FULL_CONTROL"],
         subresource=True)
    call("delete_objects",
         lambda: [d["Key"] for d in s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "o"}]})["Deleted"]]
         == ["o"], subresource=True)
    if doubled:
        call("delete_object", lambda: s3.delete_object(Bucket=bucket, Key="o") is not None)
    call("delete_bucket", lambda: s3.delete_bucket(Bucket=bucket) is not None)
    call("list_buckets", lambda: bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]])


if __name__ == "__main__":
    main()
