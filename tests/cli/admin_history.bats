#!/usr/bin/env bats
# The history of changes: admin history, show, diff, rollback.

load helpers

setup_file() { make_template_cloud; }
setup() {
  fresh_home
  use_cloud
}

# rev N: the revision of the Nth newest commit (1 = newest).
rev() {
  "$EUCA_BIN" admin history | sed -n "${1}p" | cut -f2
}

# --- history --------------------------------------------------------------------------

@test "admin history: one commit per change, newest first, with its author" {
  euca admin create-account acme
  create_user ops
  euca admin disable-user ops
  euca signup beta --email ops@beta.test >/dev/null
  run euca admin history
  assert_success
  assert_equal "${#lines[@]}" 5
  local iso='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
  assert_line --index 0 --regexp "^COMMIT	[0-9a-f]{40}	$iso	anonymous	RequestSignup beta \(ops@beta.test\)	[0-9a-f-]{36}$"
  assert_line --index 1 --regexp "^COMMIT	[0-9a-f]{40}	$iso	admin@eucalyptus	DisableUser ops@eucalyptus	[0-9a-f-]{36}$"
  assert_line --index 2 --regexp "^COMMIT	[0-9a-f]{40}	$iso	admin@eucalyptus	CreateUser ops@eucalyptus	"
  assert_line --index 3 --regexp "^COMMIT	[0-9a-f]{40}	$iso	admin@eucalyptus	CreateAccount acme	"
  assert_line --index 4 --regexp "^COMMIT	[0-9a-f]{40}	$iso	system	InitCloud	"
  # The same revisions as the git history.
  assert_equal "$(cut -f2 <<<"$output")" "$(git --git-dir="$EUCA_HOME/history.git" rev-list HEAD)"
}

@test "admin history: a change made with a user's key is authored by that user" {
  create_user ops
  EC2_ACCESS_KEY="$KEY_ID" euca admin create-account acme
  run euca admin history -n 1
  assert_output --regexp "	ops@eucalyptus	CreateAccount acme	"
}

@test "admin history -n and --object" {
  create_user ops
  euca admin create-account acme
  euca admin disable-user ops
  run euca admin history -n 2
  assert_equal "${#lines[@]}" 2
  local user_id
  user_id="$(euca admin describe-users | awk -F'\t' '$3 == "ops" { print $4 }')"
  run euca admin history --object "users/$user_id"
  assert_success
  assert_equal "${#lines[@]}" 2
  assert_line --index 0 --partial "DisableUser ops@eucalyptus"
  assert_line --index 1 --partial "CreateUser ops@eucalyptus"
  run euca admin history --object "$KEY_ID"
  assert_equal "${#lines[@]}" 1
  assert_line --index 0 --partial "CreateUser ops@eucalyptus"
}

@test "admin history --output json" {
  run euca admin history --output json
  assert_success
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 principal <<<"$output")" system
  assert_equal "$(json_field 0 rev <<<"$output")" "$(history_head)"
}

@test "admin history: bad -n or --object, exit 2" {
  expect_failure 2 "--max-count: must be a number of at least 1, got '0'" admin history -n 0
  expect_failure 2 "--max-count: must be a number of at least 1, got 'many'" admin history -n many
  expect_failure 2 "'bogus/x' names no object; use KIND/ID" admin history --object bogus/x
}

@test "admin history: corrupt state.db, exit 1" {
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin history
}

@test "admin history: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin history
}

# --- show -----------------------------------------------------------------------------

@test "admin show prints the commit and its diff, with secrets redacted" {
  create_user ops
  run euca admin show "$(rev 1)"
  assert_success
  assert_line --index 0 --regexp "^COMMIT	$(rev 1)	.*	admin@eucalyptus	CreateUser ops@eucalyptus	"
  assert_output --partial '+    "name": "ops",'
  assert_output --partial "$KEY_ID"
  refute_output --partial "$SECRET"
  run euca admin show "$(rev 1)" --output json
  assert_json_array <<<"$output"
  [[ "$(json_field 0 diff <<<"$output")" == *"$KEY_ID"* ]]
  run euca admin show "$(rev 1 | cut -c1-10)"
  assert_success
  assert_line --index 0 --partial "$(rev 1)"
}

@test "admin show: missing REV, exit 2" {
  expect_failure 2 "REV is required" admin show
}

@test "admin show: unknown REV, exit 3" {
  expect_failure 3 "no revision 'feedface' in history" admin show feedface
}

@test "admin show: corrupt state.db, exit 1" {
  local head
  head="$(history_head)"
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin show "$head"
}

@test "admin show: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin show "$(history_head)"
}

# --- diff -----------------------------------------------------------------------------

