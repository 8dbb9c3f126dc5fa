#!/usr/bin/env bats
# VM types: admin describe-vm-types and modify-vm-type (also euca-describe-instance-types,
# euca-modify-instance-type).

load helpers

setup_file() { make_template_cloud; }
setup() {
  fresh_home
  use_cloud
}

@test "admin describe-vm-types lists the five defaults in order" {
  run euca admin describe-vm-types
  assert_success
  assert_equal "${#lines[@]}" 5
  assert_line --index 0 "$(printf 'VMTYPE\tm1.small\t1\t256\t5')"
  assert_line --index 1 "$(printf 'VMTYPE\tc1.medium\t2\t512\t10')"
  assert_line --index 2 "$(printf 'VMTYPE\tm1.large\t2\t512\t10')"
  assert_line --index 3 "$(printf 'VMTYPE\tm1.xlarge\t2\t1024\t10')"
  assert_line --index 4 "$(printf 'VMTYPE\tc1.xlarge\t2\t2048\t10')"
}

@test "admin describe-vm-types NAME and --output json" {
  run euca admin describe-vm-types m1.large --output json
  assert_success
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 name <<<"$output")" m1.large
  assert_equal "$(json_field 0 memory_mib <<<"$output")" 512
  run euca admin describe-vm-types t9.huge
  assert_failure 3
  assert_output --partial "unknown VM type 't9.huge'"
}

@test "admin modify-vm-type changes one type as one history commit" {
  run euca admin modify-vm-type c1.medium --cores 4 --memory 1024
  assert_success
  assert_output "$(printf 'VMTYPE\tc1.medium\t4\t1024\t10\twas: 2/512/10')"
  run euca admin describe-vm-types c1.medium m1.small
  assert_line --index 0 "$(printf 'VMTYPE\tm1.small\t1\t256\t5')"
  assert_line --index 1 "$(printf 'VMTYPE\tc1.medium\t4\t1024\t10')"
  run euca admin history -n 1
  assert_output --partial "ModifyVmType c1.medium"
  # The Eucalyptus names and flags work too.
  local bin="$BATS_TEST_TMPDIR/bin"
  mkdir "$bin"
  euca __symlinks "$bin"
  run "$bin/euca-modify-instance-type" -d 20 m1.small
  assert_success
  assert_output "$(printf 'VMTYPE\tm1.small\t1\t256\t20\twas: 1/256/5')"
  run "$bin/euca-describe-instance-types" m1.small
  assert_success
  assert_output --partial "$(printf 'VMTYPE\tm1.small\t1\t256\t20')"
}

@test "admin modify-vm-type refuses bad input and changes nothing" {
  local before
  before="$(state_fingerprint)"
  run euca admin modify-vm-type m1.small --cores 0
  assert_failure 2
  assert_output --partial "cores must be from 1 to 256, got '0'"
  run euca admin modify-vm-type m1.small --memory 1
  assert_failure 2
  run euca admin modify-vm-type m1.small
  assert_failure 2
  assert_output --partial "nothing to change"
  run euca admin modify-vm-type m9.none --cores 2
  assert_failure 3
  assert_output --partial "unknown VM type 'm9.none'"
  run euca admin modify-vm-type m1.small --cores two
  assert_failure 2
  assert_equal "$(state_fingerprint)" "$before"
}

@test "admin modify-vm-type is for cloud administrators only" {
  euca admin create-account alice
  run euca admin create-user bob --account alice
  assert_success
  local key secret
  key="$(cut -f2 <<<"${lines[1]}")"
  secret="$(cut -f3 <<<"${lines[1]}")"
  AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" run euca admin modify-vm-type m1.small --cores 2
  assert_failure 6
  assert_output --partial "only a cloud administrator"
  # Anybody with credentials may list them.
  AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" run euca admin describe-vm-types m1.small
  assert_success
}
