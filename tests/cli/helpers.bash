# Shared setup of the euca CLI tests (bats-core >= 1.5). Every test gets its own EUCA_HOME
# under BATS_TEST_TMPDIR and a clean environment; a cloud made once per file is copied in
# by use_cloud (creating one costs several RSA key generations).

bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

: "${EUCA_BIN:?set EUCA_BIN to the euca binary, e.g. EUCA_BIN=build/euca bats tests/cli}"
EUCA_BIN="$(readlink -f "$EUCA_BIN")"
REPO_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"

# Variables euca reads; a test sets only what it means to.
clean_env() {
  unset EC2_URL S3_URL EC2_ACCESS_KEY EC2_SECRET_KEY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
    AWS_ACCESS_KEY AWS_SECRET_KEY EC2_CERT EC2_PRIVATE_KEY EUCALYPTUS_CERT EUCA_DEFAULT_REGION \
    AWS_DEFAULT_REGION EC2_USER_ID EC2_ACCOUNT_NUMBER
}

# For setup_file: one initialised cloud that use_cloud copies.
make_template_cloud() {
  clean_env
  export EUCA_TEMPLATE="$BATS_FILE_TMPDIR/template"
  EUCA_HOME="$EUCA_TEMPLATE" "$EUCA_BIN" admin init >/dev/null
}

# For setup: a fresh, empty home for this test.
fresh_home() {
  clean_env
  export EUCA_HOME="$BATS_TEST_TMPDIR/home"
}

# A copy of the file's template cloud in EUCA_HOME.
use_cloud() {
  cp -a "$EUCA_TEMPLATE" "$EUCA_HOME"
}

euca() { "$EUCA_BIN" "$@"; }

# component_headers COMPONENT METHOD PATH QUERY BODY_FILE [DATE]: prints curl -H arguments, one
# per line, that sign a request to the internal API with the key of COMPONENT in
# $EUCA_HOME/keys, using openssl alone and the format of docs/internal-api.md. QUERY must be in
# canonical form (sorted, percent-encoded) or empty.
component_headers() {
  local component="$1" method="$2" path="$3" query="$4" body_file="$5"
  local date="${6:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}" keys="$EUCA_HOME/keys" body_hash sig
  body_hash="$(sha256sum <"$body_file" | cut -d' ' -f1)"
  sig="$(printf 'EUCA-RSA-SHA256\n%s\n%s\n%s\n%s\n%s' "$method" "$path" "$query" "$date" "$body_hash" |
    openssl dgst -sha256 -sign "$keys/$component-pk.pem" | base64 -w0)"
  printf '%s\n' -H "X-Euca-Date: $date" \
    -H "X-Euca-Certificate: $(base64 -w0 "$keys/$component-cert.pem")" \
    -H "Authorization: EUCA-RSA-SHA256 Signature=$sig"
}

# What must not change when a command fails: the database content, its schema version and
# the history head. A file that is not a database is compared byte for byte.
state_fingerprint() {
  local db="$EUCA_HOME/state.db"
  if [[ ! -e "$db" ]]; then
    echo "no state.db"
  elif sqlite3 "$db" 'PRAGMA quick_check' >/dev/null 2>&1; then
    sqlite3 "$db" 'PRAGMA user_version' .dump | sha1sum
  else
    sha1sum <"$db"
  fi
  git --git-dir="$EUCA_HOME/history.git" rev-parse HEAD 2>/dev/null || echo "no history"
}

# expect_failure STATUS MESSAGE ARGS...: runs euca ARGS and asserts exit STATUS, MESSAGE in
# "euca: error: ..." on stderr, nothing on stdout, and no change to state.db or history.
# A file whose server changes the state on its own (instances going from pending to running)
# defines settle_state; it is called first, so that only the command's own doing is compared.
expect_failure() {
  local want="$1" message="$2"
  shift 2
  local before
  if declare -F settle_state >/dev/null; then settle_state; fi
  before="$(state_fingerprint)"
  run --separate-stderr "$EUCA_BIN" "$@"
  if [[ "$status" != "$want" ]]; then
    fail "euca $*: exit status $status, expected $want; stderr: $stderr"
  fi
  [[ "$stderr" == *"error: "*"$message"* ]] || fail "euca $*: stderr lacks '$message': $stderr"
  assert_output ''
  assert_equal "$(state_fingerprint)" "$before"
}

# Overwrites state.db with bytes that are not a database.
corrupt_state() {
  rm -f "$EUCA_HOME"/state.db-wal "$EUCA_HOME"/state.db-shm
  for _ in $(seq 64); do echo "this is not an SQLite database"; done >"$EUCA_HOME/state.db"
}

# Marks state.db as written by a newer euca.
newer_state() {
  sqlite3 "$EUCA_HOME/state.db" 'PRAGMA user_version=99'
}

# The error messages of the two cases above.
CORRUPT_MESSAGE="is not a euca state store"
NEWER_MESSAGE="has schema version 99, newer than this euca understands"
NO_CLOUD_MESSAGE="no cloud in '"

# create_user NAME [ACCOUNT]: creates a user; sets KEY_ID and SECRET from its output.
create_user() {
  local out
  out="$("$EUCA_BIN" admin create-user "$1" --account "${2:-eucalyptus}")" || return 1
  KEY_ID="$(awk -F'\t' '$1 == "ACCESSKEY" { print $2 }' <<<"$out")"
  SECRET="$(awk -F'\t' '$1 == "ACCESSKEY" { print $3 }' <<<"$out")"
}

