#!/usr/bin/python3
"""A boto3 client against `euca serve walrus`: bucket and object round trip, listing with a
delimiter, multipart upload, presigned GET (SigV4 and SigV2), error codes.

Usage: boto3_client.py ENDPOINT ACCESS_KEY SECRET_KEY BUCKET
Prints one "ok: ..." line per check; exits non-zero with the failing check otherwise.
"""
import hashlib
import sys
import urllib.request

import boto3
from botocore.client import Config
from botocore.exceptions import ClientError


def client(endpoint, key, secret, signature):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
        region_name="euca", config=Config(signature_version=signature, s3={"addressing_style": "path"}))


def check(cond, what):
    if not cond:
        sys.exit("FAILED: " + what)
    print("ok: " + what)


def main():
    endpoint, key, secret, bucket = sys.argv[1:5]
    s3 = client(endpoint, key, secret, "s3v4")
    s3.create_bucket(Bucket=bucket)
    check(bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]], "create_bucket and list_buckets")

    body = b"hello from boto3\n" * 1000
    put = s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=body, ContentType="text/plain",
                        Metadata={"colour": "blue"})
    check(put["ETag"].strip('"') == hashlib.md5(body).hexdigest(), "put_object ETag is the MD5")
    s3.put_object(Bucket=bucket, Key="dir/sub/b.txt", Body=b"b")
    s3.put_object(Bucket=bucket, Key="top.txt", Body=b"t")

    got = s3.get_object(Bucket=bucket, Key="dir/a.txt")
    check(got["Body"].read() == body and got["Metadata"] == {"colour": "blue"}
          and got["ContentType"] == "text/plain", "get_object returns body, metadata, type")
    part = s3.get_object(Bucket=bucket, Key="dir/a.txt", Range="bytes=6-9")
    check(part["Body"].read() == body[6:10], "ranged get_object")

    listing = s3.list_objects_v2(Bucket=bucket, Delimiter="/", Prefix="dir/")
    check([o["Key"] for o in listing.get("Contents", [])] == ["dir/a.txt"]
          and [p["Prefix"] for p in listing.get("CommonPrefixes", [])] == ["dir/sub/"],
          "list_objects_v2 with delimiter")

    mpu = s3.create_multipart_upload(Bucket=bucket, Key="big.bin")
    chunks = [bytes([i]) * (5 * 1024 * 1024) for i in range(2)] + [b"tail"]
    parts = []
    for n, chunk in enumerate(chunks, start=1):
        r = s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=mpu["UploadId"], PartNumber=n, Body=chunk)
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=mpu["UploadId"],
                                        MultipartUpload={"Parts": parts})
    check(done["ETag"].strip('"').endswith("-3"), "multipart upload ETag ends in -3")
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    check(head["ContentLength"] == sum(len(c) for c in chunks), "multipart object has every byte")

    for signature in ("s3v4", "s3"):
        url = client(endpoint, key, secret, signature).generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "top.txt"}, ExpiresIn=300)
        with urllib.request.urlopen(url) as response:
            check(response.read() == b"t", "presigned GET with " + signature)

    try:
        s3.get_object(Bucket=bucket, Key="missing")
        check(False, "NoSuchKey raised")
    except ClientError as e:
        check(e.response["Error"]["Code"] == "NoSuchKey", "NoSuchKey for a missing key")
    try:
        s3.delete_bucket(Bucket=bucket)
        check(False, "BucketNotEmpty raised")
    except ClientError as e:
        check(e.response["Error"]["Code"] == "BucketNotEmpty", "BucketNotEmpty for a full bucket")

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    s3.delete_bucket(Bucket=bucket)
    check(bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]], "delete_objects and delete_bucket")


if __name__ == "__main__":
    main()
