#!/usr/bin/env bats
# Account requests: signup, admin describe-signups, approve-signup, reject-signup.

load helpers

setup_file() { make_template_cloud; }
setup() {
  fresh_home
  use_cloud
}

# request ACCOUNT: files a sign-up and sets ID to its id.
request() {
  ID="$("$EUCA_BIN" signup "$1" --email "ops@$1.test" | cut -f2)"
  [[ "$ID" =~ ^signup-[0-9a-f]{16}$ ]]
}

# --- signup ---------------------------------------------------------------------------

@test "signup files a pending request, one commit by anonymous" {
  run euca signup acme --email ops@acme.test
  assert_success
  assert_output --regexp '^SIGNUP	signup-[0-9a-f]{16}	acme	admin	ops@acme\.test	pending$'
  assert_equal "$(git --git-dir="$EUCA_HOME/history.git" log -1 --format=%an)" anonymous
  run euca signup beta -e ops@beta.test --user boss --output json
  assert_success
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 user <<<"$output")" boss
  assert_equal "$(json_field 0 status <<<"$output")" pending
}

@test "signup needs no credentials: a bad key in the environment does not matter" {
  EC2_ACCESS_KEY=AKIAUNKNOWNUNKNOWN00 run euca signup acme --email ops@acme.test
  assert_success
}

@test "signup: missing ACCOUNT or --email, exit 2" {
  expect_failure 2 "ACCOUNT is required" signup --email ops@acme.test
  expect_failure 2 "--email is required" signup acme
}

@test "signup: invalid e-mail address or account name, exit 2" {
  expect_failure 2 "e-mail address 'nobody' is not valid" signup acme --email nobody
  expect_failure 2 "account name 'ACME' is not valid" signup ACME --email ops@acme.test
}

@test "signup: existing account or pending request, exit 4" {
  expect_failure 4 "account 'eucalyptus' already exists" signup eucalyptus --email ops@acme.test
  request acme
  expect_failure 4 "a sign-up for account 'acme' is already pending ('$ID')" signup acme --email other@acme.test
}

@test "signup: corrupt state.db, exit 1" {
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" signup acme --email ops@acme.test
}

@test "signup: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" signup acme --email ops@acme.test
}

# --- describe-signups -----------------------------------------------------------------

@test "admin describe-signups lists requests in order, text and json" {
  run euca admin describe-signups
  assert_success
  assert_output ''
  request acme
  local first="$ID"
  request beta
  run euca admin describe-signups
  assert_success
  assert_equal "${#lines[@]}" 2
  assert_line --index 0 "$(printf 'SIGNUP\t%s\tacme\tadmin\tops@acme.test\tpending' "$first")"
  assert_line --index 1 "$(printf 'SIGNUP\t%s\tbeta\tadmin\tops@beta.test\tpending' "$ID")"
  run euca admin describe-signups --output json
  assert_json_array <<<"$output"
  assert_equal "$(json_field 1 id <<<"$output")" "$ID"
}

@test "admin describe-signups: extra argument, exit 2" {
  expect_failure 2 "not expected: x" admin describe-signups x
}

@test "admin describe-signups: corrupt state.db, exit 1" {
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin describe-signups
}

@test "admin describe-signups: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin describe-signups
}

# --- approve-signup -------------------------------------------------------------------

@test "admin approve-signup creates the account and its first user" {
  ID="$(euca signup acme --email ops@acme.test --user boss | cut -f2)"
  run euca admin approve-signup "$ID"
  assert_success
  assert_output "$(printf 'SIGNUP\t%s\tacme\tboss\tops@acme.test\tapproved' "$ID")"
  run euca admin describe-users --account acme
  assert_line --regexp '^USER	acme	boss	'
  assert_equal "$(git --git-dir="$EUCA_HOME/history.git" log -1 --format='%an|%s')" "admin@eucalyptus|ApproveSignup $ID"
}

@test "admin approve-signup: missing ID, exit 2" {
  expect_failure 2 "ID is required" admin approve-signup
}

@test "admin approve-signup: unknown ID, exit 3" {
  expect_failure 3 "no sign-up 'signup-0000000000000000'" admin approve-signup signup-0000000000000000
}

@test "admin approve-signup: a decided request, exit 5" {
  request acme
  euca admin approve-signup "$ID"
  expect_failure 5 "sign-up '$ID' was already approved by 'admin@eucalyptus'" admin approve-signup "$ID"
  expect_failure 5 "sign-up '$ID' was already approved" admin reject-signup "$ID"
}

@test "admin approve-signup: corrupt state.db, exit 1" {
  request acme
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin approve-signup "$ID"
}

@test "admin approve-signup: newer state.db, exit 9" {
  request acme
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin approve-signup "$ID"
}

# --- reject-signup --------------------------------------------------------------------

@test "admin reject-signup rejects and creates nothing" {
  request acme
  run euca admin reject-signup "$ID"
  assert_success
  assert_output "$(printf 'SIGNUP\t%s\tacme\tadmin\tops@acme.test\trejected' "$ID")"
  run euca admin describe-accounts
  refute_output --partial acme
  # A rejected name may ask again.
  run euca signup acme --email ops@acme.test
  assert_success
}

@test "admin reject-signup: missing ID, exit 2" {
  expect_failure 2 "ID is required" admin reject-signup
}

@test "admin reject-signup: unknown ID, exit 3" {
  expect_failure 3 "no sign-up 'signup-nope'" admin reject-signup signup-nope
}

@test "admin reject-signup: twice, exit 5" {
  request acme
  euca admin reject-signup "$ID"
  expect_failure 5 "sign-up '$ID' was already rejected" admin reject-signup "$ID"
}

@test "admin reject-signup: corrupt state.db, exit 1" {
  request acme
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin reject-signup "$ID"
}

@test "admin reject-signup: newer state.db, exit 9" {
  request acme
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin reject-signup "$ID"
}

@test "a non-administrator cannot list or decide requests, exit 6" {
  request acme
  euca admin create-account beta
  create_user dev beta
  export EC2_ACCESS_KEY="$KEY_ID"
  expect_failure 6 "'dev@beta' is not a cloud administrator" admin describe-signups
  expect_failure 6 "'dev@beta' is not a cloud administrator" admin approve-signup "$ID"
}