# The access key of admin@eucalyptus, from eucarc.
admin_key() {
  (source "$EUCA_HOME/eucarc" && echo "$EC2_ACCESS_KEY")
}

# history_head: the newest history commit.
history_head() {
  git --git-dir="$EUCA_HOME/history.git" rev-parse HEAD
}

# history_count: the number of history commits.
history_count() {
  git --git-dir="$EUCA_HOME/history.git" rev-list --count HEAD
}

# Fails unless stdin is one JSON array.
assert_json_array() {
  /usr/bin/python3 -c 'import json, sys; d = json.load(sys.stdin); assert isinstance(d, list), "not an array"'
}

# json_field INDEX FIELD: prints field FIELD of element INDEX of the JSON array on stdin.
json_field() {
  /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)[int(sys.argv[1])][sys.argv[2]])' "$1" "$2"
}

# flip_byte FILE OFFSET: inverts one byte in place.
flip_byte() {
  /usr/bin/python3 -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[o] ^= 0xFF; open(p, "wb").write(b)' "$1" "$2"
}

# The parts --debug reports as uploaded / skipped, sorted, space-separated.
uploaded_parts() { grep -o 'debug: uploaded [^ ]*' <<<"$1" | awk '{ print $3 }' | sort | xargs; }
skipped_parts() { grep -o 'debug: skipping [^ :]*' <<<"$1" | awk '{ print $3 }' | sort | xargs; }

# middle_part_manifest MANIFEST OUT: writes a copy of the three-part MANIFEST that names only
# its part 1 (unsigned any more: for upload-bundle and delete-bundle, which do not check).
middle_part_manifest() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import re, sys
xml = open(sys.argv[1]).read()
xml = re.sub(r'<part index="[02]">.*?</part>', '', xml)
xml = xml.replace('<parts count="3">', '<parts count="1">').replace('<part index="1">', '<part index="0">')
open(sys.argv[2], "w").write(xml)
EOF
}

# start_daemon NAME LOG ARGS...: starts `euca ARGS` in the background, waits for "NAME
# listening on URL" in LOG and prints the URL.
start_daemon() {
  local name="$1" log="$2"
  shift 2
  "$EUCA_BIN" "$@" >"$log" 2>&1 3>&- &
  echo "$!" >>"$BATS_FILE_TMPDIR/pids"
  local i
  for i in $(seq 150); do
    grep -q "^$name listening on http://" "$log" && break
    sleep 0.1
  done
  sed -n "s/^$name listening on \(http:\/\/.*\)$/\1/p" "$log"
}

# stop_daemons: TERM to every daemon start_daemon started in this file, then waits for each.
stop_daemons() {
  local pid
  while read -r pid; do
    kill -TERM "$pid" 2>/dev/null || true
  done <"$BATS_FILE_TMPDIR/pids"
  while read -r pid; do
    wait "$pid" 2>/dev/null || true
  done <"$BATS_FILE_TMPDIR/pids"
}

# qemu_guest_skip_reason: why a test with a real guest cannot run here ("" when it can): it
# needs root (the system libvirt daemon), the test guest (make guest) and a daemon that
# answers (tests/setup/libvirtd.sh starts one). Uses BATS_FILE_TMPDIR and GUEST_DIR.
qemu_guest_skip_reason() {
  if [[ "$(id -u)" != 0 ]]; then
    echo "needs root (a system libvirt daemon)"
    return 0
  fi
  if [[ ! -f "$GUEST_DIR/VERSION" ]]; then
    echo "the test guest is not built (make guest)"
    return 0
  fi
  local rc=0
  bash "$BATS_TEST_DIRNAME/../setup/libvirtd.sh" >"$BATS_FILE_TMPDIR/libvirtd.out" 2>&1 || rc=$?
  if [[ $rc == 77 ]]; then
    echo "no libvirt daemon: $(cat "$BATS_FILE_TMPDIR/libvirtd.out")"
  elif [[ $rc != 0 ]]; then
    cat "$BATS_FILE_TMPDIR/libvirtd.out" >&2
    return 1
  fi
}

# bundle_test_guest BUCKET: the test guest (GUEST_DIR) bundled into k/, r/ and m/ (kernel,
# ramdisk, root disk) and uploaded to BUCKET, where the caller's EUCA_HOME and S3_URL say.
bundle_test_guest() {
  mkdir -p k r m
  cp "$GUEST_DIR/kernel" guest-kernel
  cp "$GUEST_DIR/initramfs.cpio" guest-ramdisk
  cp "$GUEST_DIR/root.ext2" guest-root
  "$EUCA_BIN" bundle-image -i guest-kernel --image-type kernel -d k >/dev/null
  "$EUCA_BIN" bundle-image -i guest-ramdisk --image-type ramdisk -d r >/dev/null
  "$EUCA_BIN" bundle-image -i guest-root -d m >/dev/null
  local b
  for b in k/guest-kernel r/guest-ramdisk m/guest-root; do
    "$EUCA_BIN" upload-bundle -b "$1" -m "$b.manifest.xml" >/dev/null
  done
}
