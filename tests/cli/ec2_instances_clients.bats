#!/usr/bin/env bats
# Real EC2 clients against `euca serve clc` for instances and zones: the AWS CLI v2 and
# boto3, unchanged, with --endpoint-url. Behind the CLC, as separate processes: `euca serve cc`
# (registered as cluster zone-h, started without nodes) and `euca serve nc` on libvirt's
# test:///default driver (registered in zone-h; no real VMs, the disk tools are real), with
# `euca serve walrus` delivering the image to the node.

load helpers
load ec2_helpers

setup_file() { instances_setup_file hierarchy; }

teardown_file() { hierarchy_teardown_file; }

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
  # Terminated once the cluster reports the node's teardown (at once, or at its next poll).
  local i
  for i in $(seq 300); do
    run ec2_admin describe-instances --instance-ids "${ids[0]}" --query 'Reservations[0].Instances[0].State.Name' \
      --output text
    [[ "$output" != terminated ]] || break
    sleep 0.1
  done
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
  assert_output "$(printf '%s\tavailable\teuca' "$HIER_ZONE")"
}

# cc_nodes_become present|absent: within ~30 s the remote cluster's node list has (or lacks)
# http://127.0.0.1:9; the CLC sends its list when it next needs its zones, so each try asks
# for them.
cc_nodes_become() {
  local i
  for i in $(seq 300); do
    EC2_URL="$CLC_URL" "$EUCA_BIN" describe-availability-zones >/dev/null
    if cc_call describeNodes '{}' | grep -q '"url":"http://127.0.0.1:9"'; then
      [[ "$1" == present ]] && return 0
    else
      [[ "$1" == absent ]] && return 0
    fi
    sleep 0.1
  done
  return 1
}

@test "the CLC sends the cluster controller the nodes registered and deregistered in its cluster" {
  # serve cc was started without --node: the node it has came from the CLC.
  run cc_call describeNodes '{}'
  assert_output --partial "\"url\":\"$NC_URL\",\"state\":\"up\""
  # A second node comes (unreachable: down, no room), then leaves; the running CLC re-reads
  # the registration (at most a second old) when it next needs its zones.
  euca admin register-node "$HIER_ZONE" http://127.0.0.1:9 >/dev/null
  cc_nodes_become present || fail "the cluster controller never got the registered node: $(cc_call describeNodes '{}')"
  run cc_call describeNodes '{}'
  assert_output --partial "\"url\":\"$NC_URL\",\"state\":\"up\""
  euca admin deregister-node "$HIER_ZONE" http://127.0.0.1:9
  cc_nodes_become absent || fail "the cluster controller kept the deregistered node: $(cc_call describeNodes '{}')"
  run cc_call describeNodes '{}'
  assert_output --partial "\"url\":\"$NC_URL\",\"state\":\"up\""
}

@test "boto3: instances, tenancy, errors" {
  need_boto3
  run /usr/bin/python3 "$BATS_TEST_DIRNAME/../ec2/boto3_instances.py" "$CLC_URL" "$ADMIN_KEY" "$ADMIN_SECRET" \
    "$BOB_KEY" "$BOB_SECRET" "$EMI"
  assert_success
  refute_output --partial FAILED
}
