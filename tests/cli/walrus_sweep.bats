#!/usr/bin/env bats
# Every operation of botocore's S3 model against euca serve walrus (tests/walrus/s3_model_sweep.py):
# the operations Walrus serves work and change only what they should; every other one, every
# S3 subresource Walrus does not serve and every header asking for what it does not do is
# refused and changes nothing (a DELETE ?tagging once deleted the object).

load helpers
load walrus_helpers

# The sweeps work on the same buckets of one server: one at a time. The server also takes
# virtual-host-style requests for BUCKET.s3.sweep.test (the sweep sends them to its address
# with that Host; nothing needs to resolve).
setup_file() {
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  export WALRUS_DOMAIN=s3.sweep.test
  walrus_setup_file
}
teardown_file() { walrus_teardown_file; }
setup() { walrus_setup; }

@test "botocore's S3 model, path style: served operations work, the rest are refused and change nothing" {
  need_boto3
  run /usr/bin/python3 "$REPO_ROOT/tests/walrus/s3_model_sweep.py" --endpoint "$WALRUS_URL" \
    --eucarc "$WALRUS_HOME/eucarc" --extras --md sweep.md
  [[ "$status" -eq 0 ]] || { grep BUG sweep.md; false; }
  # The sweep really ran the model: Debian's botocore has some 95 S3 operations.
  local ops
  ops="$(sed -n 's/^\([0-9]*\) operations, .*: 0 BUG rows$/\1/p' <<<"$output")"
  [[ "$ops" -ge 90 ]]
  grep -q '| PutObjectTagging | `PUT /sweep-b/obj?tagging` | 501 NotImplemented | OK refused |' sweep.md
  # Configurations Walrus keeps none of: read as none, deleted at once, the object untouched.
  grep -q '| GetBucketTagging | `GET /sweep-b?tagging` | 404 NoSuchTagSet | OK none configured |' sweep.md
  grep -q '| DeleteObjectTagging | `DELETE /sweep-b/obj?tagging` | 204 | OK implemented |' sweep.md
}

@test "botocore's S3 model under the Eucalyptus prefix /services/objectstorage" {
  need_boto3
  run /usr/bin/python3 "$REPO_ROOT/tests/walrus/s3_model_sweep.py" --endpoint "$WALRUS_URL" \
    --prefix /services/objectstorage --eucarc "$WALRUS_HOME/eucarc" --md sweep.md
  [[ "$status" -eq 0 ]] || { grep BUG sweep.md; false; }
  assert_output --partial ": 0 BUG rows"
}

@test "botocore's S3 model, virtual-host style (BUCKET.DOMAIN): the same answers" {
  need_boto3
  run /usr/bin/python3 "$REPO_ROOT/tests/walrus/s3_model_sweep.py" --endpoint "$WALRUS_URL" \
    --vhost-domain "$WALRUS_DOMAIN" --eucarc "$WALRUS_HOME/eucarc" --extras --md sweep.md
  [[ "$status" -eq 0 ]] || { grep BUG sweep.md; false; }
  grep -q "^.*(virtual-host ($WALRUS_DOMAIN))" sweep.md
  assert_output --partial ": 0 BUG rows"
  # The requests really named the bucket in the host, not the path.
  grep -q '| PutObjectTagging | `PUT /obj?tagging (Host: sweep-b.s3.sweep.test:[0-9]*)` | 501 NotImplemented | OK refused |' sweep.md
  grep -q '| DeleteObjectTagging | `DELETE /obj?tagging (Host: sweep-b.s3.sweep.test:[0-9]*)` | 204 | OK implemented |' sweep.md
}
