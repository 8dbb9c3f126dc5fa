#!/usr/bin/env bats
# Real EC2 clients against `euca serve clc`: the AWS CLI v2 and boto3, unchanged, with
# --endpoint-url and the keys of the cloud's users. Behind the CLC: `euca serve cc` and
# `euca serve nc` on libvirt's test:///default driver (ec2_helpers.bash, start_hierarchy).

load helpers
load ec2_helpers

setup_file() {
  # One cloud (and its daemons) for the whole file: its tests run one at a time.
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  clc_setup_file hierarchy
  cd "$BATS_FILE_TMPDIR"
  head -c 200000 /dev/urandom >image.img
  mkdir b
  EUCA_HOME="$CLC_HOME" "$EUCA_BIN" bundle-image -i image.img -d b >/dev/null
  EUCA_HOME="$CLC_HOME" "$EUCA_BIN" upload-bundle -b awsimages -m b/image.img.manifest.xml >/dev/null
  ssh-keygen -q -t rsa -b 2048 -N '' -C 'aws@example' -f "$BATS_FILE_TMPDIR/id_rsa"
}

teardown_file() { hierarchy_teardown_file; }

setup() { clc_setup; }

@test "aws ec2 describe-regions" {
  need_aws
  run ec2_admin describe-regions --query 'Regions[].RegionName' --output text
  assert_success
  assert_output euca
}

@test "aws ec2 create-key-pair / describe-key-pairs / import-key-pair / delete-key-pair" {
  need_aws
  run ec2_admin create-key-pair --key-name aws-key --query KeyMaterial --output text
  assert_success
  printf '%s\n' "$output" >aws-key.pem
  local fp
  fp="$(openssl pkcs8 -topk8 -nocrypt -in aws-key.pem -outform DER | sha1sum | cut -d' ' -f1 | sed 's/../&:/g; s/:$//')"
  run ec2_admin describe-key-pairs --key-names aws-key --query 'KeyPairs[0].KeyFingerprint' --output text
  assert_output "$fp"
  run ec2_admin import-key-pair --key-name aws-imported --public-key-material "fileb://$BATS_FILE_TMPDIR/id_rsa.pub" \
    --query KeyFingerprint --output text
  assert_success
  assert_output "$(ssh-keygen -l -E md5 -f "$BATS_FILE_TMPDIR/id_rsa.pub" | awk '{ print $2 }' | sed 's/^MD5://')"
  run ec2_admin describe-key-pairs --filters Name=key-name,Values='aws-*' --query 'KeyPairs[].KeyName' --output text
  assert_output --partial aws-key
  assert_output --partial aws-imported
  # The euca command sees what the AWS CLI made.
  run euca describe-keypairs aws-imported
  assert_success
  run ec2_admin delete-key-pair --key-name aws-key
  assert_success
  run ec2_admin describe-key-pairs --key-names aws-key
  assert_failure 254
  assert_output --partial InvalidKeyPair.NotFound
  # Bob does not see the administrator's keys.
  run ec2_as "$BOB_KEY" "$BOB_SECRET" describe-key-pairs --query 'KeyPairs[].KeyName' --output text
  refute_output --partial aws-imported
}

@test "aws ec2 register-image / describe-images / modify-image-attribute / deregister-image" {
  need_aws
  run ec2_admin register-image --image-location awsimages/image.img.manifest.xml --name aws-image \
    --query ImageId --output text
  assert_success
  local emi="$output"
  [[ "$emi" =~ ^emi-[0-9a-f]{8}$ ]]
  run ec2_admin describe-images --image-ids "$emi" --query 'Images[0].[State,Name,ImageType,Architecture]' --output text
  assert_output "$(printf 'available\taws-image\tmachine\tx86_64')"
  run ec2_admin describe-images --owners self --filters Name=name,Values=aws-image --query 'Images[].ImageId' --output text
  assert_output "$emi"
  run ec2_as "$BOB_KEY" "$BOB_SECRET" describe-images --image-ids "$emi"
  assert_failure 254
  assert_output --partial InvalidAMIID.NotFound
  run ec2_admin modify-image-attribute --image-id "$emi" --launch-permission 'Add=[{Group=all}]'
  assert_success
  run ec2_admin describe-image-attribute --image-id "$emi" --attribute launchPermission \
    --query 'LaunchPermissions[0].Group' --output text
  assert_output all
  run ec2_as "$BOB_KEY" "$BOB_SECRET" describe-images --executable-users all --query 'Images[].ImageId' --output text
  assert_output --partial "$emi"
  run ec2_admin deregister-image --image-id "$emi"
  assert_success
  run ec2_admin describe-images --owners self --query 'Images[].ImageId' --output text
  refute_output --partial "$emi"
}

@test "aws ec2 errors: bad input and bad credentials" {
  need_aws
  run ec2_admin register-image --image-location awsimages/none.manifest.xml --name none
  assert_failure 254
  assert_output --partial InvalidManifest
  run ec2_as AKIANOBODY nothing describe-regions
  assert_failure 254
  assert_output --partial AuthFailure
}

@test "boto3 drives key pairs and images" {
  need_boto3
  run /usr/bin/python3 "$REPO_ROOT/tests/ec2/boto3_client.py" "$CLC_URL" "$ADMIN_KEY" "$ADMIN_SECRET" \
    "$BOB_KEY" "$BOB_SECRET" "$BOB_ACCOUNT" awsimages/image.img.manifest.xml "$BATS_FILE_TMPDIR/id_rsa.pub"
  echo "$output"
  assert_success
  refute_output --partial FAILED
}

@test "serve clc routes metadata paths to the metadata service: a stranger gets 404, not an EC2 error" {
  run curl -sS -w '\n%{http_code}' "$CLC_URL/latest/meta-data/instance-id"
  assert_success
  assert_output $'Not Found\n\n404'
  # The EC2 API on the same port still answers an unsigned request with an EC2 error.
  run curl -sS "$CLC_URL/?Action=DescribeRegions"
  assert_output --partial '<Code>'
}