@test "admin diff REV compares with the newest commit; REV REV2 with REV2" {
  local init
  init="$(history_head)"
  euca admin create-account acme
  euca admin modify-property cloud.region=north
  run euca admin diff "$init"
  assert_success
  assert_output --partial '"name": "acme"'
  assert_output --partial '"value": "north"'
  run euca admin diff "$init" "$(rev 2)"
  assert_success
  assert_output --partial '"name": "acme"'
  refute_output --partial 'north'
  run euca admin diff "$init" "$(rev 2)" --output json
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 from <<<"$output")" "$init"
}

@test "admin diff: missing REV, exit 2" {
  expect_failure 2 "REV is required" admin diff
}

@test "admin diff: unknown REV, exit 3" {
  expect_failure 3 "no revision 'feedface' in history" admin diff feedface
  expect_failure 3 "no revision 'feedface' in history" admin diff "$(history_head)" feedface
}

@test "admin diff: corrupt state.db, exit 1" {
  local head
  head="$(history_head)"
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin diff "$head"
}

@test "admin diff: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin diff "$(history_head)"
}

# --- rollback -------------------------------------------------------------------------

@test "admin rollback past a delete-user restores the user and its key" {
  create_user ops
  local before_delete
  before_delete="$(history_head)"
  euca admin delete-user ops
  EC2_ACCESS_KEY="$KEY_ID" EC2_SECRET_KEY="$SECRET" run euca admin describe-accounts
  assert_failure 7

  run euca admin rollback "$before_delete"
  assert_success
  assert_line "$(printf 'ROLLBACK\taccess-keys\t%s\trecreate' "$KEY_ID")"
  assert_line --regexp '^ROLLBACK	users	AIDA[A-Z0-9]{17}	recreate$'

  run euca admin describe-users --account eucalyptus
  assert_line --regexp '^USER	eucalyptus	ops	AIDA[A-Z0-9]{17}	true$'
  assert_line "$(printf 'ACCESSKEY\t%s\tActive' "$KEY_ID")"
  EC2_ACCESS_KEY="$KEY_ID" EC2_SECRET_KEY="$SECRET" run euca --debug admin describe-accounts
  assert_success
  assert_output --partial "debug: principal ops@eucalyptus"
  # A forward commit by the caller.
  assert_equal "$(git --git-dir="$EUCA_HOME/history.git" log -1 --format='%an|%s')" \
    "admin@eucalyptus|Rollback $before_delete"
}

@test "admin rollback --dry-run prints the plan and changes nothing" {
  local init
  init="$(history_head)"
  euca admin create-account acme
  local before
  before="$(state_fingerprint)"
  run euca admin rollback "$init" --dry-run
  assert_success
  assert_line --regexp '^ROLLBACK	accounts	[0-9]{12}	delete$'
  assert_equal "$(state_fingerprint)" "$before"
}

@test "admin rollback --object restores only that object" {
  local init
  init="$(history_head)"
  euca admin modify-property cloud.region=north cloud.description=lab
  run euca admin rollback "$init" --object properties/cloud.region
  assert_success
  assert_output "$(printf 'ROLLBACK\tproperties\tcloud.region\tdelete')"
  run euca admin describe-properties cloud.
  assert_line "$(printf 'PROPERTY\tcloud.region\teuca')"
  assert_line "$(printf 'PROPERTY\tcloud.description\tlab')"
}

@test "admin rollback --output json" {
  local init
  init="$(history_head)"
  euca admin create-account acme
  run euca admin rollback "$init" --output json
  assert_success
  assert_json_array <<<"$output"
  run /usr/bin/python3 -c 'import json, sys; print(sorted((c["kind"], c["what"]) for c in json.load(sys.stdin)))' <<<"$output"
  assert_output "[('access-keys', 'delete'), ('accounts', 'delete'), ('users', 'delete')]"
}

@test "admin rollback: missing REV, exit 2" {
  expect_failure 2 "REV is required" admin rollback
  expect_failure 2 "--object: 1 required OBJECT missing" admin rollback HEAD --object
}

@test "admin rollback: unknown REV or object, nothing changes" {
  expect_failure 3 "no revision 'feedface' in history" admin rollback feedface
  expect_failure 2 "'nothing/here' names no object" admin rollback "$(history_head)" --object nothing/here
}

@test "admin rollback: corrupt state.db, exit 1" {
  local head
  head="$(history_head)"
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin rollback "$head"
}

@test "admin rollback: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin rollback "$(history_head)"
}

@test "a non-administrator cannot read or roll back history, exit 6" {
  euca admin create-account acme
  create_user dev acme
  export EC2_ACCESS_KEY="$KEY_ID"
  expect_failure 6 "'dev@acme' is not a cloud administrator" admin history
  expect_failure 6 "'dev@acme' is not a cloud administrator" admin show HEAD
  expect_failure 6 "'dev@acme' is not a cloud administrator" admin diff HEAD
  expect_failure 6 "'dev@acme' is not a cloud administrator" admin rollback HEAD
}
