#!/usr/bin/env bats
# Accounts, users and credentials: admin create-account, describe-accounts, create-user,
# disable-user, enable-user, delete-user, describe-users, get-credentials.

load helpers

setup_file() { make_template_cloud; }
setup() {
  fresh_home
  use_cloud
}

# key_works KEY SECRET: true if the key authenticates (as a cloud administrator).
key_works() {
  EC2_ACCESS_KEY="$1" EC2_SECRET_KEY="$2" "$EUCA_BIN" admin describe-accounts >/dev/null 2>&1
}

# --- create-account -------------------------------------------------------------------

@test "admin create-account prints the account, one commit" {
  local n
  n="$(history_count)"
  run euca admin create-account acme
  assert_success
  assert_output --regexp '^ACCOUNT	acme	[0-9]{12}$'
  assert_equal "$(history_count)" $((n + 1))
  assert_equal "$(git --git-dir="$EUCA_HOME/history.git" log -1 --format='%an|%s')" "admin@eucalyptus|CreateAccount acme"
}

@test "admin create-account: missing NAME, exit 2" {
  expect_failure 2 "NAME is required" admin create-account
}

@test "admin create-account: duplicate name, exit 4" {
  euca admin create-account acme
  expect_failure 4 "account 'acme' already exists" admin create-account acme
  expect_failure 4 "account 'eucalyptus' already exists" admin create-account eucalyptus
}

@test "admin create-account: invalid name, exit 2" {
  expect_failure 2 "account name 'Acme_Corp' is not valid" admin create-account Acme_Corp
}

@test "admin create-account: corrupt state.db, exit 1" {
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin create-account acme
}

@test "admin create-account: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin create-account acme
}

# --- describe-accounts ----------------------------------------------------------------

@test "admin describe-accounts lists accounts by name, text and json" {
  euca admin create-account zeta
  euca admin create-account acme
  run euca admin describe-accounts
  assert_success
  assert_equal "${#lines[@]}" 3
  assert_line --index 0 --regexp '^ACCOUNT	acme	[0-9]{12}$'
  assert_line --index 1 --regexp '^ACCOUNT	eucalyptus	[0-9]{12}$'
  assert_line --index 2 --regexp '^ACCOUNT	zeta	[0-9]{12}$'
  local id="${lines[0]##*$'\t'}"
  run euca admin describe-accounts --output json
  assert_success
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 name <<<"$output")" acme
  assert_equal "$(json_field 0 id <<<"$output")" "$id"
}

@test "admin describe-accounts: extra argument, exit 2" {
  expect_failure 2 "not expected: acme" admin describe-accounts acme
}

@test "admin describe-accounts: corrupt state.db, exit 1" {
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin describe-accounts
}

@test "admin describe-accounts: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin describe-accounts
}

# --- create-user ----------------------------------------------------------------------

@test "admin create-user prints the user and its key once; the key authenticates" {
  run euca admin create-user ops
  assert_success
  assert_equal "${#lines[@]}" 2
  assert_line --index 0 --regexp '^USER	eucalyptus	ops	AIDA[A-Z0-9]{17}	true$'
  assert_line --index 1 --regexp '^ACCESSKEY	AKIA[A-Z0-9]{16}	[A-Za-z0-9/+]{40}$'
  local key secret
  key="$(cut -f2 <<<"${lines[1]}")"
  secret="$(cut -f3 <<<"${lines[1]}")"
  assert key_works "$key" "$secret"
  # describe-users never shows the secret again.
  run euca admin describe-users
  refute_output --partial "$secret"
  assert_line "$(printf 'ACCESSKEY\t%s\tActive' "$key")"
  assert_equal "$(git --git-dir="$EUCA_HOME/history.git" log -1 --format=%s)" "CreateUser ops@eucalyptus"
}

@test "admin create-user --account puts the user in that account; json output" {
  euca admin create-account acme
  run euca admin create-user dev --account acme --output json
  assert_success
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 record <<<"$output")" USER
  assert_equal "$(json_field 0 account <<<"$output")" acme
  assert_equal "$(json_field 1 record <<<"$output")" ACCESSKEY
  [[ "$(json_field 1 secret <<<"$output")" =~ ^[A-Za-z0-9/+]{40}$ ]]
}

