#!/usr/bin/env bats
# Cloud properties: admin describe-properties and modify-property (and their euca2ools
# names euca-describe-properties, euca-modify-property).

load helpers

setup_file() { make_template_cloud; }
setup() {
  fresh_home
  use_cloud
}

# --- describe-properties --------------------------------------------------------------

@test "admin describe-properties lists every property sorted, PROPERTY name value" {
  run euca admin describe-properties
  assert_success
  assert_line "$(printf 'PROPERTY\tcloud.region\teuca')"
  assert_line "$(printf 'PROPERTY\tsignup.auto-approve\tfalse')"
  local names
  names="$(cut -f2 <<<"$output")"
  assert_equal "$names" "$(sort <<<"$names")"
  refute_line --regexp '^[^P]'
  (( ${#lines[@]} >= 5 ))
}

@test "admin describe-properties PREFIX... filters, each property once" {
  run euca admin describe-properties cloud. signup
  assert_success
  assert_line --index 0 --regexp '^PROPERTY	cloud\.description	'
  assert_line --index 1 "$(printf 'PROPERTY	cloud.embedded-policy	greedy')"
  assert_line --index 2 "$(printf 'PROPERTY	cloud.embedded-zone	local')"
  assert_line --index 3 "$(printf 'PROPERTY	cloud.region	euca')"
  assert_line --index 4 "$(printf 'PROPERTY	cloud.storage-lease-grace	7d')"
  assert_line --index 5 "$(printf 'PROPERTY	cloud.terminated-visible-seconds	3600')"
  assert_line --index 6 "$(printf 'PROPERTY	signup.auto-approve	false')"
  assert_equal "${#lines[@]}" 7
  run euca admin describe-properties cloud cloud.region
  assert_equal "${#lines[@]}" 6
}

@test "admin describe-properties --output json" {
  run euca admin describe-properties cloud.region --output json
  assert_success
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 record <<<"$output")" PROPERTY
  assert_equal "$(json_field 0 name <<<"$output")" cloud.region
  assert_equal "$(json_field 0 value <<<"$output")" euca
}

@test "admin describe-properties: a prefix that matches nothing, exit 3" {
  expect_failure 3 "no property matches 'nosuch'" admin describe-properties cloud nosuch
}

@test "admin describe-properties: corrupt state.db, exit 1" {
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin describe-properties
}

@test "admin describe-properties: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin describe-properties
}

# --- modify-property ------------------------------------------------------------------

@test "admin modify-property sets values, prints new and old, one commit" {
  local n
  n="$(history_count)"
  run euca admin modify-property cloud.region=east-1 signup.auto-approve=yes
  assert_success
  assert_line --index 0 "$(printf 'PROPERTY\tcloud.region\teast-1\twas: euca')"
  assert_line --index 1 "$(printf 'PROPERTY\tsignup.auto-approve\ttrue\twas: false')"
  assert_equal "$(history_count)" $((n + 1))
  assert_equal "$(git --git-dir="$EUCA_HOME/history.git" log -1 --format=%an)" admin@eucalyptus
  run euca admin describe-properties cloud.region
  assert_output "$(printf 'PROPERTY\tcloud.region\teast-1')"
}

@test "admin modify-property: euca2ools -p form, --reset and json" {
  run euca admin modify-property -p cloud.region=west-2 -p cloud.description=lab
  assert_success
  run euca admin modify-property --reset cloud.region --output json
  assert_success
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 value <<<"$output")" euca
  assert_equal "$(json_field 0 was <<<"$output")" west-2
}

@test "admin modify-property: an empty value is a value" {
  euca admin modify-property cloud.description=lab
  run euca admin modify-property cloud.description=
  assert_success
  assert_output "$(printf 'PROPERTY\tcloud.description\t\twas: lab')"
}

@test "admin modify-property: nothing given, exit 2" {
  expect_failure 2 "no property to modify; give NAME=VALUE" admin modify-property
}

@test "admin modify-property: not NAME=VALUE, exit 2" {
  expect_failure 2 "expected NAME=VALUE, got 'cloud.region'" admin modify-property cloud.region
  expect_failure 2 "expected NAME=VALUE, got '=x'" admin modify-property =x
}

@test "admin modify-property: unknown property, exit 2, nothing applied" {
  expect_failure 2 "unknown property 'no.such'" admin modify-property cloud.region=x no.such=1
  expect_failure 2 "unknown property 'no.such'" admin modify-property --reset no.such
  run euca admin describe-properties cloud.region
  assert_output "$(printf 'PROPERTY\tcloud.region\teuca')"
}

@test "admin modify-property: cloud.embedded-zone cannot be a meta-zone or verbose" {
  local name
  for name in any single spread verbose; do
    expect_failure 2 "property 'cloud.embedded-zone' cannot be '$name': expected a zone name" \
      admin modify-property "cloud.embedded-zone=$name"
  done
  run euca admin describe-properties cloud.embedded-zone
  assert_output "$(printf 'PROPERTY\tcloud.embedded-zone\tlocal')"
}

@test "admin modify-property: cloud.embedded-policy is one of the cluster controller's policies" {
  expect_failure 2 "property 'cloud.embedded-policy' cannot be 'random': expected one of greedy, roundrobin, pack, spread" \
    admin modify-property cloud.embedded-policy=random
  run euca admin modify-property cloud.embedded-policy=pack
  assert_success
  run euca admin describe-properties cloud.embedded-policy
  assert_output "$(printf 'PROPERTY\tcloud.embedded-policy\tpack')"
  run euca admin modify-property --reset cloud.embedded-policy
  assert_success
}

@test "admin modify-property: invalid value, exit 2, nothing applied" {
  expect_failure 2 "property 'credentials.cert-validity-days' cannot be 'soon'" \
    admin modify-property cloud.region=x credentials.cert-validity-days=soon
}

@test "admin modify-property: the same property twice, exit 2" {
  expect_failure 2 "property 'cloud.region' is given twice" admin modify-property cloud.region=a -p cloud.region=b
}

@test "admin modify-property: corrupt state.db, exit 1" {
  corrupt_state
  expect_failure 1 "$CORRUPT_MESSAGE" admin modify-property cloud.region=x
}

@test "admin modify-property: newer state.db, exit 9" {
  newer_state
  expect_failure 9 "$NEWER_MESSAGE" admin modify-property cloud.region=x
}

@test "euca-describe-properties and euca-modify-property are the admin commands" {
  local bin="$BATS_TEST_TMPDIR/bin"
  mkdir "$bin"
  euca __symlinks "$bin"
  run "$bin/euca-modify-property" -p cloud.region=alias
  assert_success
  assert_output "$(printf 'PROPERTY\tcloud.region\talias\twas: euca')"
  assert_equal "$("$bin/euca-describe-properties")" "$(euca admin describe-properties)"
  run --separate-stderr "$bin/euca-describe-properties" nosuch
  assert_failure 3
  assert_equal "$stderr" "euca-describe-properties: error: no property matches 'nosuch'"
}
