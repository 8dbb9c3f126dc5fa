#!/usr/bin/env bats
# Walrus keys are opaque bytes: keys shaped like paths ("../", "..%2F"), encoded NULs, 1,024
# bytes and Unicode round-trip or are refused cleanly, and nothing is ever created outside
# the Walrus data folder (no path is derived from a key: docs/walrus-format.md).

load helpers
load walrus_helpers

setup_file() {
  # Each test compares the files around the home before and after: one test at a time.
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  walrus_setup_file
}
teardown_file() { walrus_teardown_file; }
setup() { walrus_setup; }

# Every path around the cloud home (this file's folder, which other test files running at the
# same time do not write in), except the data folder (whose inside is checked apart). Farther
# out, the tests look for their marked names.
around_home() {
  find "$BATS_FILE_TMPDIR" -path "$WALRUS_HOME/walrus" -prune -o -path "$BATS_TEST_TMPDIR" -prune -o -print | sort
}

# Fails unless every file in the data folder has one of the format's shapes: walrus.db and its
# journal, LOCK, tmp/, blobs/XX/ID with a 32-hex-digit ID in the shard of its first two, and the
# image cache's image-cache/{LOCK,tmp/,ID.img,ID.json}.
assert_data_folder_shapes() {
  local data="$WALRUS_HOME/walrus" rel bad=""
  while IFS= read -r rel; do
    case "$rel" in
      walrus.db | walrus.db-wal | walrus.db-shm | LOCK | tmp | blobs) continue ;;
      image-cache | image-cache/LOCK | image-cache/tmp) continue ;;
    esac
    [[ "$rel" =~ ^image-cache/[0-9a-f]{32}\.(img|json)$ ]] && continue
    [[ "$rel" =~ ^blobs/([0-9a-f]{2})(/([0-9a-f]{32}))?$ ]] &&
      [[ -z "${BASH_REMATCH[3]}" || "${BASH_REMATCH[3]:0:2}" == "${BASH_REMATCH[1]}" ]] && continue
    bad+="$rel"$'\n'
  done < <(cd "$data" && find . -mindepth 1 | sed 's|^\./||')
  assert_equal "$bad" ""
}

@test "path-like, NUL, 1,024-byte and Unicode keys round-trip; 1,025 bytes is KeyTooLongError" {
  need_boto3
  local mark="keysafety-$$-$RANDOM" before
  before="$(around_home)"
  run /usr/bin/python3 "$REPO_ROOT/tests/walrus/key_safety.py" "$WALRUS_URL" "$ADMIN_KEY" "$ADMIN_SECRET" \
    key-bucket "$mark"
  assert_success
  assert_line "ok: a 1,025-byte key gets KeyTooLongError"
  assert_line "ok: the listing holds exactly those keys, in byte order"
  refute_output --partial FAILED
  assert_equal "$(around_home)" "$before"
  assert_data_folder_shapes
  run find /tmp "$HOME" "$REPO_ROOT" "$(dirname "$BATS_RUN_TMPDIR")" -maxdepth 3 -name "*$mark*"
  assert_output ''
}

@test "raw request paths with ../, ..%2F and %00 stay inside the data folder" {
  need_aws
  local mark="rawkeys-$$-$RANDOM" before
  # Anonymous writes to a public-read-write bucket: the raw paths go out exactly as written.
  aws_admin s3api create-bucket --bucket raw-keys --acl public-read-write
  before="$(around_home)"
  local path code
  for path in "../../$mark-a" "..%2F..%2F..%2F$mark-b" "%2e%2e%2f%2e%2e%2f$mark-c" "nul%00byte-$mark-d" \
    "a/%2e%2e/%2e%2e/%2e%2e/$mark-e"; do
    code="$(curl -s --path-as-is -o /dev/null -w '%{http_code}' -X PUT -H 'x-amz-acl: public-read' --data-binary "raw $path" \
      "$WALRUS_URL/raw-keys/$path")"
    assert_equal "$code" 200
    run curl -s --path-as-is "$WALRUS_URL/raw-keys/$path"
    assert_output "raw $path"
  done
  # The stored keys are the decoded bytes, nothing normalized away.
  run aws_admin s3api list-objects-v2 --bucket raw-keys --query 'Contents[].Key' --output text
  assert_output --partial "../../$mark-a"
  assert_output --partial "../../../$mark-b"
  assert_output --partial "a/../../../$mark-e"
  assert_equal "$(sqlite3 "$WALRUS_HOME/walrus/walrus.db" \
    "SELECT count(*) FROM objects WHERE bucket = 'raw-keys' AND instr(key, x'00') > 0")" 1
  # A path that leaves the bucket is still a key of this bucket, never another bucket's.
  run curl -s --path-as-is "$WALRUS_URL/raw-keys/../other-bucket/x"
  assert_output --partial '<Code>NoSuchKey</Code>'
  assert_equal "$(around_home)" "$before"
  assert_data_folder_shapes
  run find /tmp "$HOME" "$REPO_ROOT" "$(dirname "$BATS_RUN_TMPDIR")" -maxdepth 3 -name "*$mark*"
  assert_output ''
}
