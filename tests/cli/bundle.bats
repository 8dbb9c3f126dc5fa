#!/usr/bin/env bats
# Image bundles: bundle-image and unbundle (euca-bundle-image, euca-unbundle), their
# credentials defaults, interoperability with the shell-only scripts of tests/bundle/, the
# integrity errors and the progress bar.

load helpers

setup_file() {
  make_template_cloud
  # A 5 MiB image: 3 MB of random bytes (incompressible, so --part-size 1048576 gives
  # three parts), then a hole.
  export IMG="$BATS_FILE_TMPDIR/img"
  head -c 3000000 /dev/urandom >"$IMG"
  truncate -s 5M "$IMG"
}

setup() {
  fresh_home
  use_cloud
  cd "$BATS_TEST_TMPDIR"
  export TMPDIR="$BATS_TEST_TMPDIR/tmp"
  mkdir "$TMPDIR"
  ADMIN_CERT="$(echo "$EUCA_HOME"/credentials/admin/euca2-admin-*-cert.pem)"
  ADMIN_KEY="$(echo "$EUCA_HOME"/credentials/admin/euca2-admin-*-pk.pem)"
  CLOUD_CERT="$EUCA_HOME/keys/cloud-cert.pem"
  CLOUD_KEY="$EUCA_HOME/keys/cloud-pk.pem"
  ACCOUNT_ID="$(euca admin describe-accounts | awk -F'\t' '$2 == "eucalyptus" { print $3 }')"
  SCRIPTS="$REPO_ROOT/tests/bundle"
}

# The text of the first element $1 of manifest $2.
manifest_field() {
  sed -n "s|.*<$1[^>]*>\([^<]*\)</$1>.*|\1|p" "$2"
}

# bundle DIR [ARGS...]: bundles $IMG into DIR (created) in three parts; sets MANIFEST.
bundle() {
  local dir="$1"
  shift
  mkdir -p "$dir"
  euca bundle-image -i "$IMG" -d "$dir" --part-size 1048576 "$@" >/dev/null
  MANIFEST="$dir/img.manifest.xml"
  [[ -f "$MANIFEST" ]]
}

# Fails unless folder $1 is empty.
assert_empty_dir() {
  local left
  left="$(ls -A "$1")"
  [[ -z "$left" ]] || fail "'$1' is not empty: $left"
}

# --- round trips -----------------------------------------------------------------------

@test "bundle-image -i alone uses the home's credentials and a new bundle-XXXXXX in TMPDIR; unbundle restores the image" {
  run --separate-stderr euca bundle-image -i "$IMG"
  assert_success
  assert_equal "$stderr" ""
  assert_output --regexp "^Wrote manifest $TMPDIR/bundle-[A-Za-z0-9]{6}/img\\.manifest\\.xml\$"
  local manifest="${output#Wrote manifest }"
  local dir="${manifest%/*}"
  assert_equal "$(ls "$dir")" "$(printf 'img.manifest.xml\nimg.part.00')"
  assert_equal "$(manifest_field user "$manifest")" "$ACCOUNT_ID"
  assert_equal "$(manifest_field architecture "$manifest")" x86_64
  assert_equal "$(manifest_field type "$manifest")" machine
  assert_equal "$(manifest_field name "$manifest")" img
  assert_equal "$(manifest_field size "$manifest")" 5242880
  # Signed with the admin's key: openssl agrees.
  local sig
  sig="$(manifest_field signature "$manifest")"
  [[ "$sig" =~ ^[0-9a-f]{512}$ ]] || fail "signature: $sig"
  printf '%s' "$(grep -o '<machine_configuration>.*</image>' "$manifest")" >signed.txt
  /usr/bin/python3 -c 'import binascii, sys; sys.stdout.buffer.write(binascii.unhexlify(sys.argv[1]))' "$sig" >sig.bin
  openssl x509 -pubkey -noout -in "$ADMIN_CERT" >admin-pub.pem
  run openssl dgst -sha1 -verify admin-pub.pem -signature sig.bin signed.txt
  assert_success

  mkdir out
  run --separate-stderr euca unbundle -m "$manifest" -d out
  assert_success
  assert_output "Wrote out/img"
  cmp "$IMG" out/img
}

