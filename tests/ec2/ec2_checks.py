"""What the boto3 test scripts share: an EC2 client for an endpoint and keys, a check that
prints "ok: ..." or exits with the failing check, and the error code of a call expected to
fail."""
import sys

import boto3
from botocore.exceptions import ClientError


def client(endpoint, key, secret):
    return boto3.client("ec2", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name="euca")


def check(cond, what):
    if not cond:
        sys.exit("FAILED: " + what)
    print("ok: " + what)


def error_code(fn, **kwargs):
    """(code, HTTP status) of the error `fn(**kwargs)` raised; (None, 200) if it succeeded."""
    try:
        fn(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200
