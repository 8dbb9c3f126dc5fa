#!/usr/bin/env bats
# Real EC2 clients against `euca serve clc` for security groups and public addresses: the
# AWS CLI v2 and boto3, unchanged, with --endpoint-url and the keys of the cloud's users.

load helpers
load ec2_helpers

setup_file() {
  # One cloud (and its daemons) for the whole file: its tests run one at a time.
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  clc_setup_file
  EUCA_HOME="$CLC_HOME" "$EUCA_BIN" admin modify-property network.public-ips="198.51.100.10 198.51.100.11" >/dev/null
}

teardown_file() { clc_teardown_file; }

setup() { clc_setup; }

@test "aws ec2 create-security-group / authorize / describe / revoke / delete" {
  need_aws
  run ec2_admin create-security-group --group-name aws-web --description "aws web" --query GroupId --output text
  assert_success
  local gid="$output"
  [[ "$gid" =~ ^sg-[0-9a-f]{8}$ ]]
  run ec2_admin authorize-security-group-ingress --group-id "$gid" --protocol tcp --port 22 --cidr 10.0.0.0/8
  assert_success
  run ec2_admin authorize-security-group-ingress --group-name aws-web --ip-permissions \
    'IpProtocol=udp,FromPort=53,ToPort=53,IpRanges=[{CidrIp=0.0.0.0/0}]'
  assert_success
  run ec2_admin describe-security-groups --group-ids "$gid" \
    --query 'SecurityGroups[0].IpPermissions[].[IpProtocol,FromPort,ToPort,IpRanges[0].CidrIp]' --output text
  assert_success
  assert_line "$(printf 'tcp\t22\t22\t10.0.0.0/8')"
  assert_line "$(printf 'udp\t53\t53\t0.0.0.0/0')"
  # The euca command sees what the AWS CLI made.
  run euca describe-groups aws-web
  assert_line --partial "$(printf 'ALLOWS\tudp\t53\t53\tFROM\tCIDR\t0.0.0.0/0')"
  run ec2_admin authorize-security-group-ingress --group-id "$gid" --protocol tcp --port 22 --cidr 10.0.0.0/8
  assert_failure 254
  assert_output --partial InvalidPermission.Duplicate
  run ec2_admin revoke-security-group-ingress --group-id "$gid" --protocol tcp --port 22 --cidr 10.0.0.0/8
  assert_success
  run ec2_admin delete-security-group --group-id "$gid"
  assert_success
  run ec2_admin describe-security-groups --group-names aws-web
  assert_failure 254
  assert_output --partial InvalidGroup.NotFound
}

@test "aws ec2 allocate-address / describe-addresses / release-address" {
  need_aws
  run ec2_admin allocate-address --query PublicIp --output text
  assert_success
  local ip="$output"
  [[ "$ip" == 198.51.100.1[01] ]]
  run ec2_admin describe-addresses --query 'Addresses[].PublicIp' --output text
  assert_output "$ip"
  run euca describe-addresses
  assert_output --partial "$ip"
  run ec2_admin release-address --public-ip "$ip"
  assert_success
  run ec2_admin describe-addresses --public-ips "$ip"
  assert_failure 254
  assert_output --partial InvalidAddress.NotFound
}

@test "boto3 drives security groups and addresses" {
  need_boto3
  run /usr/bin/python3 "$REPO_ROOT/tests/ec2/boto3_network.py" "$CLC_URL" "$ADMIN_KEY" "$ADMIN_SECRET" \
    "$BOB_KEY" "$BOB_SECRET" "$BOB_ACCOUNT"
  echo "$output"
  assert_success
  refute_output --partial FAILED
}
