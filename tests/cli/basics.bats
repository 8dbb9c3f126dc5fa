#!/usr/bin/env bats
# The binary itself: help, version, argv[0] dispatch, did-you-mean, usage errors, global
# options and the environment.

load helpers

setup_file() { make_template_cloud; }
setup() { fresh_home; }

# The visible commands, as `euca help` lists them (one per line).
all_commands() {
  "$EUCA_BIN" help | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on { sub(/^  /, ""); sub(/  +.*/, ""); print }'
}

# Commands that need an initialised cloud.
cloud_commands=(
  "signup acme --email ops@acme.test"
  "admin create-account acme"
  "admin describe-accounts"
  "admin create-user bob"
  "admin disable-user bob"
  "admin enable-user bob"
  "admin delete-user bob"
  "admin describe-users"
  "admin get-credentials admin -f creds.zip"
  "admin describe-signups"
  "admin approve-signup signup-0123456789abcdef"
  "admin reject-signup signup-0123456789abcdef"
  "admin describe-properties"
  "admin modify-property cloud.region=x"
  "admin describe-vm-types"
  "admin modify-vm-type m1.small --cores 2"
  "admin history"
  "admin show HEAD"
  "admin diff HEAD"
  "admin rollback HEAD"
  "admin register-cluster zone-a"
  "admin deregister-cluster zone-a"
  "admin describe-clusters"
  "admin register-node zone-a http://nc:8775"
  "admin deregister-node zone-a http://nc:8775"
  "admin describe-nodes"
)

@test "--version and version print the version" {
  run euca --version
  assert_success
  assert_output --regexp '^euca [0-9]+\.[0-9]+\.[0-9]+$'
  local version="$output"
  run euca version
  assert_success
  assert_output "$version"
  run euca version --output json
  assert_success
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 version <<<"$output")" "${version#euca }"
}

@test "help lists every command of the table, the same as --help" {
  run euca help
  assert_success
  assert_line --partial 'admin init'
  assert_line --partial 'admin rollback'
  assert_line --partial 'signup'
  refute_output --partial '__man'
  local help="$output"
  run euca --help
  assert_success
  assert_output "$help"
  assert_equal "$(all_commands | wc -l)" 74
}

@test "every command has --help, and help COMMAND prints the same" {
  local cmd
  while read -r cmd; do
    run euca $cmd --help
    assert_success
    [[ "${lines[0]}" == "Usage: euca $cmd"* ]] || fail "euca $cmd --help: usage line '${lines[0]}'"
    assert_output --partial "See euca-${cmd// /-}(1)"
    local help="$output"
    run euca help $cmd
    assert_success
    assert_output "$help"
    run euca help "euca-${cmd// /-}"
    assert_success
    assert_output "$help"
  done < <(all_commands)
}

@test "help admin lists only the admin commands" {
  run euca help admin
  assert_success
  assert_line --partial 'admin history'
  refute_line --regexp '^  (signup|help|version) '
}

@test "help of an unknown command fails with a suggestion" {
  run --separate-stderr euca help admin descibe-users
  assert_failure 2
  assert_equal "$stderr" "euca: error: unknown command 'admin descibe-users'; did you mean 'admin describe-users'?"
}

@test "no command is a usage error" {
  run --separate-stderr euca
  assert_failure 2
  assert_equal "$stderr" "euca: error: missing command; run 'euca help' for the list"
  run --separate-stderr euca admin
  assert_failure 2
  assert_equal "$stderr" "euca: error: missing admin command; run 'euca help admin' for the list"
}

@test "a typo gets did-you-mean" {
  expect_failure 2 "unknown command 'admin inti'; did you mean 'euca admin init'?" admin inti
  expect_failure 2 "unknown command 'admin describe-user'; did you mean 'euca admin describe-users'?" \
    admin describe-user
  expect_failure 2 "unknown command 'create-user'; did you mean 'euca admin create-user'?" create-user bob
  expect_failure 2 "unknown command 'hepl'; did you mean 'euca help'?" hepl
}