@test "bundle-image and unbundle with explicit -c -k --ec2cert -u and no cloud in EUCA_HOME" {
  mkdir creds
  cp "$ADMIN_CERT" creds/cert.pem
  cp "$ADMIN_KEY" creds/pk.pem
  cp "$CLOUD_CERT" creds/cloud-cert.pem
  export EUCA_HOME="$BATS_TEST_TMPDIR/empty-home"
  mkdir b out
  run --separate-stderr euca bundle-image -i "$IMG" -d b -p my-image -r i386 --part-size 1048576 \
    -c creds/cert.pem -k creds/pk.pem --ec2cert creds/cloud-cert.pem -u 1234-5678-9012 -B ami=sda1,root=/dev/sda1
  assert_success
  assert_output "Wrote manifest b/my-image.manifest.xml"
  assert_equal "$(ls b)" "$(printf 'my-image.manifest.xml\nmy-image.part.00\nmy-image.part.01\nmy-image.part.02')"
  assert_equal "$(manifest_field user b/my-image.manifest.xml)" 123456789012
  assert_equal "$(manifest_field architecture b/my-image.manifest.xml)" i386
  grep -q '<mapping><virtual>ami</virtual><device>sda1</device></mapping><mapping><virtual>root</virtual><device>/dev/sda1</device></mapping>' \
    b/my-image.manifest.xml
  [[ ! -e "$EUCA_HOME" ]] || fail "bundle-image created '$EUCA_HOME'"

  run --separate-stderr euca unbundle -m b/my-image.manifest.xml -d out -k creds/pk.pem -c creds/cert.pem
  assert_success
  assert_output "Wrote out/my-image"
  cmp "$IMG" out/my-image
}

@test "bundle-image and unbundle take the credentials of a sourced eucarc" {
  local eucarc="$EUCA_HOME/credentials/admin/eucarc"
  source "$eucarc"
  export EUCA_HOME="$BATS_TEST_TMPDIR/empty-home"
  [[ -n "$EC2_CERT" && -n "$EC2_PRIVATE_KEY" && -n "$EUCALYPTUS_CERT" && -n "$EC2_USER_ID" ]]
  bundle b
  assert_equal "$(manifest_field user "$MANIFEST")" "$ACCOUNT_ID"
  mkdir out
  run euca unbundle -m "$MANIFEST" -d out
  assert_success
  cmp "$IMG" out/img
  # EC2_USER_ID wins over the home's administrator; hyphens are dropped.
  EC2_USER_ID=1111-2222-3333 bundle c
  assert_equal "$(manifest_field user "$MANIFEST")" 111122223333
}

@test "unbundle with the cloud's private key" {
  bundle b
  mkdir out
  run euca unbundle -m "$MANIFEST" -d out -k "$CLOUD_KEY"
  assert_success
  assert_output "Wrote out/img"
  cmp "$IMG" out/img
}

@test "unbundle: -d defaults to the current folder, -s to the manifest's folder, and -s elsewhere works" {
  bundle b
  mkdir here
  (cd here && "$EUCA_BIN" unbundle -m ../b/img.manifest.xml) >out.txt
  assert_equal "$(cat out.txt)" "Wrote ./img"
  cmp "$IMG" here/img
  mkdir parts out
  mv b/img.part.* parts/
  run euca unbundle -m b/img.manifest.xml -s parts -d out
  assert_success
  cmp "$IMG" out/img
}

