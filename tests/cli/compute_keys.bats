#!/usr/bin/env bats
# euca create-keypair, import-keypair, describe-keypairs, delete-keypair, describe-regions:
# embedded (EUCA_HOME) and remote (EC2_URL = euca serve clc) on one cloud.

load helpers
load ec2_helpers

setup_file() {
  # One cloud (and its daemons) for the whole file: its tests run one at a time.
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  clc_setup_file
  ssh-keygen -q -t rsa -b 2048 -N '' -C 'test@example' -f "$BATS_FILE_TMPDIR/id_rsa"
}

teardown_file() { clc_teardown_file; }

setup() { clc_setup; }

# create_describe_delete MODE: the whole life of a created key pair.
create_describe_delete() {
  local mode="$1" name="key-$1"
  run --separate-stderr in_mode "$mode" create-keypair "$name"
  assert_success
  local first
  first="$(head -1 <<<"$output")"
  [[ "$first" =~ ^KEYPAIR$'\t'"$name"$'\t'([0-9a-f]{2}:){19}[0-9a-f]{2}$ ]] || fail "bad KEYPAIR line: $first"
  sed 1d <<<"$output" >key.pem
  head -1 key.pem | grep -q -- '-----BEGIN RSA PRIVATE KEY-----'
  # EC2's fingerprint of a created key: SHA-1 of the PKCS#8 DER private key.
  local fp
  fp="$(openssl pkcs8 -topk8 -nocrypt -in key.pem -outform DER | sha1sum | cut -d' ' -f1 | sed 's/../&:/g; s/:$//')"
  assert_equal "$first" "$(printf 'KEYPAIR\t%s\t%s' "$name" "$fp")"
  # The private key is the one the cloud keeps the public half of.
  run in_mode "$mode" describe-keypairs "$name"
  assert_success
  assert_output "$first"
  run in_mode "$mode" delete-keypair "$name"
  assert_success
  assert_output "$(printf 'KEYPAIR\t%s' "$name")"
  run in_mode "$mode" describe-keypairs
  refute_output --partial "$name"
}

@test "create-keypair prints the key pair and its private key; delete-keypair removes it (embedded)" {
  create_describe_delete embedded
}

@test "create-keypair prints the key pair and its private key; delete-keypair removes it (remote)" {
  create_describe_delete remote
}

# create_to_file MODE
create_to_file() {
  local mode="$1"
  run in_mode "$mode" create-keypair "file-$mode" -f "$BATS_TEST_TMPDIR/k.pem"
  assert_success
  assert_output --regexp "^KEYPAIR"$'\t'"file-$mode"$'\t'"[0-9a-f:]{59}$"
  assert_equal "$(stat -c %a k.pem)" 600
  openssl rsa -in k.pem -check -noout >/dev/null 2>&1
  in_mode "$mode" delete-keypair "file-$mode" >/dev/null
}

@test "create-keypair -f writes the private key to a 0600 file (embedded)" { create_to_file embedded; }
@test "create-keypair -f writes the private key to a 0600 file (remote)" { create_to_file remote; }

# import_keypair MODE
import_keypair() {
  local mode="$1" fp
  fp="$(ssh-keygen -l -E md5 -f "$BATS_FILE_TMPDIR/id_rsa.pub" | awk '{ print $2 }' | sed 's/^MD5://')"
  run in_mode "$mode" import-keypair "imported-$mode" -f "$BATS_FILE_TMPDIR/id_rsa.pub"
  assert_success
  assert_output "$(printf 'KEYPAIR\timported-%s\t%s' "$mode" "$fp")"
  run in_mode "$mode" describe-keypairs --filter "fingerprint=$fp" --filter "key-name=imported-$mode"
  assert_output "$(printf 'KEYPAIR\timported-%s\t%s' "$mode" "$fp")"
  run in_mode "$mode" --output json describe-keypairs "imported-$mode"
  assert_output --partial '"fingerprint": "'"$fp"'"'
  in_mode "$mode" delete-keypair "imported-$mode" >/dev/null
}

@test "import-keypair takes an OpenSSH public key; the fingerprint is its MD5 (embedded)" { import_keypair embedded; }
@test "import-keypair takes an OpenSSH public key; the fingerprint is its MD5 (remote)" { import_keypair remote; }

# bad_input MODE
bad_input() {
  local mode="$1"
  in_mode "$mode" create-keypair "dup-$mode" >/dev/null
  EC2_URL="$([[ $mode == remote ]] && echo "$CLC_URL")" expect_failure 4 "the key pair 'dup-$mode' already exists" \
    create-keypair "dup-$mode"
  EC2_URL="$([[ $mode == remote ]] && echo "$CLC_URL")" expect_failure 3 "the key pair 'nope' does not exist" \
    describe-keypairs nope
  echo "not a key" >bad.pub
  EC2_URL="$([[ $mode == remote ]] && echo "$CLC_URL")" expect_failure 2 "unsupported public key type 'not'" \
    import-keypair "bad-$mode" -f bad.pub
  EC2_URL="$([[ $mode == remote ]] && echo "$CLC_URL")" expect_failure 2 "invalid key pair name" \
    create-keypair "$(printf 'tab\there')"
  # Deleting a key that does not exist succeeds, as in EC2.
  run in_mode "$mode" delete-keypair "never-was-$mode"
  assert_success
  in_mode "$mode" delete-keypair "dup-$mode" >/dev/null
}