@test "a word far from every command gets the list instead" {
  expect_failure 2 "unknown command 'frobnicate'; run 'euca help' for the list" frobnicate
  expect_failure 2 "unknown command 'admin xyzzy'; run 'euca help admin' for the list" admin xyzzy
}

@test "an unknown option or extra argument is a usage error naming the command" {
  use_cloud
  run --separate-stderr euca admin describe-users --bogus
  assert_failure 2
  assert_equal "${stderr_lines[0]}" "euca: error: The following argument was not expected: --bogus"
  assert_equal "${stderr_lines[1]}" "Run 'euca admin describe-users --help' for usage."
  expect_failure 2 "not expected: extra" admin describe-accounts extra
}

@test "a missing argument is a usage error" {
  use_cloud
  run --separate-stderr euca admin create-account
  assert_failure 2
  assert_equal "${stderr_lines[0]}" "euca: error: NAME is required"
  assert_equal "${stderr_lines[1]}" "Run 'euca admin create-account --help' for usage."
}

@test "__symlinks links every command and alias; euca-NAME equals euca NAME" {
  use_cloud
  local bin="$BATS_TEST_TMPDIR/bin"
  mkdir "$bin"
  run euca __symlinks "$bin"
  assert_success
  local cmd
  while read -r cmd; do
    [[ -L "$bin/euca-${cmd// /-}" ]] || fail "no link euca-${cmd// /-}"
    assert_equal "$(readlink "$bin/euca-${cmd// /-}")" "$EUCA_BIN"
  done < <(all_commands)
  [[ -L "$bin/euca-describe-properties" && -L "$bin/euca-modify-property" ]]
  assert_equal "$(ls "$bin" | wc -l)" 84

  assert_equal "$("$bin/euca-admin-describe-accounts")" "$(euca admin describe-accounts)"
  assert_equal "$("$bin/euca-admin-describe-users" --output json)" "$(euca admin describe-users --output json)"
  assert_equal "$("$bin/euca-describe-properties" cloud)" "$(euca admin describe-properties cloud)"
  assert_equal "$("$bin/euca-version")" "$(euca version)"
  run "$bin/euca-modify-property" -p cloud.region=alias-1
  assert_success
  assert_output "$(printf 'PROPERTY\tcloud.region\talias-1\twas: euca')"
}

@test "__symlinks beside the binary links by name, and replaces older links" {
  local bin="$BATS_TEST_TMPDIR/bin"
  mkdir "$bin"
  cp "$EUCA_BIN" "$bin/euca"
  ln -s /nonexistent "$bin/euca-admin-init"
  run "$bin/euca" __symlinks "$bin"
  assert_success
  assert_equal "$(readlink "$bin/euca-admin-init")" "euca"
  assert_equal "$(readlink "$bin/euca-signup")" "euca"
}

@test "__symlinks refuses to replace a file that is not a link" {
  local bin="$BATS_TEST_TMPDIR/bin"
  mkdir "$bin"
  echo keep >"$bin/euca-admin-init"
  expect_failure 4 "'$bin/euca-admin-init' exists and is not a link" __symlinks "$bin"
  assert_equal "$(cat "$bin/euca-admin-init")" keep
}

@test "euca-NAME names itself in errors; an unknown euca- name is refused" {
  local bin="$BATS_TEST_TMPDIR/bin"
  mkdir "$bin"
  euca __symlinks "$bin"
  run --separate-stderr "$bin/euca-admin-describe-users"
  assert_failure 3
  assert_equal "$stderr" "euca-admin-describe-users: error: no cloud in '$EUCA_HOME'; run 'euca admin init' first"
  ln -s "$EUCA_BIN" "$bin/euca-admin-inti"
  run --separate-stderr "$bin/euca-admin-inti"
  assert_failure 2
  assert_equal "$stderr" "euca-admin-inti: error: unknown program name 'euca-admin-inti'; did you mean 'euca-admin-init'?"
}

@test "every command that needs a cloud says so on an empty home, exit 3" {
  local cmd
  for cmd in "${cloud_commands[@]}"; do
    expect_failure 3 "no cloud in '$EUCA_HOME'; run 'euca admin init' first" $cmd
  done
  [[ ! -e "$EUCA_HOME" ]] || fail "a failed command created '$EUCA_HOME'"
}

@test "global options work before and after the command words" {
  use_cloud
  local home="$EUCA_HOME"
  export EUCA_HOME="$BATS_TEST_TMPDIR/elsewhere"
  run euca --home "$home" --output json admin describe-accounts
  assert_success
  local before="$output"
  run euca admin describe-accounts --home "$home" --output json
  assert_success
  assert_output "$before"
  run euca admin --home "$home" describe-accounts --output=json
  assert_success
  assert_output "$before"
  assert_json_array <<<"$output"
  assert_equal "$(json_field 0 record <<<"$output")" ACCOUNT
  assert_equal "$(json_field 0 name <<<"$output")" eucalyptus
}

@test "--output rejects an unknown format" {
  use_cloud
  expect_failure 2 "--output: unknown output format 'yaml'; use text or json" admin describe-accounts --output yaml
}

@test "EUCA_HOME defaults to ~/.euca" {
  unset EUCA_HOME
  export HOME="$BATS_TEST_TMPDIR/user"
  mkdir "$HOME"
  cp -a "$EUCA_TEMPLATE" "$HOME/.euca"
  run euca --debug admin describe-accounts
  assert_success
  assert_output --partial "debug: home '$HOME/.euca' (embedded)"
}

@test "admin commands use EUCA_HOME even when EC2_URL is set" {
  use_cloud
  export EC2_URL=http://clc.invalid:8773/
  run euca --debug admin describe-accounts
  assert_success
  assert_output --partial "debug: home '$EUCA_HOME' (EC2_URL 'http://clc.invalid:8773/')"
  assert_output --partial "$(printf 'ACCOUNT\teucalyptus\t')"
}

@test "without an access key the principal is the local administrator" {
  use_cloud
  run euca --debug admin create-account acme
  assert_success
  assert_output --partial "debug: principal admin@eucalyptus"
  assert_equal "$(git --git-dir="$EUCA_HOME/history.git" log -1 --format=%an)" "admin@eucalyptus"
}

@test "the access key of the environment is the principal" {
  use_cloud
  create_user ops
  export AWS_ACCESS_KEY_ID="$KEY_ID" AWS_SECRET_ACCESS_KEY="$SECRET"
  run euca --debug admin create-account acme
  assert_success
  assert_output --partial "debug: principal ops@eucalyptus"
  assert_equal "$(git --git-dir="$EUCA_HOME/history.git" log -1 --format=%an)" "ops@eucalyptus"
}

@test "EC2_ACCESS_KEY from a sourced eucarc authenticates as admin" {
  use_cloud
  run bash -c 'source "$EUCA_HOME/eucarc" && "$EUCA_BIN" --debug admin describe-accounts'
  assert_success
  assert_output --partial "debug: principal admin@eucalyptus"
}

@test "an unknown access key, a wrong secret or a disabled user's key exit 7" {
  use_cloud
  create_user ops
  EC2_ACCESS_KEY=AKIAUNKNOWNUNKNOWN00 expect_failure 7 "access key 'AKIAUNKNOWNUNKNOWN00' does not exist" \
    admin describe-accounts
  EC2_ACCESS_KEY="$KEY_ID" EC2_SECRET_KEY=wrong expect_failure 7 "secret key does not match access key '$KEY_ID'" \
    admin describe-accounts
  euca admin disable-user ops
  EC2_ACCESS_KEY="$KEY_ID" EC2_SECRET_KEY="$SECRET" expect_failure 7 "belongs to disabled user 'ops'" \
    admin describe-accounts
}

@test "a user outside the eucalyptus account is not an administrator, exit 6" {
  use_cloud
  euca admin create-account acme
  create_user dev acme
  export EC2_ACCESS_KEY="$KEY_ID" EC2_SECRET_KEY="$SECRET"
  expect_failure 6 "'dev@acme' is not a cloud administrator" admin create-account other
  expect_failure 6 "'dev@acme' is not a cloud administrator" admin history
}