@test "--output json: bundle-image and unbundle print their results as JSON" {
  mkdir b out
  run --separate-stderr euca bundle-image -i "$IMG" -d b --part-size 1048576 --output json
  assert_success
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 record <<<"$output")" MANIFEST
  assert_equal "$(json_field 0 manifest <<<"$output")" b/img.manifest.xml
  assert_equal "$(json_field 0 prefix <<<"$output")" img
  assert_equal "$(json_field 0 size <<<"$output")" 5242880
  assert_equal "$(json_field 0 account <<<"$output")" "$ACCOUNT_ID"
  assert_equal "$(json_field 0 parts <<<"$output")" "['img.part.00', 'img.part.01', 'img.part.02']"
  run --separate-stderr euca unbundle -m b/img.manifest.xml -d out --output json
  assert_success
  assert_equal "$(json_field 0 record <<<"$output")" IMAGE
  assert_equal "$(json_field 0 image <<<"$output")" out/img
  assert_equal "$(json_field 0 size <<<"$output")" 5242880
}

@test "--debug lists the parts and the credentials used on stderr" {
  mkdir b
  run --separate-stderr euca --debug bundle-image -i "$IMG" -d b --part-size 1048576
  assert_success
  assert_output "Wrote manifest b/img.manifest.xml"
  [[ "$stderr" == *"debug: part b/img.part.00"* && "$stderr" == *"debug: part b/img.part.02"* ]] || fail "$stderr"
  [[ "$stderr" == *"debug: user certificate '$ADMIN_CERT' (from the cloud administrator in EUCA_HOME)"* ]] || fail "$stderr"
}

@test "kernel and ramdisk bundles: --kernel true, --ramdisk true, --image-type, and ids for a machine image" {
  bundle k --kernel true
  assert_equal "$(manifest_field type "$MANIFEST")" kernel
  assert_equal "$(manifest_field kernel_id "$MANIFEST")" true
  bundle r --image-type ramdisk
  assert_equal "$(manifest_field type "$MANIFEST")" ramdisk
  assert_equal "$(manifest_field ramdisk_id "$MANIFEST")" true
  bundle m --kernel eki-12345678 --ramdisk eri-87654321
  assert_equal "$(manifest_field type "$MANIFEST")" machine
  assert_equal "$(manifest_field kernel_id "$MANIFEST")" eki-12345678
  assert_equal "$(manifest_field ramdisk_id "$MANIFEST")" eri-87654321
}

# --- interoperability with the shell-only scripts ------------------------------------

# 64 times: 4 KiB of random bytes, then 12 KiB of zeros (no 64 KiB run of zeros anywhere),
# written densely, and 1 MiB of zeros at the end: 2 MiB, of it 256 KiB of data.
make_scattered() {
  local i
  for i in $(seq 64); do
    head -c 4096 /dev/urandom
    head -c 12288 /dev/zero
  done >"$1"
  head -c 1048576 /dev/zero >>"$1"
  assert_equal "$(stat -c %s "$1")" 2097152
}

# Unbundles b/scattered.manifest.xml into folder $1 and checks that out/scattered is the
# same bytes, written sparse.
unbundle_scattered_into() {
  run --separate-stderr euca unbundle -m b/scattered.manifest.xml -d "$1"
  assert_success
  cmp scattered "$1/scattered"
  assert_equal "$(stat -c %s "$1/scattered")" 2097152
  # 256 KiB of data; allow for file system overhead, but far below the 2 MiB size.
  local used=$(($(stat -c %b "$1/scattered") * $(stat -c %B "$1/scattered")))
  ((used <= 512 * 1024)) || fail "$1/scattered uses $used bytes of disk for 256 KiB of data"
}

@test "unbundle writes a sparse-able image sparse: every 4 KiB block of zeros is a hole, the bytes are the same" {
  make_scattered scattered
  mkdir b out
  euca bundle-image -i scattered -d b >/dev/null
  unbundle_scattered_into out
}

