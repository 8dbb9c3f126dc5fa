#!/usr/bin/env bats
# euca run-instances, describe-instances, terminate-instances, reboot-instances,
# get-console-output, describe-availability-zones: embedded (EUCA_HOME) and remote
# (EC2_URL = euca serve clc) on one cloud whose embedded zone runs on fake:// (no real VMs).

load helpers
load ec2_helpers

setup_file() {
  instances_setup_file
  "$EUCA_BIN" modify-image-attribute "$EMI" -l -a all >/dev/null
  "$EUCA_BIN" create-keypair mykey >/dev/null
}

teardown_file() { clc_teardown_file; }

setup() { clc_setup; }

# Every test leaves the server's zone empty again (a fake:// node has room for four
# m1.small): terminate what runs, then wait until the cluster's next poll frees the room.
teardown() { empty_the_zone; }

field() { cut -f"$1" <<<"$2"; }

# run_one MODE ARGS...: run-instances, sets RES and ID (the first instance).
run_one() {
  local mode="$1"
  shift
  run in_mode "$mode" run-instances "$EMI" "$@"
  assert_success
  RES="$(field 2 "${lines[0]}")"
  ID="$(field 2 "${lines[1]}")"
}

# --- run-instances ----------------------------------------------------------------------

run_and_describe() {
  local mode="$1"
  run in_mode "$mode" create-group "web-$mode" -d "web servers"
  assert_success
  run in_mode "$mode" run-instances "$EMI" -k mykey -g "web-$mode"
  assert_success
  assert_equal "${#lines[@]}" 2
  assert_line --index 0 --regexp "^RESERVATION	r-[0-9a-f]{8}	[0-9]{12}	web-$mode$"
  # The private address is the group network's (network.mode MANAGED-NOVLAN by default).
  assert_line --index 1 --regexp "^INSTANCE	i-[0-9a-f]{8}	$EMI		10\.1\.0\.[0-9]+	pending	mykey	0		m1.small	[0-9T:.-]+Z	[^	]+	"
  # 32 fields after the tag, as euca2ools 3.
  assert_equal "$(awk -F'\t' '{ print NF }' <<<"${lines[1]}")" 33
  local id
  id="$(field 2 "${lines[1]}")"
  run in_mode "$mode" describe-instances "$id"
  assert_success
  assert_line --index 0 --regexp "^RESERVATION	r-[0-9a-f]{8}	"
  assert_line --index 1 --regexp "^INSTANCE	$id	$EMI	"
  run in_mode "$mode" describe-instances
  assert_line --regexp "^INSTANCE	$id	"
}

@test "run-instances and describe-instances: RESERVATION and INSTANCE records (embedded)" {
  run_and_describe embedded
}

@test "run-instances and describe-instances: RESERVATION and INSTANCE records (remote)" {
  run_and_describe remote
}

@test "run-instances -n MIN-MAX, -t, -z, user data, client token; describe-instances --filter" {
  local zone
  zone="$(euca describe-availability-zones | head -1 | cut -f2)"
  run in_mode remote run-instances "$EMI" -n 2-2 -t m1.small -z "$zone" -d "hello" --client-token tok-1
  assert_success
  assert_equal "${#lines[@]}" 3
  local res="$(field 2 "${lines[0]}")"
  # The same client token answers the same reservation; another request with it is refused.
  run in_mode remote run-instances "$EMI" -n 2-2 -t m1.small -z "$zone" -d "hello" --client-token tok-1
  assert_success
  assert_equal "$(field 2 "${lines[0]}")" "$res"
  # (The server records its instances' states meanwhile: no state fingerprint here.)
  run --separate-stderr in_mode remote run-instances "$EMI" -n 2-2 -t m1.small -z "$zone" -d "bye" --client-token tok-1
  assert_failure 2
  assert_equal "$stderr" \
    "euca: error: client token 'tok-1' was used by reservation '$res' with other user data; use a new token for a different request"
  run --separate-stderr in_mode remote run-instances "$EMI" -n 2-2 -t m1.small -d "hello" --client-token tok-1
  assert_failure 2
  assert_output ""
  [[ "$stderr" == *"with another zone, security groups, kernel or ramdisk"* ]] || fail "stderr: $stderr"
  run in_mode remote describe-instances --filter "instance-type=m1.small" --filter "availability-zone=$zone"
  assert_success
  assert_line --regexp "^RESERVATION	$res	"
}

