#!/usr/bin/env bats
# euca admin init

load helpers

setup() { fresh_home; }

@test "admin init creates a cloud and prints what it made" {
  run --separate-stderr euca admin init
  assert_success
  assert_line --index 0 "home: $EUCA_HOME"
  assert_line --index 1 "account: eucalyptus"
  assert_line --index 2 --regexp '^account_id: [0-9]{12}$'
  assert_line --index 3 "user: admin"
  assert_line --index 4 --regexp '^user_id: AIDA[A-Z0-9]{17}$'
  assert_line --index 5 --regexp '^access_key_id: AKIA[A-Z0-9]{16}$'
  assert_line --index 6 "eucarc: $EUCA_HOME/eucarc"
  assert_line "To use this cloud from a shell, run: source $EUCA_HOME/eucarc"
  assert_equal "$stderr" ""

  assert_equal "$(stat -c %a "$EUCA_HOME")" 700
  assert_equal "$(stat -c %a "$EUCA_HOME/eucarc")" 600
  [[ -f "$EUCA_HOME/state.db" && -d "$EUCA_HOME/history.git" && -f "$EUCA_HOME/keys/cloud-cert.pem" ]]
  # The secret key is in eucarc only, never printed.
  local secret
  secret="$(source "$EUCA_HOME/eucarc" && echo "$EC2_SECRET_KEY")"
  [[ ${#secret} -eq 40 ]]
  refute_output --partial "$secret"
  # The printed key is the one in eucarc.
  assert_line "access_key_id: $(admin_key)"
}

@test "admin init is one history commit by system" {
  euca admin init >/dev/null
  assert_equal "$(history_count)" 1
  run euca admin history
  assert_success
  assert_output --regexp "^COMMIT	[0-9a-f]{40}	[0-9T:-]+Z	system	InitCloud	[0-9a-f-]+$"
}

@test "admin init --output json has the same data and no secret" {
  run --separate-stderr euca admin init --output json
  assert_success
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 record <<<"$output")" INIT
  assert_equal "$(json_field 0 home <<<"$output")" "$EUCA_HOME"
  assert_equal "$(json_field 0 access_key_id <<<"$output")" "$(admin_key)"
  assert_equal "$(json_field 0 eucarc <<<"$output")" "$EUCA_HOME/eucarc"
  refute_output --partial "$(source "$EUCA_HOME/eucarc" && echo "$EC2_SECRET_KEY")"
}

@test "admin init --home and a relative home" {
  cd "$BATS_TEST_TMPDIR"
  run euca admin init --home rel/cloud
  assert_success
  assert_line --index 0 "home: $BATS_TEST_TMPDIR/rel/cloud"
  [[ -f "$BATS_TEST_TMPDIR/rel/cloud/state.db" ]]
  [[ ! -e "$EUCA_HOME" ]]
}

@test "admin init refuses an existing cloud, exit 4, and changes nothing" {
  euca admin init >/dev/null
  local eucarc
  eucarc="$(cat "$EUCA_HOME/eucarc")"
  expect_failure 4 "'$EUCA_HOME' already holds a cloud; use --force" admin init
  assert_equal "$(cat "$EUCA_HOME/eucarc")" "$eucarc"
}

@test "admin init --force moves the old cloud aside" {
  euca admin init >/dev/null
  local old_key
  old_key="$(admin_key)"
  euca admin create-account acme
  run euca admin init --force
  assert_success
  assert_line --regexp "^backup: $EUCA_HOME/backup-[0-9TZ]+$"
  local backup="${output##*backup: }"
  backup="${backup%%$'\n'*}"
  [[ -f "$backup/state.db" && -f "$backup/keys/cloud-ca-pk.pem" ]]
  [[ "$(admin_key)" != "$old_key" ]]
  run euca admin describe-accounts
  refute_output --partial acme
  assert_equal "$(history_count)" 1
}

@test "admin init refuses a home with a corrupt state.db, exit 4" {
  euca admin init >/dev/null
  corrupt_state
  expect_failure 4 "already holds a cloud" admin init
}

@test "admin init refuses a home with a newer state.db, exit 4" {
  euca admin init >/dev/null
  newer_state
  expect_failure 4 "already holds a cloud" admin init
}

@test "admin init in a home that cannot be created fails and leaves nothing" {
  echo file >"$BATS_TEST_TMPDIR/plain"
  run --separate-stderr euca admin init --home "$BATS_TEST_TMPDIR/plain/cloud"
  assert_failure
  [[ "$stderr" == "euca: error: "* ]]
  assert_output ''
  assert_equal "$(cat "$BATS_TEST_TMPDIR/plain")" file
}

@test "admin init rejects arguments" {
  expect_failure 2 "not expected: extra" admin init extra
  [[ ! -e "$EUCA_HOME" ]]
}

@test "admin init --hypervisor and --accel set the embedded node controller's properties" {
  run euca admin init --hypervisor test:///default --accel tcg
  assert_success
  run euca admin describe-properties nc.
  assert_success
  assert_line --regexp '^PROPERTY	nc\.accel	tcg'
  assert_line --regexp '^PROPERTY	nc\.hypervisor	test:///default'
  # The same property is one history commit with the cloud, not two.
  assert_equal "$(history_count)" 1
}

@test "admin init without --hypervisor uses qemu:///system with auto acceleration" {
  euca admin init >/dev/null
  run euca admin describe-properties nc.
  assert_line --regexp '^PROPERTY	nc\.accel	auto'
  assert_line --regexp '^PROPERTY	nc\.hypervisor	qemu:///system'
}

@test "admin init refuses a bad --hypervisor or --accel and creates nothing" {
  run --separate-stderr euca admin init --hypervisor xen:///
  assert_failure 2
  assert_equal "$stderr" "euca: error: property 'nc.hypervisor' cannot be 'xen:///': expected a libvirt URI of the qemu or test driver (qemu:///system, test:///default) or fake://"
  [[ ! -e "$EUCA_HOME" ]]
  run --separate-stderr euca admin init --accel fast
  assert_failure 2
  assert_equal "$stderr" "euca: error: property 'nc.accel' cannot be 'fast': expected one of auto, kvm, tcg"
  [[ ! -e "$EUCA_HOME" ]]
}
