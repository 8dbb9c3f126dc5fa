#!/usr/bin/env bats
# Walrus durability on the real server: kill -9 during streaming PUTs, restart on the same
# home, and check that no partial object is listed or readable and that the leftovers are
# reaped (docs/walrus-format.md, "The write path and its crash rules").

load helpers
load walrus_helpers

setup_file() {
  # The tests kill and restart the file's one server and count its temporary files: one at a time.
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  walrus_setup_file
}
teardown_file() { walrus_teardown_file; }
setup() { walrus_setup; }

DATA() { echo "$WALRUS_HOME/walrus"; }

# The ids of the blob files the metadata references, sorted (small blobs, "ID:SIZE:db", live
# in the database instead: docs/walrus-format.md).
referenced_blobs() {
  sqlite3 "$(DATA)/walrus.db" "SELECT blobs FROM objects; SELECT blob FROM parts;" |
    tr ' ' '\n' | grep -v ':db$' | sed 's/:.*//' | grep -v '^$' | sort
}

# The ids of the in-database blobs the metadata references, and those stored, sorted.
referenced_db_blobs() {
  sqlite3 "$(DATA)/walrus.db" "SELECT blobs FROM objects" | tr ' ' '\n' | grep ':db$' | sed 's/:.*//' | sort
}
stored_db_blobs() { sqlite3 "$(DATA)/walrus.db" "SELECT id FROM inline_blobs" | sort; }

# The blob files on disk, sorted.
blob_files() {
  find "$(DATA)/blobs" -type f -printf '%f\n' | sort
}

@test "kill -9 during streaming PUTs: no partial object after restart, temporary files reaped" {
  need_aws
  need_boto3
  aws_admin s3 mb s3://durable
  echo "version one" >v1.txt
  aws_admin s3 cp v1.txt s3://durable/existing
  head -c $((48 * 1024 * 1024)) /dev/urandom >big.bin
  # Two slow uploads (presigned PUTs, 1 MB/s): one replaces a key, one creates a new key.
  local url_existing url_new
  url_existing="$(presign PUT durable existing)"
  url_new="$(presign PUT durable brand-new)"
  curl -s --limit-rate 1M -T big.bin "$url_existing" >/dev/null 2>&1 3>&- &
  local c1=$!
  curl -s --limit-rate 1M -T big.bin "$url_new" >/dev/null 2>&1 3>&- &
  local c2=$!
  # Wait until both are streaming into tmp/.
  local i n=0
  for i in $(seq 100); do
    n="$(find "$(DATA)/tmp" -name '*.tmp' -size +100k | wc -l)"
    [[ "$n" -ge 2 ]] && break
    sleep 0.1
  done
  assert_equal "$n" 2
  stop_walrus KILL
  wait "$c1" "$c2" || true
  # The server is gone without a word in its log.
  # The crash left the unfinished writes behind.
  run find "$(DATA)/tmp" -name '*.tmp'
  assert_equal "${#lines[@]}" 2

  start_walrus "$WALRUS_HOSTPORT"
  # Reaped at the restart (the server is the directory's only opener).
  run find "$(DATA)/tmp" -name '*.tmp'
  assert_output ''
  assert_equal "$(blob_files)" "$(referenced_blobs)"
  assert_equal "$(stored_db_blobs)" "$(referenced_db_blobs)"
  assert_equal "$(stored_db_blobs | wc -l)" 1  # the 12-byte "existing"
  # Neither upload is visible: the old version is whole, the new key does not exist.
  run aws_admin s3api list-objects-v2 --bucket durable --query 'Contents[].[Key,Size]' --output text
  assert_success
  assert_output "$(printf 'existing\t12')"
  run aws_admin s3 cp s3://durable/existing -
  assert_output 'version one'
  run aws_admin s3api head-object --bucket durable --key brand-new
  assert_failure
  assert_output --partial '404'
  # And the store works on: the same upload at full speed commits.
  run curl -sf -T big.bin "$url_new"
  assert_success
  run aws_admin s3api head-object --bucket durable --key brand-new --query ETag --output text
  assert_output "\"$(md5sum <big.bin | cut -c1-32)\""
}

@test "an upload whose client goes away is not committed, and its temporary file goes at once" {
  need_boto3
  aws_admin s3 mb s3://cut-short
  head -c $((8 * 1024 * 1024)) /dev/urandom >big.bin
  local url
  url="$(presign PUT cut-short cut)"
  # The client gives up after 2 s at 1 MB/s: the body is incomplete.
  run curl -s --max-time 2 --limit-rate 1M -T big.bin "$url"
  assert_failure
  local i
  for i in $(seq 50); do
    [[ -z "$(find "$(DATA)/tmp" -name '*.tmp')" ]] && break
    sleep 0.1
  done
  run find "$(DATA)/tmp" -name '*.tmp'
  assert_output ''
  run aws_admin s3api head-object --bucket cut-short --key cut
  assert_failure
  assert_output --partial '404'
}