@test "admin create-user: missing NAME, exit 2" {
  expect_failure 2 "NAME is required" admin create-user
  expect_failure 2 "--account: 1 required ACCOUNT missing" admin create-user bob --account
}

@test "admin create-user: duplicate name, exit 4" {
  euca admin create-user ops
  expect_failure 4 "user 'ops' already exists in account 'eucalyptus'" admin create-user ops
}

@test "admin create-user: unknown account, exit 3" {
  expect_failure 3 "no account 'nope'" admin create-user bob --account nope
}

@test "admin create-user: invalid name, exit 2" {
  expect_failure 2 "user name 'bad name' is not valid" admin create-user "bad name"
}

@test "admin create-user: corrupt state.db, exit 1" {
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin create-user bob
}

@test "admin create-user: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin create-user bob
}

# --- disable-user / enable-user --------------------------------------------------------

@test "admin disable-user stops the user's key; enable-user brings it back" {
  create_user ops
  run euca admin disable-user ops
  assert_success
  assert_output ''
  run euca admin describe-users
  assert_line --regexp '^USER	eucalyptus	ops	AIDA[A-Z0-9]{17}	false$'
  refute key_works "$KEY_ID" "$SECRET"
  assert_equal "$(git --git-dir="$EUCA_HOME/history.git" log -1 --format='%an|%s')" "admin@eucalyptus|DisableUser ops@eucalyptus"

  run euca admin enable-user ops
  assert_success
  assert_output ''
  assert key_works "$KEY_ID" "$SECRET"
  assert_equal "$(git --git-dir="$EUCA_HOME/history.git" log -1 --format='%an|%s')" "admin@eucalyptus|EnableUser ops@eucalyptus"
}

@test "admin disable-user --account and enable-user --account" {
  euca admin create-account acme
  create_user dev acme
  euca admin disable-user dev --account acme
  run euca admin describe-users --account acme
  assert_line --regexp '^USER	acme	dev	.*	false$'
  euca admin enable-user -a acme dev
  run euca admin describe-users --account acme
  assert_line --regexp '^USER	acme	dev	.*	true$'
}

@test "admin disable-user: missing NAME, exit 2" {
  expect_failure 2 "NAME is required" admin disable-user
}

@test "admin disable-user: unknown user, exit 3" {
  expect_failure 3 "no user 'nobody' in account 'eucalyptus'" admin disable-user nobody
  expect_failure 3 "no account 'nope'" admin disable-user admin --account nope
}

@test "admin disable-user: the cloud administrator cannot be disabled, exit 5" {
  expect_failure 5 "'admin@eucalyptus' is the cloud administrator and cannot be disabled" admin disable-user admin
}

@test "admin disable-user: corrupt state.db, exit 1" {
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin disable-user admin
}

@test "admin disable-user: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin disable-user admin
}

@test "admin enable-user: missing NAME, exit 2" {
  expect_failure 2 "NAME is required" admin enable-user
}

@test "admin enable-user: unknown user, exit 3" {
  expect_failure 3 "no user 'nobody' in account 'eucalyptus'" admin enable-user nobody
}

@test "admin enable-user: an enabled user is left alone, no commit" {
  create_user ops
  local head
  head="$(history_head)"
  run euca admin enable-user ops
  assert_success
  assert_equal "$(history_head)" "$head"
}

@test "admin enable-user: corrupt state.db, exit 1" {
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin enable-user admin
}

@test "admin enable-user: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin enable-user admin
}

# --- delete-user ----------------------------------------------------------------------

@test "admin delete-user removes the user and its key" {
  create_user ops
  run euca admin delete-user ops
  assert_success
  assert_output ''
  run euca admin describe-users
  refute_output --partial ops
  refute_output --partial "$KEY_ID"
  refute key_works "$KEY_ID" "$SECRET"
  assert_equal "$(git --git-dir="$EUCA_HOME/history.git" log -1 --format='%an|%s')" "admin@eucalyptus|DeleteUser ops@eucalyptus"
}

@test "admin delete-user: missing NAME, exit 2" {
  expect_failure 2 "NAME is required" admin delete-user
}

@test "admin delete-user: unknown user, exit 3" {
  expect_failure 3 "no user 'nobody' in account 'eucalyptus'" admin delete-user nobody
}

@test "admin delete-user: twice, exit 3 the second time" {
  create_user ops
  euca admin delete-user ops
  expect_failure 3 "no user 'ops' in account 'eucalyptus'" admin delete-user ops
}

