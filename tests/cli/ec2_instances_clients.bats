#!/usr/bin/env bats
# Real EC2 clients against `euca serve clc` for instances and zones: the AWS CLI v2 and
# boto3, unchanged, with --endpoint-url. The embedded zone runs on fake:// (no real VMs).

load helpers
load ec2_helpers

setup_file() { instances_setup_file; }

teardown_file() { clc_teardown_file; }

setup() { clc_setup; }

# Terminates what runs and waits until the zone's next poll frees the room (four m1.small).
teardown() { empty_the_zone; }

@test "aws ec2 run-instances / describe-instances / terminate-instances" {
  need_aws
  run ec2_admin run-instances --image-id "$EMI" --count 2 --instance-type m1.small \
    --query 'Instances[].InstanceId' --output text
  assert_success
  local ids=($output)
  assert_equal "${#ids[@]}" 2
  [[ "${ids[0]}" =~ ^i-[0-9a-f]{8}$ ]]
  run ec2_admin describe-instances --instance-ids "${ids[@]}" \
    --query 'Reservations[].Instances[].[InstanceId,InstanceType,Placement.AvailabilityZone]' --output text
  assert_success
  assert_line --partial "${ids[0]}	m1.small	"
  run ec2_admin describe-instances --filters Name=instance-state-name,Values=pending,running \
    --query 'length(Reservations[].Instances[])'
  assert_output 2
  run ec2_admin get-console-output --instance-id "${ids[0]}" --query InstanceId --output text
  assert_output "${ids[0]}"
  run ec2_admin terminate-instances --instance-ids "${ids[@]}" \
    --query 'TerminatingInstances[].CurrentState.Name' --output text
  assert_success
  assert_output "$(printf 'shutting-down\tshutting-down')"
  run ec2_admin describe-instances --instance-ids "${ids[0]}" --query 'Reservations[0].Instances[0].State.Name' \
    --output text
  assert_output terminated
}

@test "aws ec2 errors: InsufficientInstanceCapacity, InvalidAMIID.NotFound, InvalidInstanceID.NotFound" {
  need_aws
  run ec2_admin run-instances --image-id "$EMI" --count 50
  assert_failure
  assert_output --partial InsufficientInstanceCapacity
  run ec2_admin run-instances --image-id emi-0000beef
  assert_output --partial InvalidAMIID.NotFound
  run ec2_admin terminate-instances --instance-ids i-0000dead
  assert_output --partial InvalidInstanceID.NotFound
}

@test "aws ec2 describe-availability-zones" {
  need_aws
  run ec2_admin describe-availability-zones --query 'AvailabilityZones[].[ZoneName,State,RegionName]' --output text
  assert_success
  assert_output --regexp '^[^	]+	available	euca$'
}

@test "boto3: instances, tenancy, errors" {
  need_boto3
  run /usr/bin/python3 "$BATS_TEST_DIRNAME/../ec2/boto3_instances.py" "$CLC_URL" "$ADMIN_KEY" "$ADMIN_SECRET" \
    "$BOB_KEY" "$BOB_SECRET" "$EMI"
  assert_success
  refute_output --partial FAILED
}
