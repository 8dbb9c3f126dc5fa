#!/usr/bin/env bats
# Walrus under concurrent writers and readers of one key, on the real server: no write
# locking, the last completed PUT wins, and every GET returns one whole version.

load helpers
load walrus_helpers

setup_file() { walrus_setup_file; }
teardown_file() { walrus_teardown_file; }
setup() { walrus_setup; }

@test "concurrent PUTs of one key while readers GET: every GET is one whole version" {
  need_aws
  need_boto3
  aws_admin s3 mb s3://hot
  local n
  for n in 0 1 2 3 4; do head -c $((3 * 1024 * 1024 + n)) /dev/urandom >"w$n.bin"; done
  md5sum w*.bin | cut -c1-32 | sort >written.md5
  aws_admin s3 cp w0.bin s3://hot/key
  local put_url get_url
  put_url="$(presign PUT hot key)"
  get_url="$(presign GET hot key)"
  local pids=()
  # Four writers, each PUTting its own content six times; three readers GETting 20 times.
  for n in 1 2 3 4; do
    (for _ in 1 2 3 4 5 6; do curl -sSf -T "w$n.bin" "$put_url" >/dev/null || echo "put w$n failed"; done \
      >"writer$n.log" 2>&1) 3>&- &
    pids+=($!)
  done
  for n in 1 2 3; do
    (for _ in $(seq 20); do
      if curl -sSf "$get_url" -o "read$n.tmp"; then md5sum <"read$n.tmp" | cut -c1-32; else echo "get failed"; fi
    done >"reader$n.log" 2>&1) 3>&- &
    pids+=($!)
  done
  wait "${pids[@]}"
  cat writer*.log reader*.log >all.log
  run grep -v '^[0-9a-f]\{32\}$' all.log
  assert_output ''  # no failed request
  # Every read is one of the written versions (never a mix).
  run bash -c "sort -u reader*.log | comm -23 - written.md5"
  assert_output ''
  assert_equal "$(cat reader*.log | wc -l)" 60
  # The final object is one of the writers' versions, and its ETag is its MD5.
  aws_admin s3 cp s3://hot/key final.bin
  local final etag
  final="$(md5sum <final.bin | cut -c1-32)"
  run grep -c "^$final\$" <(md5sum w1.bin w2.bin w3.bin w4.bin | cut -c1-32)
  assert_output 1
  etag="$(aws_admin s3api head-object --bucket hot --key key --query ETag --output text)"
  assert_equal "$etag" "\"$final\""
  # No locking errors, and one object left with only its own blob.
  run grep -i -E 'lock|busy' "$WALRUS_LOG"
  assert_output ''
  assert_equal "$(sqlite3 "$WALRUS_HOME/walrus/walrus.db" "SELECT count(*) FROM objects WHERE bucket = 'hot'")" 1
  local blobs
  blobs="$(find "$WALRUS_HOME/walrus/blobs" -type f | wc -l)"
  assert_equal "$blobs" "$(sqlite3 "$WALRUS_HOME/walrus/walrus.db" "SELECT count(*) FROM objects")"
}
