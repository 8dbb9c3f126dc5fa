#!/usr/bin/python3
"""Keys that look like paths, NULs, 1,024-byte keys and Unicode against `euca serve walrus`
with boto3: each round-trips exactly (PUT, GET, HEAD, listing, DELETE) or is refused with the
S3 error code; a 1,025-byte key gets KeyTooLongError.

Usage: key_safety.py ENDPOINT ACCESS_KEY SECRET_KEY BUCKET MARK
Keys carry MARK so that the caller can look for files named after them anywhere.
Prints one "ok: ..." line per check; exits non-zero with the failing check otherwise.
"""
import sys

import boto3
from botocore.client import Config
from botocore.exceptions import ClientError


def check(cond, what):
    if not cond:
        sys.exit("FAILED: " + what)
    print("ok: " + what)


def main():
    endpoint, key, secret, bucket, mark = sys.argv[1:6]
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                      region_name="euca", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket=bucket)
    keys = [
        "../" + mark,
        "../../../../../../../../../tmp/" + mark,
        "a/../../b/" + mark,
        "..%2F..%2F" + mark,
        "./" + mark,
        "/" + mark + "-leading-slash",
        "nul\x00byte-" + mark,
        "\u00fcn\u00efc\u00f6d\u00e9/\u65e5\u672c\u8a9e/\U0001F600-" + mark,
        "k" * (1024 - len(mark)) + mark,
    ]
    for k in keys:
        body = ("body of " + repr(k)).encode()
        s3.put_object(Bucket=bucket, Key=k, Body=body)
        got = s3.get_object(Bucket=bucket, Key=k)["Body"].read()
        head = s3.head_object(Bucket=bucket, Key=k)
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=k).get("Contents", [])]
        check(got == body and head["ContentLength"] == len(body) and listed == [k],
              "round trip of a %d-byte key %r" % (len(k.encode()), k[:40]))
    everything = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    check(sorted(everything, key=lambda k: k.encode()) == sorted(keys, key=lambda k: k.encode()),
          "the listing holds exactly those keys, in byte order")
    try:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
        check(False, "a 1,025-byte key is refused")
    except ClientError as e:
        check(e.response["Error"]["Code"] == "KeyTooLongError", "a 1,025-byte key gets KeyTooLongError")
    for k in keys:
        s3.delete_object(Bucket=bucket, Key=k)
    check(s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0, "every key deletes")


if __name__ == "__main__":
    main()