@test "unbundle into a tmpfs folder (its own O_DIRECT, or none before Linux 6.6): the same bytes, sparse" {
  [[ "$(stat -f -c %T /dev/shm 2>/dev/null)" == tmpfs ]] || skip "/dev/shm is not a tmpfs here"
  make_scattered scattered
  mkdir b
  euca bundle-image -i scattered -d b >/dev/null
  SHM_DIR="$(mktemp -d /dev/shm/euca-unbundle-test-XXXXXX)"
  unbundle_scattered_into "$SHM_DIR"
}

teardown() {
  if [[ -n "${SHM_DIR:-}" ]]; then rm -rf "$SHM_DIR"; fi
}

@test "interop: a bundle made by euca-bundle-image is unpacked by tests/bundle/unbundle.sh (user and cloud key)" {
  bundle b
  # Our manifest carries the deflate index (euca's own element), which the script ignores.
  grep -q '<deflate_index block_size="1048576" count="[0-9]*">' "$MANIFEST"
  mkdir user ec2
  run "$SCRIPTS/unbundle.sh" "$MANIFEST" "$ADMIN_KEY" user user
  assert_success
  cmp "$IMG" user/img
  run "$SCRIPTS/unbundle.sh" "$MANIFEST" "$CLOUD_KEY" ec2 ec2
  assert_success
  cmp "$IMG" ec2/img
}

@test "interop: a bundle made by tests/bundle/bundle.sh is unpacked by euca-unbundle (signature checked)" {
  local pretty
  for pretty in 0 1; do
    mkdir "b$pretty" "out$pretty"
    PRETTY=$pretty run "$SCRIPTS/bundle.sh" "$IMG" scripted "b$pretty" "$ADMIN_CERT" "$ADMIN_KEY" "$CLOUD_CERT" \
      "$ACCOUNT_ID" 1048576
    assert_success
    run --separate-stderr euca --debug unbundle -m "b$pretty/scripted.manifest.xml" -d "out$pretty"
    assert_success
    assert_output "Wrote out$pretty/scripted"
    [[ "$stderr" == *"checking the manifest signature against '$ADMIN_CERT'"* ]] || fail "$stderr"
    cmp "$IMG" "out$pretty/scripted"
  done
}

@test "bundle-image --enc-key/--enc-iv: the parts decrypt with openssl and that key and IV" {
  local key=00112233445566778899AABBCCDDEEFF iv=0f0e0d0c0b0a09080706050403020100
  bundle b --enc-key "$key" --enc-iv "$iv"
  mkdir out
  cat b/img.part.0{0,1,2} | openssl enc -d -aes-128-cbc -K "$key" -iv "$iv" | gunzip | tar -x -C out
  cmp "$IMG" out/img
  mkdir back
  run euca unbundle -m "$MANIFEST" -d back
  assert_success
  cmp "$IMG" back/img
}

@test "bundle-image: bad --enc-key/--enc-iv and --image-size, exit 2, nothing written" {
  mkdir b
  expect_failure 2 "give --enc-key and --enc-iv together" bundle-image -i "$IMG" -d b --enc-key 00112233445566778899aabbccddeeff
  expect_failure 2 "--enc-iv 'xyz' is not 32 hex digits" bundle-image -i "$IMG" -d b \
    --enc-key 00112233445566778899aabbccddeeff --enc-iv xyz
  expect_failure 2 "--image-size is for an image read from standard input" bundle-image -i "$IMG" -d b --image-size 5
  assert_empty_dir b
}

# --- bad input: bundle-image ---------------------------------------------------------

@test "bundle-image: missing -i, exit 2" {
  expect_failure 2 "--image is required" bundle-image
  assert_empty_dir "$TMPDIR"
}

@test "bundle-image: nonexistent image, exit 3, nothing created" {
  expect_failure 3 "image file 'nope.img' does not exist" bundle-image -i nope.img
  assert_empty_dir "$TMPDIR"
}

