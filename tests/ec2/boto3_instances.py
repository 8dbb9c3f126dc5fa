#!/usr/bin/python3
"""A boto3 EC2 client against `euca serve clc` for instances: run (MinCount/MaxCount,
ClientToken), describe (ids, filters, MaxResults/NextToken pages), terminate, reboot, console
output, availability zones, and a second account that must not see the first one's
instances. Requests are signed with SigV4 (botocore's default for ec2).

Usage: boto3_instances.py ENDPOINT KEY SECRET OTHER_KEY OTHER_SECRET IMAGE_ID
Prints one "ok: ..." line per check; exits non-zero with the failing check otherwise.
"""
import sys
import time

from botocore.exceptions import ClientError
from ec2_checks import check, client, error_code


def main():
    endpoint, key, secret, other_key, other_secret, image = sys.argv[1:7]
    ec2 = client(endpoint, key, secret)
    other = client(endpoint, other_key, other_secret)

    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    check(len(zones) >= 1 and zones[0]["State"] == "available", "describe_availability_zones")
    zone = zones[0]["ZoneName"]

    r = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=2, InstanceType="m1.small",
                          Placement={"AvailabilityZone": zone}, ClientToken="boto3-token")
    ids = [i["InstanceId"] for i in r["Instances"]]
    check(len(ids) == 2 and r["Instances"][0]["State"]["Name"] == "pending", "run_instances MinCount/MaxCount")
    again = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=2, InstanceType="m1.small",
                              Placement={"AvailabilityZone": zone}, ClientToken="boto3-token")
    check(again["ReservationId"] == r["ReservationId"], "run_instances ClientToken is idempotent")
    check(error_code(ec2.run_instances, ImageId=image, MinCount=1, MaxCount=2, InstanceType="m1.small",
                     ClientToken="boto3-token")[0] == "IdempotentParameterMismatch",
          "run_instances ClientToken with another request")

    d = ec2.describe_instances(InstanceIds=ids)
    seen = [i["InstanceId"] for res in d["Reservations"] for i in res["Instances"]]
    check(sorted(seen) == sorted(ids), "describe_instances by id")
    f = ec2.describe_instances(Filters=[{"Name": "instance-type", "Values": ["m1.*"]},
                                        {"Name": "availability-zone", "Values": [zone]}])
    check(any(i["InstanceId"] == ids[0] for res in f["Reservations"] for i in res["Instances"]),
          "describe_instances with filters")
    check(error_code(ec2.describe_instances, InstanceIds=["i-0000dead"])[0] == "InvalidInstanceID.NotFound",
          "describe_instances unknown id")

    out = ec2.get_console_output(InstanceId=ids[0])
    check(out["InstanceId"] == ids[0] and "Timestamp" in out, "get_console_output")

    # The other account sees nothing of these.
    check(not other.describe_instances()["Reservations"], "another account sees no instances")
    for fn, kwargs in [(other.describe_instances, {"InstanceIds": [ids[0]]}),
                       (other.terminate_instances, {"InstanceIds": [ids[0]]}),
                       (other.reboot_instances, {"InstanceIds": [ids[0]]}),
                       (other.get_console_output, {"InstanceId": ids[0]})]:
        check(error_code(fn, **kwargs)[0] == "InvalidInstanceID.NotFound", "another account: " + fn.__name__)

    check(error_code(ec2.run_instances, ImageId=image, MinCount=1000, MaxCount=1000)[0] ==
          "InsufficientInstanceCapacity", "run_instances beyond capacity")
    check(error_code(ec2.run_instances, ImageId="emi-0000beef", MinCount=1, MaxCount=1)[0] ==
          "InvalidAMIID.NotFound", "run_instances unknown image")

    t = ec2.terminate_instances(InstanceIds=ids)
    states = {i["InstanceId"]: (i["PreviousState"]["Name"], i["CurrentState"]["Name"])
              for i in t["TerminatingInstances"]}
    check(all(cur == "shutting-down" for _, cur in states.values()), "terminate_instances")
    d = ec2.describe_instances(InstanceIds=ids)
    check(all(i["State"]["Name"] == "terminated" for res in d["Reservations"] for i in res["Instances"]),
          "terminated after terminate")

    # MaxResults/NextToken through botocore's paginator: four more (the terminated two stay
    # visible), so pages of five are at least two and together the unpaged answer.
    more = None
    deadline = time.monotonic() + 60
    while more is None:
        try:
            more = ec2.run_instances(ImageId=image, MinCount=4, MaxCount=4, InstanceType="m1.small")
        except ClientError as e:  # the cluster may not have freed the terminated ones' room yet
            if e.response["Error"]["Code"] != "InsufficientInstanceCapacity" or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    more_ids = [i["InstanceId"] for i in more["Instances"]]
    everything = [i["InstanceId"] for res in ec2.describe_instances()["Reservations"] for i in res["Instances"]]
    pages = list(ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5}))
    paged = [i["InstanceId"] for page in pages for res in page["Reservations"] for i in res["Instances"]]
    check(len(everything) >= 6 and len(pages) == (len(everything) + 4) // 5, "describe_instances pages of five")
    check(sorted(paged) == sorted(everything) and len(set(paged)) == len(paged),
          "describe_instances pages hold every instance once")
    check(all("NextToken" in page for page in pages[:-1]) and "NextToken" not in pages[-1],
          "describe_instances NextToken on every page but the last")
    ec2.terminate_instances(InstanceIds=more_ids)


if __name__ == "__main__":
    main()