@test "duplicate, missing, malformed and badly named key pairs are refused (embedded)" { bad_input embedded; }
@test "duplicate, missing, malformed and badly named key pairs are refused (remote)" { bad_input remote; }

@test "describe-keypairs refuses an unknown filter name, even when no key pair is selected" {
  local mode url
  for mode in embedded remote; do
    url="$([[ $mode == remote ]] && echo "$CLC_URL" || true)"
    EC2_URL="$url" expect_failure 2 "the filter 'color' is invalid for DescribeKeyPairs" describe-keypairs --filter color=x
    EC2_URL="$url" expect_failure 2 "the filter 'color' is invalid for DescribeKeyPairs" \
      describe-keypairs --filter key-name=no-such-key --filter color=x
  done
}

@test "usage errors: missing KEYPAIR, import without -f" {
  run euca create-keypair
  assert_failure 2
  run euca import-keypair k
  assert_failure 2
}

@test "another account's key pairs are invisible, in both modes" {
  in_mode embedded create-keypair admins-key >/dev/null
  for mode in embedded remote; do
    run as_bob "$mode" describe-keypairs
    assert_success
    refute_output --partial admins-key
    run --separate-stderr as_bob "$mode" describe-keypairs admins-key
    assert_failure 3
    # Bob deleting "admins-key" deletes only his own (absent) key.
    run as_bob "$mode" delete-keypair admins-key
    assert_success
  done
  run euca describe-keypairs admins-key
  assert_success
  # The cloud administrator sees every account's keys with "verbose".
  as_bob remote create-keypair bobs-key >/dev/null
  run euca describe-keypairs verbose
  assert_output --partial bobs-key
  run euca describe-keypairs
  refute_output --partial bobs-key
}

@test "embedded and remote print the same records" {
  euca import-keypair same -f "$BATS_FILE_TMPDIR/id_rsa.pub" >/dev/null
  local embedded remote
  embedded="$(in_mode embedded describe-keypairs)"
  remote="$(in_mode remote describe-keypairs)"
  assert_equal "$remote" "$embedded"
  embedded="$(in_mode embedded --output json describe-regions)"
  remote="$(in_mode remote --output json describe-regions)"
  assert_equal "$remote" "$embedded"
}

@test "every change is one history commit with the caller as author" {
  local before
  before="$(git --git-dir="$EUCA_HOME/history.git" rev-list --count HEAD)"
  as_bob remote create-keypair history-key >/dev/null
  assert_equal "$(git --git-dir="$EUCA_HOME/history.git" rev-list --count HEAD)" "$((before + 1))"
  run git --git-dir="$EUCA_HOME/history.git" log -1 --format='%an %s'
  assert_output --partial "bob@other"
  assert_output --partial "CreateKeyPair history-key"
  # The private key is nowhere in history.
  run git --git-dir="$EUCA_HOME/history.git" grep -c 'PRIVATE KEY' HEAD
  assert_failure
}

@test "describe-regions shows the cloud's region (embedded and remote)" {
  for mode in embedded remote; do
    run in_mode "$mode" describe-regions
    assert_success
    assert_output "$(printf 'REGION\teuca\t')"
  done
  euca admin modify-property services.ec2-url=http://clc.example:8773/services/compute >/dev/null
  run in_mode remote describe-regions euca
  assert_output "$(printf 'REGION\teuca\thttp://clc.example:8773/services/compute')"
  euca admin modify-property services.ec2-url= >/dev/null
  EC2_URL="$CLC_URL" expect_failure 2 "the region 'mars' does not exist" describe-regions mars
  expect_failure 2 "the region 'mars' does not exist" describe-regions mars
}

@test "remote: unknown key, wrong secret, disabled user, unreachable server" {
  AWS_ACCESS_KEY_ID=AKIANOBODY AWS_SECRET_ACCESS_KEY=x EC2_URL="$CLC_URL" expect_failure 7 "does not exist" \
    describe-keypairs
  AWS_ACCESS_KEY_ID="$BOB_KEY" AWS_SECRET_ACCESS_KEY=wrong EC2_URL="$CLC_URL" expect_failure 7 "" describe-keypairs
  euca admin create-user carol --account other >carol.out
  local key secret
  key="$(awk -F'\t' '$1 == "ACCESSKEY" { print $2 }' carol.out)"
  secret="$(awk -F'\t' '$1 == "ACCESSKEY" { print $3 }' carol.out)"
  euca admin disable-user carol --account other
  AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" EC2_URL="$CLC_URL" expect_failure 7 "" describe-keypairs
  EC2_URL=http://127.0.0.1:1 expect_failure 10 "cannot connect" describe-keypairs
}