@test "bundle-image: standard input is refused, exit 2" {
  expect_failure 2 "reading the image from standard input is not supported" bundle-image -i -
}

@test "bundle-image: bad -r, exit 2" {
  expect_failure 2 "unknown architecture 'arm64'; use i386, x86_64, armhf, ppc, ppc64 or ppc64le" \
    bundle-image -i "$IMG" -r arm64
  expect_failure 2 "unknown image type 'disk'; use machine, kernel or ramdisk" bundle-image -i "$IMG" --image-type disk
  assert_empty_dir "$TMPDIR"
}

@test "bundle-image: bad -B, exit 2" {
  expect_failure 2 "block device mapping 'ami' is not VIRTUAL=DEVICE" bundle-image -i "$IMG" -B ami
  expect_failure 2 "block device mapping 'ami=' is not VIRTUAL=DEVICE" bundle-image -i "$IMG" -B ami=
  expect_failure 2 "block device mapping '=sda1' is not VIRTUAL=DEVICE" bundle-image -i "$IMG" -B ami=sda1,=sda1
  expect_failure 2 "block device mapping 'disk=sda1': the virtual name must be ami, root, swap or ephemeralN" \
    bundle-image -i "$IMG" -B disk=sda1
  expect_failure 2 "block device mapping 'ami=SDA 1': the device must be a name such as sda1 or /dev/sda1" \
    bundle-image -i "$IMG" -B 'ami=SDA 1'
  expect_failure 2 "block device mapping 'ami' is given twice" bundle-image -i "$IMG" -B ami=sda1,ami=sda2
  expect_failure 2 "block device mappings are for machine images only, not 'kernel'" \
    bundle-image -i "$IMG" --kernel true -B ami=sda1
  assert_empty_dir "$TMPDIR"
}

@test "bundle-image: bad --part-size, exit 2" {
  local size
  for size in 0 -1 abc 10M 1.5 5368709121 99999999999999999999; do
    expect_failure 2 "part size '$size' must be a number of bytes from 1 to 5368709120" \
      bundle-image -i "$IMG" --part-size "$size"
  done
  assert_empty_dir "$TMPDIR"
}

@test "bundle-image: contradicting --kernel, --ramdisk and --image-type, exit 2" {
  expect_failure 2 "--kernel true and --ramdisk true contradict each other" \
    bundle-image -i "$IMG" --kernel true --ramdisk true
  expect_failure 2 "--kernel true marks a kernel image, but --image-type is 'machine'" \
    bundle-image -i "$IMG" --kernel true --image-type machine
  expect_failure 2 "kernel 'eri-1234' is not a kernel image id (eki-...) nor 'true'" \
    bundle-image -i "$IMG" --kernel eri-1234
  expect_failure 2 "a kernel image cannot name a kernel or ramdisk to boot with" \
    bundle-image -i "$IMG" --image-type kernel --ramdisk eri-1234
  assert_empty_dir "$TMPDIR"
}

@test "bundle-image: no credentials anywhere, exit 2 with how to provide them" {
  export EUCA_HOME="$BATS_TEST_TMPDIR/empty-home"
  expect_failure 2 "no credentials to bundle with: give -c CERT, -k KEY and -u ACCOUNT, or set EC2_CERT, EC2_PRIVATE_KEY and EC2_USER_ID (source a eucarc), or create a cloud in '$EUCA_HOME' with 'euca admin init'" \
    bundle-image -i "$IMG"
  assert_empty_dir "$TMPDIR"
}

