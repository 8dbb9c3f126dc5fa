#!/usr/bin/env bats
# euca register, deregister, describe-images, describe-image-attribute, modify-image-attribute:
# embedded (EUCA_HOME) and remote (EC2_URL = euca serve clc) on one cloud whose Walrus data
# holds bundles uploaded by the administrator and by bob@other.

load helpers
load ec2_helpers

setup_file() {
  # One cloud (and its daemons) for the whole file: its tests run one at a time.
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  clc_setup_file
  cd "$BATS_FILE_TMPDIR"
  head -c 300000 /dev/urandom >image.img
  head -c 100000 /dev/urandom >vmlinuz
  head -c 100000 /dev/urandom >initrd
  mkdir b
  export EUCA_HOME="$CLC_HOME"
  "$EUCA_BIN" bundle-image -i image.img -d b >/dev/null
  "$EUCA_BIN" bundle-image -i vmlinuz -d b --kernel true >/dev/null
  "$EUCA_BIN" bundle-image -i initrd -d b --ramdisk true >/dev/null
  "$EUCA_BIN" bundle-image -i image.img -d b -r i386 -p old >/dev/null
  for m in image.img vmlinuz initrd old; do
    "$EUCA_BIN" upload-bundle -b images -m "b/$m.manifest.xml" >/dev/null
  done
  # Bob's own bundle, in his own bucket.
  AWS_ACCESS_KEY_ID="$BOB_KEY" AWS_SECRET_ACCESS_KEY="$BOB_SECRET" \
    "$EUCA_BIN" upload-bundle -b bobs -m b/image.img.manifest.xml >/dev/null
}

teardown_file() { clc_teardown_file; }

setup() { clc_setup; }

# field N LINE: the Nth tab-separated field.
field() { cut -f"$1" <<<"$2"; }

# lifecycle MODE: register, describe, share, deregister.
lifecycle() {
  local mode="$1"
  run in_mode "$mode" register images/image.img.manifest.xml -n "machine-$mode" -d "a test image"
  assert_success
  assert_output --regexp $'^IMAGE\temi-[0-9a-f]{8}$'
  local emi
  emi="$(field 2 "$output")"
  run in_mode "$mode" register images/vmlinuz.manifest.xml -n "kernel-$mode"
  assert_output --regexp $'^IMAGE\teki-[0-9a-f]{8}$'
  local eki
  eki="$(field 2 "$output")"
  run in_mode "$mode" register images/initrd.manifest.xml -n "ramdisk-$mode"
  assert_output --regexp $'^IMAGE\teri-[0-9a-f]{8}$'
  local eri
  eri="$(field 2 "$output")"
  run in_mode "$mode" register images/image.img.manifest.xml -n "full-$mode" -a x86_64 --kernel "$eki" --ramdisk "$eri"
  assert_success
  local full
  full="$(field 2 "$output")"

  local owner
  owner="$(euca admin describe-accounts | awk -F'\t' '$2 == "eucalyptus" { print $3 }')"
  run in_mode "$mode" describe-images "$emi"
  assert_success
  assert_output "$(printf 'IMAGE\t%s\timages/image.img.manifest.xml\t%s\tavailable\tprivate\tx86_64\tmachine\t\t\t\tinstance-store\thvm\tkvm' "$emi" "$owner")"
  run in_mode "$mode" describe-images "$full"
  assert_output "$(printf 'IMAGE\t%s\timages/image.img.manifest.xml\t%s\tavailable\tprivate\tx86_64\tmachine\t%s\t%s\t\tinstance-store\tparavirtual\tkvm' "$full" "$owner" "$eki" "$eri")"
  run in_mode "$mode" describe-images --filter image-type=kernel --filter "name=*-$mode"
  assert_output --partial "$eki"
  refute_output --partial "$emi"
  run in_mode "$mode" describe-images -o self
  assert_output --partial "$emi"

  # Bob does not see it, until it is shared with him.
  run --separate-stderr as_bob "$mode" describe-images "$emi"
  assert_failure 3
  [[ "$stderr" == *"the image id '$emi' does not exist"* ]]
  run in_mode "$mode" modify-image-attribute "$emi" -l -a "$BOB_ACCOUNT"
  assert_output "$(printf 'IMAGE\t%s' "$emi")"
  run in_mode "$mode" describe-image-attribute "$emi" -l
  assert_output "$(printf 'launchPermission\t%s\tuserId\t%s' "$emi" "$BOB_ACCOUNT")"
  run as_bob "$mode" describe-images
  assert_output --partial "$emi"
  run as_bob "$mode" describe-images -x self
  assert_output --partial "$emi"
  # ... but Bob may not change or deregister it.
  run as_bob "$mode" deregister "$emi"
  assert_failure 6
  in_mode "$mode" modify-image-attribute "$emi" -l -r "$BOB_ACCOUNT" >/dev/null
  run as_bob "$mode" describe-images
  refute_output --partial "$emi"
  # Public: Bob sees it with -a (his default view is his own and shared images only).
  in_mode "$mode" modify-image-attribute "$emi" -l -a all >/dev/null
  run in_mode "$mode" describe-image-attribute "$emi" -l
  assert_output "$(printf 'launchPermission\t%s\tgroup\tall' "$emi")"
  run as_bob "$mode" describe-images -a
  assert_output --partial "$(printf '%s\timages/image.img.manifest.xml\t%s\tavailable\tpublic' "$emi" "$owner")"
  run as_bob "$mode" describe-images
  refute_output --partial "$emi"

  # Deregister: gone from listings, still shown by id, name free again.
  run in_mode "$mode" deregister "$emi"
  assert_output "$(printf 'IMAGE\t%s' "$emi")"
  run in_mode "$mode" describe-images
  refute_output --partial "$emi"
  run in_mode "$mode" describe-images "$emi"
  assert_output --partial $'\tderegistered\t'
  run in_mode "$mode" register images/image.img.manifest.xml -n "machine-$mode"
  assert_success
}

