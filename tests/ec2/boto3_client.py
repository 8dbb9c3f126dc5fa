#!/usr/bin/python3
"""A boto3 EC2 client against `euca serve clc`: regions, key pairs (create, import,
describe, delete), images (register, describe with filters, launch permissions,
deregister), error codes, and a second account that must not see the first one's objects.
Requests are signed with SigV4 (botocore's default for ec2).

Usage: boto3_client.py ENDPOINT KEY SECRET OTHER_KEY OTHER_SECRET OTHER_ACCOUNT MANIFEST PUBKEY_FILE
Prints one "ok: ..." line per check; exits non-zero with the failing check otherwise.
"""
import hashlib
import sys

from ec2_checks import check, client, error_code


def main():
    endpoint, key, secret, other_key, other_secret, other_account, manifest, pubkey_file = sys.argv[1:9]
    ec2 = client(endpoint, key, secret)
    other = client(endpoint, other_key, other_secret)

    regions = ec2.describe_regions()["Regions"]
    check([r["RegionName"] for r in regions] == ["euca"], "describe_regions")

    created = ec2.create_key_pair(KeyName="boto-key")
    check(created["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----"), "create_key_pair returns the key")
    check(len(created["KeyFingerprint"]) == 59, "create_key_pair fingerprint is 20 colon-separated bytes")
    with open(pubkey_file, "rb") as f:
        pub = f.read()
    imported = ec2.import_key_pair(KeyName="boto-imported", PublicKeyMaterial=pub)
    import base64
    blob = base64.b64decode(pub.split()[1])
    md5 = ":".join("%02x" % b for b in hashlib.md5(blob).digest())
    check(imported["KeyFingerprint"] == md5, "import_key_pair fingerprint is the MD5 of the blob")
    names = sorted(k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"])
    check("boto-key" in names and "boto-imported" in names, "describe_key_pairs lists both")
    only = ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["boto-imp*"]}])["KeyPairs"]
    check([k["KeyName"] for k in only] == ["boto-imported"], "describe_key_pairs with a filter")
    check(error_code(ec2.describe_key_pairs, KeyNames=["boto-nope"]) == ("InvalidKeyPair.NotFound", 400),
          "a missing key pair is InvalidKeyPair.NotFound (400)")
    check(error_code(ec2.create_key_pair, KeyName="boto-key") == ("InvalidKeyPair.Duplicate", 400),
          "a duplicate key pair is InvalidKeyPair.Duplicate (400)")
    check(error_code(other.describe_key_pairs, KeyNames=["boto-key"])[0] == "InvalidKeyPair.NotFound",
          "another account's key pair does not exist for it")
    ec2.delete_key_pair(KeyName="boto-key")
    ec2.delete_key_pair(KeyName="boto-key")
    check("boto-key" not in [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]],
          "delete_key_pair, twice")

    image_id = ec2.register_image(ImageLocation=manifest, Name="boto-image", Description="from boto3")["ImageId"]
    check(image_id.startswith("emi-") and len(image_id) == 12, "register_image gives an emi- id")
    images = ec2.describe_images(ImageIds=[image_id])["Images"]
    check(len(images) == 1 and images[0]["State"] == "available" and images[0]["Name"] == "boto-image"
          and images[0]["ImageLocation"] == manifest and images[0]["Public"] is False,
          "describe_images by id")
    own = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": ["boto-*"]}])["Images"]
    check([i["ImageId"] for i in own] == [image_id], "describe_images with owner self and a filter")
    check(error_code(other.describe_images, ImageIds=[image_id])[0] == "InvalidAMIID.NotFound",
          "another account's private image does not exist for it")
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"UserId": other_account}]})
    perms = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")["LaunchPermissions"]
    check(perms == [{"UserId": other_account}], "modify_image_attribute adds a launch permission")
    check([i["ImageId"] for i in other.describe_images(ExecutableUsers=["self"])["Images"]] == [image_id],
          "the other account sees the shared image")
    check(error_code(other.deregister_image, ImageId=image_id)[0] == "UnauthorizedOperation",
          "the other account may not deregister it")
    ec2.deregister_image(ImageId=image_id)
    check(image_id not in [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]],
          "deregister_image")
    check(error_code(ec2.register_image, ImageLocation="nobucket/none.manifest.xml", Name="none")[0]
          == "InvalidManifest", "a missing manifest is InvalidManifest")

    bad = client(endpoint, key, "not-the-secret")
    check(error_code(bad.describe_regions) == ("AuthFailure", 401), "a wrong secret is AuthFailure (401)")


if __name__ == "__main__":
    main()