@test "run-instances refuses bad input" {
  expect_failure 2 "IMAGE is required" run-instances
  expect_failure 2 "--instance-count must be MIN or MIN-MAX" run-instances "$EMI" -n two
  expect_failure 2 "1 <= MIN <= MAX" run-instances "$EMI" -n 3-2
  expect_failure 3 "image 'emi-0000beef' does not exist" run-instances emi-0000beef
  expect_failure 3 "key pair 'nokey' does not exist" run-instances "$EMI" -k nokey
  # The image has no kernel (it boots its own boot loader): an unknown kernel, a ramdisk alone.
  expect_failure 3 "kernel 'eki-0000beef' does not exist" run-instances "$EMI" --kernel eki-0000beef
  expect_failure 2 "ramdisk 'eri-0000beef' needs a kernel" run-instances "$EMI" --ramdisk eri-0000beef
  expect_failure 2 "is a machine image, not a kernel image" run-instances "$EMI" --kernel "$EMI"
  expect_failure 2 "unknown instance type 't9.huge'" run-instances "$EMI" -t t9.huge
  expect_failure 2 "availability zone 'nowhere' does not exist" run-instances "$EMI" -z nowhere
  run euca run-instances "$EMI" -n 100-100
  assert_failure 8
  assert_output --partial "not enough capacity"
}

@test "describe-instances refuses an unknown filter name, even when no instance is selected" {
  local mode url
  for mode in embedded remote; do
    url="$([[ $mode == remote ]] && echo "$CLC_URL" || true)"
    EC2_URL="$url" expect_failure 2 "the filter 'color' is invalid" describe-instances --filter color=x
    EC2_URL="$url" expect_failure 2 "the filter 'color' is invalid" \
      describe-instances --filter instance-type=t9.huge --filter color=x
  done
}

# --- terminate, reboot, console -------------------------------------------------------------

@test "terminate-instances prints previous and current state; describe shows terminated" {
  run_one remote
  run in_mode remote terminate-instances "$ID"
  assert_success
  assert_output --regexp "^INSTANCE	$ID	(pending|running)	shutting-down$"
  run in_mode remote describe-instances "$ID"
  assert_line --index 1 --regexp "^INSTANCE	$ID	$EMI		10\.1\.0\.[0-9]+	terminated	"
  run in_mode remote terminate-instances "$ID"
  assert_output "$(printf 'INSTANCE\t%s\tterminated\tterminated' "$ID")"
  expect_failure 3 "instance 'i-0000dead' does not exist" terminate-instances i-0000dead
  expect_failure 2 "INSTANCE is required" terminate-instances
}

@test "reboot-instances prints nothing; get-console-output prints id and time" {
  # The bad input first: once an instance runs, the server's move of it from pending to
  # running could change the state under expect_failure's no-change check.
  expect_failure 3 "instance 'i-0000dead' does not exist" reboot-instances i-0000dead
  expect_failure 3 "instance 'i-0000dead' does not exist" get-console-output i-0000dead
  expect_failure 2 "INSTANCE is required" get-console-output
  expect_failure 2 "INSTANCE is required" reboot-instances
  run_one remote
  run in_mode remote reboot-instances "$ID"
  # A fake:// instance may still be pending (then reboot is refused by its node).
  if [[ $status -eq 0 ]]; then assert_output ""; fi
  run in_mode remote get-console-output "$ID"
  assert_success
  assert_line --index 0 "$ID"
  assert_line --index 1 --regexp '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$'
}

@test "run-instances --kernel and --ramdisk: registered ones are used, unknown ones refused" {
  head -c 4096 /dev/urandom >vmlinuz
  head -c 4096 /dev/urandom >initrd
  mkdir k r
  euca bundle-image -i vmlinuz --image-type kernel -d k >/dev/null
  euca bundle-image -i initrd --image-type ramdisk -d r >/dev/null
  euca upload-bundle -b kernels -m k/vmlinuz.manifest.xml >/dev/null
  euca upload-bundle -b kernels -m r/initrd.manifest.xml >/dev/null
  local eki eri
  eki="$(euca register kernels/vmlinuz.manifest.xml -n "vmlinuz-$BATS_TEST_NUMBER" | cut -f2)"
  eri="$(euca register kernels/initrd.manifest.xml -n "initrd-$BATS_TEST_NUMBER" | cut -f2)"
  [[ "$eki" == eki-* && "$eri" == eri-* ]]
  local mode url
  # The refusals first: once instances run, the server records their states meanwhile.
  for mode in embedded remote; do
    url="$([[ $mode == remote ]] && echo "$CLC_URL" || true)"
    EC2_URL="$url" expect_failure 3 "kernel 'eki-0000beef' does not exist" run-instances "$EMI" --kernel eki-0000beef
    EC2_URL="$url" expect_failure 3 "ramdisk 'eri-0000beef' does not exist" \
      run-instances "$EMI" --kernel "$eki" --ramdisk eri-0000beef
    # A machine image is no kernel.
    EC2_URL="$url" expect_failure 2 "kernel '$EMI' is a machine image, not a kernel image" \
      run-instances "$EMI" --kernel "$EMI"
  done
  for mode in embedded remote; do
    run_one "$mode" --kernel "$eki" --ramdisk "$eri"
    # Fields 13 and 14 of INSTANCE: kernel and ramdisk.
    assert_equal "$(field 13 "${lines[1]}")" "$eki"
    assert_equal "$(field 14 "${lines[1]}")" "$eri"
  done
}

