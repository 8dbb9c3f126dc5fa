#!/usr/bin/python3
"""A boto3 EC2 client against `euca serve clc`: security groups (create, describe with
filters, authorize and revoke with IpPermissions, a source group of another account,
delete) and public addresses (allocate, describe, release), error codes, and a second
account that must not see the first one's groups.

Usage: boto3_network.py ENDPOINT KEY SECRET OTHER_KEY OTHER_SECRET OTHER_ACCOUNT
The cloud must have network.public-ips with at least one free address.
Prints one "ok: ..." line per check; exits non-zero with the failing check otherwise.
"""
import sys

from ec2_checks import check, client, error_code


def main():
    endpoint, key, secret, other_key, other_secret, other_account = sys.argv[1:7]
    ec2 = client(endpoint, key, secret)
    other = client(endpoint, other_key, other_secret)

    gid = ec2.create_security_group(GroupName="boto-web", Description="boto web")["GroupId"]
    check(gid.startswith("sg-"), "create_security_group returns a group id")
    check(error_code(ec2.create_security_group, GroupName="boto-web", Description="again") ==
          ("InvalidGroup.Duplicate", 400), "a duplicate group is InvalidGroup.Duplicate")
    other_gid = other.create_security_group(GroupName="boto-clients", Description="clients")["GroupId"]

    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "UserIdGroupPairs": [{"GroupId": other_gid, "UserId": other_account}]},
    ])
    groups = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"]
    check(len(groups) == 1 and groups[0]["GroupName"] == "boto-web", "describe_security_groups by id")
    perms = {(p["IpProtocol"], p.get("FromPort")): p for p in groups[0]["IpPermissions"]}
    check(perms[("tcp", 22)]["IpRanges"] == [{"CidrIp": "10.0.0.0/8"}], "the CIDR rule is listed")
    pair = perms[("tcp", 443)]["UserIdGroupPairs"][0]
    check(pair["GroupId"] == other_gid and pair["UserId"] == other_account, "the source group of another account")
    check(error_code(ec2.authorize_security_group_ingress, GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]) ==
          ("InvalidPermission.Duplicate", 400), "a duplicate rule is InvalidPermission.Duplicate")
    check(error_code(ec2.authorize_security_group_ingress, GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 99999, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])[0] ==
          "InvalidParameterValue", "a bad port is InvalidParameterValue")
    names = [g["GroupName"] for g in ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["boto-*"]}])["SecurityGroups"]]
    check(names == ["boto-web"], "describe_security_groups with a filter")
    check(error_code(other.describe_security_groups, GroupIds=[gid])[0] == "InvalidGroup.NotFound",
          "another account's group does not exist")
    check(error_code(other.delete_security_group, GroupId=other_gid) == ("InvalidGroup.InUse", 400),
          "a group named by another group's rule is InvalidGroup.InUse")
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "UserIdGroupPairs": [{"GroupId": other_gid, "UserId": other_account}]}])
    check(error_code(ec2.revoke_security_group_ingress, GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "1.2.3.4/32"}]}])[0] ==
          "InvalidPermission.NotFound", "revoking a missing rule is InvalidPermission.NotFound")
    other.delete_security_group(GroupId=other_gid)
    ec2.delete_security_group(GroupName="boto-web")
    check(error_code(ec2.delete_security_group, GroupName="boto-web")[0] == "InvalidGroup.NotFound",
          "a deleted group is gone")
    check(error_code(ec2.delete_security_group, GroupName="default")[0] == "CannotDelete",
          "the default group cannot be deleted")

    ip = ec2.allocate_address()["PublicIp"]
    check(ip.count(".") == 3, "allocate_address returns an address")
    listed = ec2.describe_addresses(PublicIps=[ip])["Addresses"]
    check(len(listed) == 1 and listed[0]["PublicIp"] == ip and listed[0]["Domain"] == "standard",
          "describe_addresses lists it")
    check(error_code(other.release_address, PublicIp=ip)[0] == "InvalidAddress.NotFound",
          "another account cannot release it")
    check(error_code(ec2.associate_address, PublicIp=ip, InstanceId="i-0000dead")[0] ==
          "InvalidInstanceID.NotFound", "associating with an unknown instance")
    ec2.release_address(PublicIp=ip)
    check(ec2.describe_addresses()["Addresses"] == [], "a released address is gone")


if __name__ == "__main__":
    main()
