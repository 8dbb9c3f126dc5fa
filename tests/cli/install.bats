#!/usr/bin/env bats
# make install: the binary, the euca-* links, man pages and completions land under PREFIX
# and work from there.

load helpers

setup() {
  fresh_home
  BUILD_DIR="$(dirname "$EUCA_BIN")"
  [ -f "$BUILD_DIR/cmake_install.cmake" ] || skip "EUCA_BIN is not in a CMake build folder"
  PREFIX="$BATS_TEST_TMPDIR/prefix"
}

@test "install puts binary, links, man pages and completions under PREFIX" {
  run cmake --install "$BUILD_DIR" --prefix "$PREFIX"
  assert_success
  [ -x "$PREFIX/bin/euca" ]
  [ -L "$PREFIX/bin/euca-admin-init" ]
  [ -L "$PREFIX/bin/euca-modify-property" ]
  [ -f "$PREFIX/share/man/man1/euca.1" ]
  [ -f "$PREFIX/share/man/man1/euca-admin-rollback.1" ]
  [ -f "$PREFIX/share/bash-completion/completions/euca" ]
  [ "$(readlink "$PREFIX/share/bash-completion/completions/euca-admin-init")" = euca ]
  [ -f "$PREFIX/share/zsh/vendor-completions/_euca" ]
  # Every man page installed has its command's link, and the other way round.
  for page in "$PREFIX"/share/man/man1/euca-*.1; do
    prog=$(basename "$page" .1)
    [ -L "$PREFIX/bin/$prog" ] || fail "man page $prog.1 without a program link"
  done
}

@test "installed links run the command they are named for" {
  cmake --install "$BUILD_DIR" --prefix "$PREFIX" >/dev/null
  run "$PREFIX/bin/euca-admin-init" --home "$EUCA_HOME"
  assert_success
  assert_output --partial "eucarc: $EUCA_HOME/eucarc"
  run "$PREFIX/bin/euca-describe-properties" --home "$EUCA_HOME" cloud.region
  assert_success
  assert_output "PROPERTY	cloud.region	euca"
  run bash -c "source '$PREFIX/share/bash-completion/completions/euca-admin-init' && complete -p euca-admin-init"
  assert_success
  assert_output --partial "_euca"
}

@test "__symlinks --target refuses a path" {
  mkdir -p "$BATS_TEST_TMPDIR/links"
  run euca __symlinks --target ../euca "$BATS_TEST_TMPDIR/links"
  assert_failure 2
  assert_output --partial "must be a plain name"
}