@test "bundle-image: some credentials given, the others missing, exit 2 naming them; no mix with the home's" {
  expect_failure 2 "no private key: give -k KEY or set EC2_PRIVATE_KEY" bundle-image -i "$IMG" -c "$ADMIN_CERT"
  EC2_PRIVATE_KEY="$ADMIN_KEY" expect_failure 2 "no user certificate: give -c CERT or set EC2_CERT" \
    bundle-image -i "$IMG"
  expect_failure 2 "no account number: give -u ACCOUNT or set EC2_USER_ID" \
    bundle-image -i "$IMG" -c "$ADMIN_CERT" -k "$ADMIN_KEY"
  rm "$EUCA_HOME/keys/cloud-cert.pem"
  expect_failure 2 "no cloud certificate: give --ec2cert CERT or set EUCALYPTUS_CERT ('$EUCA_HOME/keys/cloud-cert.pem' does not exist)" \
    bundle-image -i "$IMG"
  assert_empty_dir "$TMPDIR"
}

@test "bundle-image and unbundle: a cloud without the administrator's key pair in credentials/admin, exit 3" {
  bundle b
  rm "$ADMIN_KEY"
  expect_failure 3 "no administrator certificate and private key in '$EUCA_HOME/credentials/admin'" \
    bundle-image -i "$IMG"
  expect_failure 3 "no administrator certificate and private key in '$EUCA_HOME/credentials/admin'" \
    unbundle -m "$MANIFEST"
  assert_empty_dir "$TMPDIR"
}

@test "bundle-image: unreadable or wrong credentials, nothing written" {
  expect_failure 3 "user certificate (from -c): open 'nope.pem': No such file or directory" \
    bundle-image -i "$IMG" -c nope.pem -k "$ADMIN_KEY" -u "$ACCOUNT_ID"
  expect_failure 2 "account id 'acme' must be digits" \
    bundle-image -i "$IMG" -c "$ADMIN_CERT" -k "$ADMIN_KEY" -u acme
  # A private key that is not the certificate's.
  expect_failure 2 "the private key does not belong to certificate 'admin@eucalyptus'" \
    bundle-image -i "$IMG" -c "$ADMIN_CERT" -k "$CLOUD_KEY" -u "$ACCOUNT_ID"
  assert_empty_dir "$TMPDIR"
  mkdir b
  expect_failure 2 "the private key does not belong to certificate" \
    bundle-image -i "$IMG" -d b -c "$ADMIN_CERT" -k "$CLOUD_KEY" -u "$ACCOUNT_ID"
  assert_empty_dir b
}

@test "bundle-image: -d that does not exist, exit 3" {
  expect_failure 3 "destination folder 'nowhere' does not exist" bundle-image -i "$IMG" -d nowhere
  [[ ! -e nowhere ]]
}

# --- bad input and integrity: unbundle -------------------------------------------------

@test "unbundle: missing -m exit 2; nonexistent manifest or -d exit 3" {
  expect_failure 2 "--manifest is required" unbundle
  expect_failure 3 "manifest 'nope.manifest.xml' does not exist" unbundle -m nope.manifest.xml
  bundle b
  expect_failure 3 "destination folder 'nowhere' does not exist" unbundle -m "$MANIFEST" -d nowhere
}

@test "unbundle: a tampered part names the part and both digests, exit 2, nothing written" {
  bundle b
  local want got
  want="$(grep -o '<filename>img.part.01</filename><digest algorithm="SHA1">[0-9a-f]*' "$MANIFEST" | sed 's/.*>//')"
  [[ "$want" =~ ^[0-9a-f]{40}$ ]] || fail "digest of part 01 in the manifest: '$want'"
  flip_byte b/img.part.01 1000
  got="$(sha1sum b/img.part.01 | cut -d' ' -f1)"
  mkdir out
  expect_failure 2 "part 'img.part.01' is corrupt: SHA-1 expected $want got $got" unbundle -m "$MANIFEST" -d out
  assert_empty_dir out
}

