#!/usr/bin/env bats
# tests/quickstart.sh (make run) works end to end.

load helpers

setup() { fresh_home; }

@test "quickstart runs every step and shows the results" {
  TMPDIR="$BATS_TEST_TMPDIR" run bash "$REPO_ROOT/tests/quickstart.sh"
  assert_success
  assert_line --regexp '^ACCOUNT	acme	[0-9]{12}$'
  assert_line --regexp '^USER	acme	alice	AIDA[A-Z0-9]{17}	true$'
  assert_line "$(printf 'PROPERTY\tcloud.region\tquickstart-1')"
  assert_line --regexp '^COMMIT	.*	admin@eucalyptus	EnableUser alice@acme	'
  assert_line --regexp '^COMMIT	.*	system	InitCloud	'
  assert_equal "$(grep -c '^COMMIT' <<<"$output")" 6
}

@test "quickstart fails without a binary" {
  EUCA_BIN="$BATS_TEST_TMPDIR/nothing" run bash "$REPO_ROOT/tests/quickstart.sh"
  assert_failure 1
  assert_output --partial "no euca binary at '$BATS_TEST_TMPDIR/nothing'"
}