@test "admin delete-user: the cloud administrator cannot be deleted, exit 5" {
  expect_failure 5 "'admin@eucalyptus' is the cloud administrator and cannot be deleted" admin delete-user admin
}

@test "admin delete-user: corrupt state.db, exit 1" {
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin delete-user admin
}

@test "admin delete-user: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin delete-user admin
}

# --- describe-users -------------------------------------------------------------------

@test "admin describe-users lists every account's users with their keys" {
  euca admin create-account acme
  create_user dev acme
  run euca admin describe-users
  assert_success
  assert_equal "${#lines[@]}" 6
  assert_line --index 0 --regexp '^USER	acme	admin	AIDA[A-Z0-9]{17}	true$'
  assert_line --index 1 --regexp '^ACCESSKEY	AKIA[A-Z0-9]{16}	Active$'
  assert_line --index 2 --regexp '^USER	acme	dev	AIDA[A-Z0-9]{17}	true$'
  assert_line --index 3 "$(printf 'ACCESSKEY\t%s\tActive' "$KEY_ID")"
  assert_line --index 4 --regexp '^USER	eucalyptus	admin	'
  assert_line --index 5 "$(printf 'ACCESSKEY\t%s\tActive' "$(admin_key)")"
}

@test "admin describe-users --account lists one account; json parses" {
  euca admin create-account acme
  run euca admin describe-users --account acme --output json
  assert_success
  assert_json_array <<<"$output"
  assert_equal "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$output")" 2
  assert_equal "$(json_field 0 account <<<"$output")" acme
  assert_equal "$(json_field 0 enabled <<<"$output")" True
  assert_equal "$(json_field 1 status <<<"$output")" Active
}

@test "admin describe-users: unknown account, exit 3" {
  expect_failure 3 "no account 'nope'" admin describe-users --account nope
}

@test "admin describe-users: corrupt state.db, exit 1" {
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin describe-users
}

@test "admin describe-users: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin describe-users
}

# --- get-credentials ------------------------------------------------------------------

@test "admin get-credentials writes a private zip with eucarc and the user's key pair" {
  create_user ops
  local zip="$BATS_TEST_TMPDIR/ops.zip"
  run euca admin get-credentials ops -f "$zip"
  assert_success
  assert_output "$(printf 'CREDENTIALS\teucalyptus\tops\t%s' "$zip")"
  assert_equal "$(stat -c %a "$zip")" 600
  run unzip -Z1 "$zip"
  assert_line eucarc
  assert_line iamrc
  assert_line cloud-cert.pem
  assert_line --regexp '^euca2-ops-[0-9a-f]{8}-cert\.pem$'
  assert_line --regexp '^euca2-ops-[0-9a-f]{8}-pk\.pem$'
  run unzip -p "$zip" eucarc
  assert_output --partial "export EC2_ACCESS_KEY='$KEY_ID'"
  assert_equal "$(git --git-dir="$EUCA_HOME/history.git" log -1 --format=%s)" "GetCredentials ops@eucalyptus"
}

@test "admin get-credentials: missing -f or NAME, exit 2" {
  expect_failure 2 "--file is required" admin get-credentials admin
  expect_failure 2 "NAME is required" admin get-credentials -f "$BATS_TEST_TMPDIR/x.zip"
}

@test "admin get-credentials: unknown user, exit 3, no file" {
  expect_failure 3 "no user 'nobody' in account 'eucalyptus'" admin get-credentials nobody -f "$BATS_TEST_TMPDIR/x.zip"
  [[ ! -e "$BATS_TEST_TMPDIR/x.zip" ]]
}

@test "admin get-credentials: missing folder, exit 3" {
  expect_failure 3 "folder '$BATS_TEST_TMPDIR/nodir' does not exist" \
    admin get-credentials admin -f "$BATS_TEST_TMPDIR/nodir/x.zip"
}

@test "admin get-credentials: corrupt state.db, exit 1" {
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin get-credentials admin -f "$BATS_TEST_TMPDIR/x.zip"
  [[ ! -e "$BATS_TEST_TMPDIR/x.zip" ]]
}

@test "admin get-credentials: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin get-credentials admin -f "$BATS_TEST_TMPDIR/x.zip"
  [[ ! -e "$BATS_TEST_TMPDIR/x.zip" ]]
}