@test "unbundle: a tampered manifest fails its signature, exit 7, nothing written" {
  bundle b
  sed -i 's|<architecture>x86_64</architecture>|<architecture>i386</architecture>|' "$MANIFEST"
  mkdir out
  expect_failure 7 "manifest signature does not match certificate" unbundle -m "$MANIFEST" -d out
  assert_empty_dir out
  # -c checks the signature whatever the private key.
  expect_failure 7 "manifest signature does not match certificate" \
    unbundle -m "$MANIFEST" -d out -k "$CLOUD_KEY" -c "$ADMIN_CERT"
  assert_empty_dir out
}

@test "unbundle: a tampered digest in a manifest checked without a certificate still fails, nothing written" {
  bundle b
  local digest
  digest="$(grep -o '</type><digest algorithm="SHA1">[0-9a-f]*' "$MANIFEST" | sed 's/.*>//')"
  [[ "$digest" =~ ^[0-9a-f]{40}$ ]] || fail "image digest in the manifest: '$digest'"
  sed -i "s|>$digest<|>0000000000000000000000000000000000000000<|" "$MANIFEST"
  mkdir out
  expect_failure 2 "the image's tar stream has SHA-1 $digest but the manifest says 0000000000000000000000000000000000000000" \
    unbundle -m "$MANIFEST" -d out -k "$CLOUD_KEY"
  assert_empty_dir out
}

@test "unbundle: a wrong private key, exit 2, nothing written" {
  bundle b
  mkdir out
  expect_failure 2 "cannot decrypt the bundle key with this private key" \
    unbundle -m "$MANIFEST" -d out -k "$EUCA_HOME/keys/nc-pk.pem"
  assert_empty_dir out
}

@test "unbundle: a missing part is named, exit 3, nothing written" {
  bundle b
  rm b/img.part.01
  mkdir out
  expect_failure 3 "part 'img.part.01' listed in manifest '$MANIFEST' is missing from 'b'" \
    unbundle -m "$MANIFEST" -d out
  assert_empty_dir out
}

@test "unbundle: no private key anywhere, exit 2 with how to provide one" {
  bundle b
  export EUCA_HOME="$BATS_TEST_TMPDIR/empty-home"
  expect_failure 2 "no private key to unbundle with: give -k KEY or set EC2_PRIVATE_KEY" unbundle -m "$MANIFEST"
  expect_failure 2 "no private key: give -k KEY or set EC2_PRIVATE_KEY" unbundle -m "$MANIFEST" -c "$ADMIN_CERT"
}

# --- program names, help, man pages --------------------------------------------------

@test "euca-bundle-image and euca-unbundle are euca bundle-image and euca unbundle" {
  local bin="$BATS_TEST_TMPDIR/bin"
  mkdir "$bin"
  euca __symlinks "$bin"
  assert_equal "$("$bin/euca-bundle-image" --help)" "$(euca bundle-image --help)"
  assert_equal "$("$bin/euca-unbundle" --help)" "$(euca unbundle --help)"
  mkdir b out
  run "$bin/euca-bundle-image" -i "$IMG" -d b
  assert_success
  assert_output "Wrote manifest b/img.manifest.xml"
  run "$bin/euca-unbundle" -m b/img.manifest.xml -d out
  assert_success
  assert_output "Wrote out/img"
  cmp "$IMG" out/img
  run --separate-stderr "$bin/euca-bundle-image" -i nope.img
  assert_failure 3
  assert_equal "$stderr" "euca-bundle-image: error: image file 'nope.img' does not exist"
}

@test "--help lists the euca2ools flags" {
  run euca bundle-image --help
  assert_success
  assert_line --index 0 "Usage: euca bundle-image [OPTIONS]"
  assert_line --index 1 "       euca-bundle-image [OPTIONS]"
  local flag
  for flag in '-i, --image FILE' '-d, --destination DIR' '-p, --prefix PREFIX' '-r, --arch ARCH' '--kernel EKI' \
    '--ramdisk ERI' '--image-type TYPE' '-c, --cert FILE' '-k, --privatekey FILE' '-u, --user ACCOUNT' \
    '--ec2cert FILE' '-B, --block-device-mappings MAPPING' '--part-size BYTES' '--enc-key HEX' '--enc-iv HEX' \
    '--quiet'; do
    assert_line --partial -- "  $flag  "
  done
  run euca help unbundle
  assert_success
  for flag in '-m, --manifest FILE' '-s, --source DIR' '-d, --destination DIR' '-k, --privatekey FILE' \
    '-c, --cert FILE' '--quiet'; do
    assert_line --partial -- "  $flag  "
  done
}