@test "serve clc refuses a bad --listen, a taken port and a home without a cloud" {
  run --separate-stderr euca serve clc --listen nope
  assert_failure 2
  assert_equal "$stderr" "euca: error: invalid listen address 'nope': no port; expected ADDR:PORT such as 127.0.0.1:8773"
  run --separate-stderr euca serve clc --listen 127.0.0.1:99999
  assert_failure 2
  assert_equal "$stderr" \
    "euca: error: invalid listen address '127.0.0.1:99999': port is larger than 65535; expected ADDR:PORT such as 127.0.0.1:8773"
  # The running server's own port (timeout: a server that wrongly started would not return).
  local taken="${CLC_URL#http://}"
  run --separate-stderr timeout 30 "$EUCA_BIN" serve clc --listen "$taken"
  assert_failure
  assert_equal "$stderr" "euca: error: cannot listen on '$taken': Address already in use"
  mkdir empty
  run --separate-stderr env EUCA_HOME="$BATS_TEST_TMPDIR/empty" timeout 30 "$EUCA_BIN" serve clc --listen 127.0.0.1:0
  assert_failure 3
  assert_equal "$stderr" "euca: error: no cloud in '$BATS_TEST_TMPDIR/empty'; run 'euca admin init' first"
}

# --- tenancy ----------------------------------------------------------------------------------

@test "another account's instances do not exist for bob; the admin sees all with verbose" {
  run_one remote
  local admins="$ID"
  run as_bob remote run-instances "$EMI"
  assert_success
  local bobs="$(field 2 "${lines[1]}")"
  run as_bob remote describe-instances
  assert_success
  assert_line --regexp "^INSTANCE	$bobs	"
  refute_output --partial "$admins"
  run as_bob remote describe-instances "$admins"
  assert_failure 3
  assert_output --partial "instance '$admins' does not exist"
  run as_bob remote terminate-instances "$admins"
  assert_failure 3
  run as_bob remote get-console-output "$admins"
  assert_failure 3
  run as_bob remote reboot-instances "$admins"
  assert_failure 3
  run in_mode remote describe-instances
  refute_output --partial "$bobs"
  run in_mode remote describe-instances verbose
  assert_line --regexp "^INSTANCE	$bobs	"
  assert_line --regexp "^INSTANCE	$admins	"
}

# --- availability zones ---------------------------------------------------------------------

@test "describe-availability-zones: one line per zone; verbose adds free/max per VM type" {
  run in_mode remote describe-availability-zones
  assert_success
  assert_line --index 0 --regexp '^AVAILABILITYZONE	[^	]+	available	$'
  local zone="$(field 2 "${lines[0]}")"
  run in_mode embedded describe-availability-zones verbose
  assert_success
  assert_line --index 0 --regexp "^AVAILABILITYZONE	$zone	available	$"
  assert_line --index 1 "$(printf 'AVAILABILITYZONE\t|- vm types\tfree / max   cpu   ram  disk\t')"
  assert_line --index 2 --regexp '^AVAILABILITYZONE	\|- m1\.small	[0-9]{4} / [0-9]{4}   1    256     5	$'
  assert_equal "${#lines[@]}" 7
  # Verbose is the administrator's: bob sees the zone line only.
  run as_bob remote describe-availability-zones verbose
  assert_success
  assert_equal "${#lines[@]}" 1
  expect_failure 3 "availability zone 'nowhere' does not exist" describe-availability-zones nowhere
}

@test "--output json gives the same records" {
  run in_mode remote run-instances "$EMI" --output json
  assert_success
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 record <<<"$output")" RESERVATION
  assert_equal "$(json_field 1 state <<<"$output")" pending
  run in_mode remote describe-instances --output json
  assert_success
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 record <<<"$output")" RESERVATION
  assert_equal "$(json_field 1 record <<<"$output")" INSTANCE
}