@test "register, describe, share and deregister images (embedded)" { lifecycle embedded; }
@test "register, describe, share and deregister images (remote)" { lifecycle remote; }

# bad_register MODE
bad_register() {
  local mode="$1" url=""
  [[ "$mode" == remote ]] && url="$CLC_URL"
  EC2_URL="$url" expect_failure 2 "the manifest 'images/none.manifest.xml' does not exist" \
    register images/none.manifest.xml -n none
  EC2_URL="$url" expect_failure 2 "invalid image location 'nobucket'" register nobucket -n x1x
  EC2_URL="$url" expect_failure 2 "invalid image name 'a*b'" register images/old.manifest.xml -n 'a*b'
  EC2_URL="$url" expect_failure 3 "the image id 'eki-00000000' does not exist" \
    register images/image.img.manifest.xml -n k1k --kernel eki-00000000
  EC2_URL="$url" expect_failure 2 "the ramdisk 'eri-00000000' needs a kernel: give --kernel too" \
    register images/image.img.manifest.xml -n r1r --ramdisk eri-00000000
  in_mode "$mode" register images/old.manifest.xml -n "dup-$mode" >/dev/null
  EC2_URL="$url" expect_failure 4 "an image named 'dup-$mode' already exists" register images/old.manifest.xml -n "dup-$mode"
  # Bob cannot register the administrator's private bundle.
  AWS_ACCESS_KEY_ID="$BOB_KEY" AWS_SECRET_ACCESS_KEY="$BOB_SECRET" EC2_URL="$url" expect_failure 6 \
    "you may not read the manifest" register images/image.img.manifest.xml -n stolen
  EC2_URL="$url" expect_failure 3 "the image id 'emi-00000000' does not exist" deregister emi-00000000
  EC2_URL="$url" expect_failure 2 "invalid image id 'bogus'" describe-images bogus
  EC2_URL="$url" expect_failure 2 "the account '999999999999' does not exist" \
    modify-image-attribute "$(in_mode "$mode" describe-images --filter "name=dup-$mode" | cut -f2)" -l -a 999999999999
}

@test "missing manifests, bad names, unknown kernels, duplicates and foreign bundles are refused (embedded)" {
  bad_register embedded
}
@test "missing manifests, bad names, unknown kernels, duplicates and foreign bundles are refused (remote)" {
  bad_register remote
}

@test "the architecture comes from the manifest unless -a; the name defaults to the manifest" {
  run euca register images/old.manifest.xml
  assert_success
  run euca describe-images "$(field 2 "$output")"
  assert_output --partial $'\timages/old.manifest.xml\t'
  assert_output --partial $'\ti386\tmachine\t'
  run euca describe-images --filter name=images/old
  assert_output --partial $'\ti386\t'
}

@test "Bob registers his own bundle; each account sees its own images" {
  run as_bob remote register bobs/image.img.manifest.xml -n bobs-image
  assert_success
  local bobs
  bobs="$(field 2 "$output")"
  run as_bob embedded describe-images
  assert_output --partial "$bobs"
  run euca describe-images -a
  refute_output --partial "$bobs"
  run euca describe-images -o "$BOB_ACCOUNT"
  refute_output --partial "$bobs"
}

@test "describe-images refuses an unknown filter name, even when no image is selected" {
  local mode url
  for mode in embedded remote; do
    url="$([[ $mode == remote ]] && echo "$CLC_URL" || true)"
    EC2_URL="$url" expect_failure 2 "the filter 'color' is invalid for DescribeImages" describe-images --filter color=x
    EC2_URL="$url" expect_failure 2 "the filter 'color' is invalid for DescribeImages" \
      describe-images --filter name=no-such-image --filter color=x
    EC2_URL="$url" expect_failure 2 "the filter 'color' is invalid for DescribeImages" \
      describe-images -o "$BOB_ACCOUNT" --filter color=x
  done
}

@test "usage errors" {
  run euca register
  assert_failure 2
  run euca describe-image-attribute emi-00000000
  assert_failure 2
  expect_failure 2 "give -l/--launch-permission too" modify-image-attribute emi-00000000 -a all
  expect_failure 2 "nothing to change" modify-image-attribute emi-00000000
}