@test "man pages of bundle-image and unbundle render without warnings" {
  command -v man >/dev/null || skip "man is not installed"
  local page
  for page in euca-bundle-image euca-unbundle; do
    run --separate-stderr env MANWIDTH=80 man --warnings -l "$REPO_ROOT/man/$page.1"
    assert_success
    assert_equal "$stderr" ""
    assert_output --partial "EC2_PRIVATE_KEY"
  done
}

# --- progress bar ----------------------------------------------------------------------

@test "progress: no bar when stderr is not a terminal" {
  mkdir b out
  run --separate-stderr euca bundle-image -i "$IMG" -d b
  assert_success
  assert_equal "$stderr" ""
  run --separate-stderr euca unbundle -m b/img.manifest.xml -d out
  assert_success
  assert_equal "$stderr" ""
}

@test "progress: EUCA_FORCE_PROGRESS=1 draws the bar (bytes, percent, MB/s) on stderr, never on stdout; --quiet silences it" {
  mkdir b out q
  EUCA_FORCE_PROGRESS=1 run --separate-stderr euca bundle-image -i "$IMG" -d b
  assert_success
  assert_output "Wrote manifest b/img.manifest.xml"
  [[ "$stderr" == $'\r'* ]] || fail "no carriage return: $stderr"
  [[ "$stderr" == *"5.0 MiB / 5.0 MiB 100% [##############################]"*" MB/s" ]] || fail "$stderr"
  EUCA_FORCE_PROGRESS=1 run --separate-stderr euca unbundle -m b/img.manifest.xml -d out
  assert_success
  assert_output "Wrote out/img"
  [[ "$stderr" == *" 100% ["*" MB/s" ]] || fail "$stderr"
  EUCA_FORCE_PROGRESS=1 run --separate-stderr euca bundle-image -i "$IMG" -d q --quiet
  assert_success
  assert_equal "$stderr" ""
  EUCA_FORCE_PROGRESS=1 run --separate-stderr euca unbundle -m b/img.manifest.xml -d q --quiet
  assert_success
  assert_equal "$stderr" ""
}

@test "progress: the bar appears on a pseudo-terminal, and ends its line before an error" {
  command -v script >/dev/null || skip "script (util-linux) is not installed"
  mkdir b
  run script -qec "$(printf '%q ' "$EUCA_BIN" bundle-image -i "$IMG" -d b)" /dev/null
  assert_success
  [[ "$output" == *" 100% ["*" MB/s"* ]] || fail "no progress bar on a terminal: $output"
  [[ "$output" == *"Wrote manifest b/img.manifest.xml"* ]] || fail "$output"
  run script -qec "$(printf '%q ' "$EUCA_BIN" bundle-image -i "$IMG" -d b --quiet -p quiet)" /dev/null
  assert_success
  [[ "$output" != *"%"* ]] || fail "--quiet drew a bar: $output"
  # A failure in the middle: the error starts on a line of its own.
  flip_byte b/img.part.00 10
  mkdir out
  run script -qec "$(printf '%q ' "$EUCA_BIN" unbundle -m b/img.manifest.xml -d out)" /dev/null
  assert_failure 2
  [[ "$output" == "euca: error: "* || "$output" == *$'\n'"euca: error: unbundle 'b/img.manifest.xml': part 'img.part.00' is corrupt"* ]] ||
    fail "$output"
}
