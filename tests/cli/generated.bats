#!/usr/bin/env bats
# The man pages (man/) and completions (completions/) are generated from the command table
# by the binary and checked in. These tests fail when the checked-in files differ from what
# the binary generates; EUCA_TEST_REGENERATE=1 rewrites them instead (review the diff).

load helpers

setup() { fresh_home; }

@test "man pages are in step with the command table" {
  if [[ "${EUCA_TEST_REGENERATE:-}" == 1 ]]; then
    euca __man "$REPO_ROOT/man"
  fi
  local generated="$BATS_TEST_TMPDIR/man"
  run euca __man "$generated"
  assert_success
  run diff -r "$REPO_ROOT/man" "$generated"
  [[ "$status" == 0 ]] || fail "man/ differs from 'euca __man'; run EUCA_TEST_REGENERATE=1 bats tests/cli/generated.bats and review:
$output"
}

@test "completions are in step with the command table" {
  if [[ "${EUCA_TEST_REGENERATE:-}" == 1 ]]; then
    euca __completions bash >"$REPO_ROOT/completions/euca.bash"
    euca __completions zsh >"$REPO_ROOT/completions/_euca"
  fi
  local shell file
  for shell in bash zsh; do
    file="$REPO_ROOT/completions/$([[ $shell == bash ]] && echo euca.bash || echo _euca)"
    run diff -u "$file" <(euca __completions "$shell")
    [[ "$status" == 0 ]] || fail "$file differs from 'euca __completions $shell'; run EUCA_TEST_REGENERATE=1 bats tests/cli/generated.bats and review:
$output"
  done
}

@test "generation is deterministic" {
  euca __man "$BATS_TEST_TMPDIR/a"
  euca __man "$BATS_TEST_TMPDIR/b"
  diff -r "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
  assert_equal "$(euca __completions bash | sha1sum)" "$(euca __completions bash | sha1sum)"
}

@test "__man writes one page per command plus euca.1, euca-networking.7 and alias pages, and drops stale pages" {
  local dir="$BATS_TEST_TMPDIR/man"
  mkdir "$dir"
  echo stale >"$dir/euca-admin-obsolete.1"
  echo mine >"$dir/other.1"
  run euca __man "$dir"
  assert_success
  [[ ! -e "$dir/euca-admin-obsolete.1" && -e "$dir/other.1" ]]
  assert_equal "$(ls "$dir" | grep -c '^euca')" 86
  assert_equal "$(cat "$dir/euca-modify-property.1" | tail -1)" ".so man1/euca-admin-modify-property.1"
}

@test "man/euca.1 documents global options, environment, exit status and files" {
  local page="$REPO_ROOT/man/euca.1"
  grep -q '^\.SH GLOBAL OPTIONS' "$page"
  grep -q '^\.SH ENVIRONMENT' "$page"
  grep -q '^\.SH FILES' "$page"
  grep -q '^\.B EC2_URL$' "$page"
  grep -q '^\.B EUCA_HOME$' "$page"
  # Every exit status 0..10 with its meaning.
  run awk '/^\.SH EXIT STATUS/ { on = 1; next } /^\.SH/ { on = 0 } on && /^\.B [0-9]+$/ { print $2 }' "$page"
  assert_output "$(seq 0 10)"
  grep -A1 '^\.B 3$' "$page" | grep -q 'NotFound'
  grep -A1 '^\.B 2$' "$page" | grep -q 'usage error'
}

@test "man pages render without warnings" {
  command -v man >/dev/null || skip "man is not installed"
  local page
  for page in "$REPO_ROOT"/man/euca.1 "$REPO_ROOT"/man/euca-admin-*.1 "$REPO_ROOT"/man/euca-signup.1; do
    run --separate-stderr env MANWIDTH=80 man --warnings -l "$page"
    assert_success
    assert_equal "$stderr" ""
    assert_output --partial "NAME"
  done
}

@test "__completions: unknown shell, exit 2" {
  expect_failure 2 "unknown shell 'fish'; use bash or zsh" __completions fish
}

# complete WORDS...: runs the bash completion for the command line WORDS (last = current word).
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _euca; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$REPO_ROOT/completions/euca.bash" "$@"
}

@test "bash completion: commands, subcommands, options and values" {
  run complete_words euca ''
  assert_output "$(printf 'help\nversion\nsignup\nbundle-image\nunbundle\nupload-bundle\ndownload-bundle\ndelete-bundle\nadmin\ncreate-keypair\nimport-keypair\ndescribe-keypairs\ndelete-keypair\ndescribe-regions\ncreate-group\ndelete-group\ndescribe-groups\nauthorize\nrevoke\nallocate-address\nassociate-address\ndisassociate-address\nrelease-address\ndescribe-addresses\nrun-instances\ndescribe-instances\nterminate-instances\nreboot-instances\nget-console-output\ndescribe-availability-zones\nregister\nderegister\ndescribe-images\ndescribe-image-attribute\nmodify-image-attribute\nserve\ndescribe-leases\nrenew-lease\ncreate-capacity-reservation\ndescribe-capacity-reservations\ncancel-capacity-reservation')"
  run complete_words euca admin create-
  assert_output "$(printf 'create-account\ncreate-user')"
  run complete_words euca --home /tmp admin rollback --dr
  assert_output "--dry-run"
  run complete_words euca admin describe-users --output ''
  assert_output "$(printf 'text\njson')"
  run complete_words euca-admin-get-credentials --
  assert_line -- --file
  assert_line -- --account
  run complete_words euca-modify-property -
  assert_line -- -p
  assert_line -- --reset
}
