#!/usr/bin/env bats
# tests/quickstart.sh (make run) works end to end.

load helpers

setup() {
  fresh_home
  # The main job boots the test guest on the system libvirt daemon (root) or the user's own.
  [[ -f "$(dirname "$EUCA_BIN")/guest/VERSION" ]] || skip "no test guest (make guest)"
}

@test "quickstart runs every step and shows the results" {
  TMPDIR="$BATS_TEST_TMPDIR" run bash "$REPO_ROOT/tests/quickstart.sh"
  assert_success
  assert_line --regexp '^ACCOUNT	acme	[0-9]{12}$'
  assert_line --regexp '^USER	acme	alice	AIDA[A-Z0-9]{17}	true$'
  assert_line "$(printf 'PROPERTY\tcloud.region\tquickstart-1')"
  assert_line --regexp '^COMMIT	.*	admin@eucalyptus	EnableUser alice@acme	'
  assert_line --regexp '^COMMIT	.*	system	InitCloud	'
  assert_equal "$(grep -c '^COMMIT' <<<"$output")" 6
  # The main job: a fresh bundle of the test guest runs on the local libvirt and prints its
  # ready marker, with the key pair's public key delivered through the seed disk.
  assert_line --regexp '^IMAGE	emi-[0-9a-f]{8}	quickstart/guest-root.manifest.xml	[0-9]{12}	available	private	x86_64	machine	eki-[0-9a-f]{8}	eri-[0-9a-f]{8}'
  local id
  id="$(awk -F'\t' '$1 == "INSTANCE" { print $2; exit }' <<<"$output")"
  [[ "$id" =~ ^i-[0-9a-f]{8}$ ]] || fail "no instance id in the output"
  # (serial console lines may end in a carriage return)
  assert_line --regexp "^EUCA-GUEST-READY $id"
  assert_line --regexp "^EUCA-GUEST-KEY ssh-rsa AAAA.* admin@eucalyptus"
  assert_line --regexp "^INSTANCE	$id	emi-[0-9a-f]{8}		10\.1\.0\.[0-9]+	running	quickstart	0		m1.small	"
  assert_line "$(printf 'INSTANCE\t%s\trunning\tshutting-down' "$id")"
}

@test "quickstart fails without a binary" {
  EUCA_BIN="$BATS_TEST_TMPDIR/nothing" run bash "$REPO_ROOT/tests/quickstart.sh"
  assert_failure 1
  assert_output --partial "no euca binary at '$BATS_TEST_TMPDIR/nothing'"
}
